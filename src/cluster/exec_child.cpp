#include "cluster/exec_child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include <fmt/format.h>

#include "cluster/child_process.h"

extern char** environ;

namespace corral::cluster {
namespace {

constexpr int kExecFailedStatus = 127; // what shells return for "command not found"

// The pointer arrays execve wants, and the parent to check after PR_SET_PDEATHSIG.
struct ExecPlan {
  const ExecSpec& spec;
  std::vector<char*> argv;
  std::vector<char*> envp;
  pid_t parent = getpid();
};

std::vector<char*> pointers(const std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (const std::string& s : strings) {
    result.push_back(const_cast<char*>(s.c_str()));
  }
  result.push_back(nullptr);
  return result;
}

std::map<std::string, std::string> mergedEnvironment(const std::map<std::string, std::string>& add) {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const size_t equals = text.find('=');
    if (equals != std::string_view::npos) {
      env.emplace(text.substr(0, equals), text.substr(equals + 1));
    }
  }
  for (const auto& [name, value] : add) {
    env[name] = value;
  }
  return env;
}

bool isExecutableFile(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) && access(path.c_str(), X_OK) == 0;
}

// execvp's PATH search, done in the parent (execvp may allocate, which the child must not).
std::string resolveProgram(const std::string& name, const std::map<std::string, std::string>& env) {
  if (name.find('/') != std::string::npos) {
    return name; // relative to the child's cwd, as execve resolves it after chdir
  }
  auto path = env.find("PATH");
  // Both arms are string_views: a std::string/literal mix would make a temporary the view outlives.
  const std::string_view dirs =
      path != env.end() ? std::string_view{path->second} : std::string_view{"/usr/local/bin:/usr/bin:/bin"};
  size_t begin = 0;
  while (begin <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', begin), dirs.size());
    const std::string_view dir = dirs.substr(begin, end - begin);
    std::string candidate = fmt::format("{}/{}", dir.empty() ? "." : dir, name);
    if (isExecutableFile(candidate)) {
      return candidate;
    }
    begin = end + 1;
  }
  return {};
}

// The rest runs in the forked child and uses async-signal-safe calls only.
[[noreturn]] void failInChild(int exec_status_fd) {
  const int error = errno;
  [[maybe_unused]] ssize_t written = write(exec_status_fd, &error, sizeof(error));
  _exit(kExecFailedStatus);
}

bool moveTo(int fd, int target) {
  if (fd == target) {
    return fcntl(fd, F_SETFD, 0) == 0; // dup2 onto itself would keep FD_CLOEXEC
  }
  return dup2(fd, target) == target;
}

// corral ignores SIGPIPE and may block signals on the control thread; both survive exec, and an
// application would not expect either.
void resetSignals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) {
      sigaction(sig, &default_action, nullptr);
    }
  }
}

[[noreturn]] void runChild(const ExecPlan& plan, const ForkedChild& fds) {
  resetSignals();
  setpgid(0, 0); // its own group: stop() signals the instance and everything it started
  // Dies with its parent even when that is SIGKILLed. If the parent died before prctl ran, the
  // child was already reparented and would never get the signal: check and leave.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != plan.parent) {
    _exit(kExecFailedStatus);
  }
  const int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0 || !moveTo(null_fd, 0) || !moveTo(fds.out, 1) || !moveTo(fds.err, 2)) {
    failInChild(fds.exec_status);
  }
  // Sockets and files opened without O_CLOEXEC must not leak into the instance (a listener
  // inherited by a child would keep its port open after corral exits).
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  if (!plan.spec.cwd.empty() && chdir(plan.spec.cwd.c_str()) != 0) {
    failInChild(fds.exec_status);
  }
  execve(plan.spec.program.c_str(), plan.argv.data(), plan.envp.data());
  failInChild(fds.exec_status);
}

} // namespace

void closeFd(int& fd) {
  if (fd >= 0) {
    close(fd);
    fd = -1;
  }
}

ExecSpec makeExecSpec(const std::vector<std::string>& command, const std::string& cwd,
                      const std::map<std::string, std::string>& env) {
  const auto merged = mergedEnvironment(env);
  ExecSpec spec{.program = resolveProgram(command.front(), merged), .cwd = cwd, .argv = command};
  for (const auto& [name, value] : merged) {
    spec.envp.push_back(fmt::format("{}={}", name, value));
  }
  return spec;
}

Result<ForkedChild> forkExec(const ExecSpec& spec, const std::string& name) {
  const ExecPlan plan{.spec = spec, .argv = pointers(spec.argv), .envp = pointers(spec.envp)};
  std::array<int, 2> out{-1, -1}, err{-1, -1}, status{-1, -1};
  if (pipe2(out.data(), O_CLOEXEC) != 0 || pipe2(err.data(), O_CLOEXEC) != 0 ||
      pipe2(status.data(), O_CLOEXEC) != 0) {
    const int error = errno;
    for (int fd : {out[0], out[1], err[0], err[1], status[0], status[1]}) {
      closeFd(fd);
    }
    return fail(ErrorCode::Io, fmt::format("{}: pipe: {}", name, errorText(error)));
  }
  const pid_t pid = fork();
  if (pid == 0) {
    runChild(plan, ForkedChild{.out = out[1], .err = err[1], .exec_status = status[1]});
  }
  const int fork_error = errno;
  for (int fd : {out[1], err[1], status[1]}) {
    closeFd(fd);
  }
  if (pid < 0) {
    for (int fd : {out[0], err[0], status[0]}) {
      closeFd(fd);
    }
    return fail(ErrorCode::Io, fmt::format("{}: fork: {}", name, errorText(fork_error)));
  }
  setpgid(pid, pid); // also here, so that a signal sent right away reaches the whole group
  return ForkedChild{.pid = pid, .out = out[0], .err = err[0], .exec_status = status[0]};
}

} // namespace corral::cluster

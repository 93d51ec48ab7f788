#include "cluster/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "corral/core/log.h"

extern char** environ;

namespace corral::cluster {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
constexpr int kReadsPerWakeup = 8;         // then let other events run; the rest comes next turn
constexpr size_t kDrainLimit = 1024 * 1024; // read at most this much more after the exit
constexpr int kExecFailedStatus = 127;      // what shells return for "command not found"

// Everything the child needs, built before fork: after fork a multithreaded program may only
// make async-signal-safe calls, so no allocation happens in the child.
struct ExecPlan {
  std::string program; // resolved path; empty when not found in PATH (execve fails with ENOENT)
  std::string cwd;
  std::vector<std::string> strings;
  std::vector<char*> argv;
  std::vector<char*> envp;
  pid_t parent = getpid();
};

struct ChildFds {
  int out = -1;
  int err = -1;
  int exec_status = -1;
};

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

ExecPlan makePlan(const SpawnRequest& request) {
  const auto env = mergedEnvironment(request.env);
  ExecPlan plan{.program = resolveProgram(request.command.front(), env), .cwd = request.cwd};
  plan.strings = request.command;
  const size_t argc = plan.strings.size();
  for (const auto& [name, value] : env) {
    plan.strings.push_back(fmt::format("{}={}", name, value));
  }
  for (size_t i = 0; i < plan.strings.size(); ++i) {
    (i < argc ? plan.argv : plan.envp).push_back(plan.strings[i].data());
  }
  plan.argv.push_back(nullptr);
  plan.envp.push_back(nullptr);
  return plan;
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

[[noreturn]] void runChild(const ExecPlan& plan, const ChildFds& fds) {
  resetSignals();
  setpgid(0, 0); // its own group: stop() signals the instance and everything it started
  // Dies with corral even when corral is SIGKILLed. If corral died before prctl ran, the child
  // was already reparented and would never get the signal: check and leave.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != plan.parent) {
    _exit(kExecFailedStatus);
  }
  const int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0 || !moveTo(null_fd, 0) || !moveTo(fds.out, 1) || !moveTo(fds.err, 2)) {
    failInChild(fds.exec_status);
  }
  // Sockets and files corral opened without O_CLOEXEC must not leak into the instance (a
  // listener inherited by a child would keep its port open after corral exits).
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  if (!plan.cwd.empty() && chdir(plan.cwd.c_str()) != 0) {
    failInChild(fds.exec_status);
  }
  execve(plan.program.c_str(), plan.argv.data(), plan.envp.data());
  failInChild(fds.exec_status);
}

void closeFd(int& fd) {
  if (fd >= 0) {
    close(fd);
    fd = -1;
  }
}

} // namespace

std::string errorText(int error) { return std::error_code(error, std::generic_category()).message(); }

/// One output pipe: its read end, the event that reads it, and the line splitter.
struct ChildProcess::Pipe {
  Pipe(ChildProcess* owner, Stream stream, int fd, size_t max_line_length)
      : owner(owner), stream(stream), fd(fd), splitter(max_line_length) {}
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  ChildProcess* owner;
  Stream stream;
  int fd;
  LineSplitter splitter;
  event* readable = nullptr;

  ~Pipe() { close(); }
  void close() {
    if (readable != nullptr) {
      event_free(readable);
      readable = nullptr;
    }
    closeFd(fd);
  }
  /// Reads up to `limit` bytes; false at end of file or on error (the pipe is then closed).
  bool read(size_t limit);
  static void onReadable(evutil_socket_t, short, void* arg) noexcept {
    static_cast<Pipe*>(arg)->read(kReadChunk * kReadsPerWakeup);
  }
};

bool ChildProcess::Pipe::read(size_t limit) {
  std::array<char, kReadChunk> buffer;
  auto on_line = [this](std::string_view line) {
    if (owner->events_.on_line) {
      owner->events_.on_line(*owner, stream, line);
    }
  };
  for (size_t total = 0; fd >= 0 && total < limit;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n > 0) {
      splitter.feed(std::string_view(buffer.data(), static_cast<size_t>(n)), on_line);
      total += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      return true;
    } else {
      splitter.flush(on_line);
      close();
      return false;
    }
  }
  return fd >= 0;
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(event_base* base, ChildReaper& reaper,
                                                          const SpawnRequest& request,
                                                          ChildEvents events) {
  assert(!request.command.empty());
  const ExecPlan plan = makePlan(request);
  std::array<int, 2> out{-1, -1}, err{-1, -1}, status{-1, -1};
  if (pipe2(out.data(), O_CLOEXEC) != 0 || pipe2(err.data(), O_CLOEXEC) != 0 ||
      pipe2(status.data(), O_CLOEXEC) != 0) {
    const int error = errno;
    for (int fd : {out[0], out[1], err[0], err[1], status[0], status[1]}) {
      closeFd(fd);
    }
    return fail(ErrorCode::Io, fmt::format("{}: pipe: {}", request.name, errorText(error)));
  }
  const pid_t pid = fork();
  if (pid == 0) {
    runChild(plan, ChildFds{.out = out[1], .err = err[1], .exec_status = status[1]});
  }
  const int fork_error = errno;
  for (int fd : {out[1], err[1], status[1]}) {
    closeFd(fd);
  }
  if (pid < 0) {
    for (int fd : {out[0], err[0], status[0]}) {
      closeFd(fd);
    }
    return fail(ErrorCode::Io, fmt::format("{}: fork: {}", request.name, errorText(fork_error)));
  }
  setpgid(pid, pid); // also here, so that a signal sent right away reaches the whole group
  std::unique_ptr<ChildProcess> child(
      new ChildProcess(base, reaper, pid, request.name, std::move(events)));
  child->watchPipe(out[0], Stream::Out, request.max_line_length);
  child->watchPipe(err[0], Stream::Err, request.max_line_length);
  child->watchExecStatus(status[0]);
  return child;
}

ChildProcess::ChildProcess(event_base* base, ChildReaper& reaper, pid_t pid, std::string name,
                           ChildEvents events)
    : base_(base), reaper_(reaper), pid_(pid), name_(std::move(name)), events_(std::move(events)),
      kill_timer_(base, [this] {
        log::cluster()->warn("{} [{}] did not exit within its stop timeout; sending SIGKILL", name_,
                             pid_);
        killGroup(pid_, SIGKILL);
      }) {
  reaper_.watch(pid_, [this](int wait_status) { onReaped(wait_status); });
}

ChildProcess::~ChildProcess() {
  if (!exited_) {
    reaper_.unwatch(pid_);
    killGroup(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0); // SIGKILL cannot be caught: this returns promptly
  }
  if (exec_status_event_ != nullptr) {
    event_free(exec_status_event_);
  }
  closeFd(exec_status_fd_);
}

void ChildProcess::watchPipe(int fd, Stream stream, size_t max_line_length) {
  fcntl(fd, F_SETFL, O_NONBLOCK);
  auto pipe = std::make_unique<Pipe>(this, stream, fd, max_line_length);
  pipe->readable = event_new(base_, fd, EV_READ | EV_PERSIST, &Pipe::onReadable, pipe.get());
  event_add(pipe->readable, nullptr);
  pipes_.push_back(std::move(pipe));
}

// The exec status pipe is close-on-exec: end of file without data means exec succeeded; an int
// means it failed with that errno. Reading it on the loop keeps fork+exec from blocking it.
void ChildProcess::watchExecStatus(int fd) {
  fcntl(fd, F_SETFL, O_NONBLOCK);
  exec_status_fd_ = fd;
  exec_status_event_ = event_new(base_, fd, EV_READ, &ChildProcess::onExecStatus, this);
  event_add(exec_status_event_, nullptr);
}

void ChildProcess::onExecStatus(evutil_socket_t, short, void* arg) noexcept {
  auto* child = static_cast<ChildProcess*>(arg);
  child->readExecStatus();
  if (child->exec_error_ == 0 && child->events_.on_exec) {
    child->events_.on_exec(*child);
  }
}

void ChildProcess::readExecStatus() {
  if (exec_status_fd_ < 0) {
    return;
  }
  int error = 0;
  if (::read(exec_status_fd_, &error, sizeof(error)) == sizeof(error)) {
    exec_error_ = error;
  }
  event_free(exec_status_event_);
  exec_status_event_ = nullptr;
  closeFd(exec_status_fd_);
}

void ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (exited_ || terminating_) {
    return;
  }
  terminating_ = true;
  killGroup(pid_, SIGTERM);
  kill_timer_.start(grace);
}

void ChildProcess::drainOutput() {
  for (auto& pipe : pipes_) {
    pipe->read(kDrainLimit);
    pipe->splitter.flush([this, &pipe](std::string_view line) {
      if (events_.on_line) {
        events_.on_line(*this, pipe->stream, line);
      }
    });
    pipe->close();
  }
}

void ChildProcess::onReaped(int wait_status) {
  exited_ = true;
  kill_timer_.cancel();
  const bool exec_pending = exec_status_fd_ >= 0;
  readExecStatus();
  if (exec_pending && exec_error_ == 0 && events_.on_exec) {
    events_.on_exec(*this); // it ran, if only briefly: report it in order
  }
  drainOutput();
  ExitStatus exit;
  if (exec_error_ != 0) {
    exit.exec_error = exec_error_;
  } else if (WIFSIGNALED(wait_status)) {
    exit.signal = WTERMSIG(wait_status);
  } else {
    exit.code = WEXITSTATUS(wait_status);
  }
  auto on_exit = std::move(events_.on_exit); // the callee may destroy this object
  if (on_exit) {
    on_exit(*this, exit);
  }
}

} // namespace corral::cluster

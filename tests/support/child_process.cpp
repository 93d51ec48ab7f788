#include "tests/support/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/support/files.h"
#include "tests/support/wait.h"

extern char** environ;

namespace corral::test {
namespace {

// args[0] as execve needs it: a name without '/' is looked up in $PATH here, before the fork,
// because the child may call only async-signal-safe functions.
std::string resolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    return program;
  }
  const char* path = std::getenv("PATH");
  std::istringstream folders(path ? path : "/usr/bin:/bin");
  for (std::string folder; std::getline(folders, folder, ':');) {
    const auto candidate = std::filesystem::path(folder.empty() ? "." : folder) / program;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
  }
  return program; // execve fails, and the child says so on its stderr
}

// This process's environment with `extra` set on top, as "NAME=value" strings.
std::vector<std::string> environmentWith(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> entries;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (!extra.contains(std::string(text.substr(0, text.find('='))))) {
      entries.emplace_back(text);
    }
  }
  for (const auto& [name, value] : extra) {
    entries.push_back(name + "=" + value);
  }
  return entries;
}

std::vector<char*> pointersTo(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (auto& text : strings) {
    pointers.push_back(text.data());
  }
  pointers.push_back(nullptr);
  return pointers;
}

// Only async-signal-safe calls from fork to exec: the test process has other threads (fake
// backends, client load) whose locks may be held at the fork.
[[noreturn]] void execChild(pid_t parent, char* const* argv, char* const* envp, const char* in,
                            const char* out, const char* err,
                            const std::vector<std::pair<int, int>>& descriptors) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL); // the signal follows the forking thread: the test's
  if (::getppid() != parent) {        // the test binary died before prctl
    ::_exit(127);
  }
  ::dup2(::open(in, O_RDONLY), 0);
  ::dup2(::open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), 1);
  ::dup2(err[0] == '\0' ? 1 : ::open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
  for (const auto& [from, to] : descriptors) {
    // dup2 onto itself keeps FD_CLOEXEC: clear it so that the descriptor survives exec.
    from == to ? ::fcntl(to, F_SETFD, 0) : ::dup2(from, to);
  }
  ::execve(argv[0], argv, envp);
  constexpr char kMessage[] = "exec failed: ";
  [[maybe_unused]] auto written = ::write(2, kMessage, sizeof(kMessage) - 1);
  written = ::write(2, argv[0], std::strlen(argv[0]));
  written = ::write(2, "\n", 1);
  ::_exit(127);
}

ExitStatus decode(int status) {
  if (WIFEXITED(status)) {
    return ExitStatus::exited(WEXITSTATUS(status));
  }
  return {.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0};
}

} // namespace

std::ostream& operator<<(std::ostream& out, const ExitStatus& status) {
  if (status.signal != 0) {
    return out << "killed by signal " << status.signal;
  }
  return out << "exit " << status.code;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = fmt::format("{}/corral-test-XXXXXX", base ? base : "/tmp");
  if (::mkdtemp(pattern.data()) == nullptr) {
    throwSystemError("mkdtemp");
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "kept %s for inspection\n", path_.c_str());
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

ChildProcess::ChildProcess(const std::vector<std::string>& args, const ChildOptions& options) {
  std::vector<std::string> arguments = args;
  arguments.at(0) = resolveProgram(arguments[0]);
  std::vector<std::string> environment = environmentWith(options.environment);
  const auto argv = pointersTo(arguments);
  const auto envp = pointersTo(environment);
  const std::string in = options.stdin_path.string(), out = options.stdout_path.string(),
                    err = options.stderr_path.string();
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    throwSystemError("fork");
  }
  if (pid_ == 0) {
    execChild(parent, argv.data(), envp.data(), in.c_str(), out.c_str(), err.c_str(),
              options.descriptors);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    stop();
  }
}

void ChildProcess::sendSignal(int signal) {
  if (pid_ > 0 && !reap(false)) {
    ::kill(pid_, signal);
  }
}

std::optional<ExitStatus> ChildProcess::waitExit(std::chrono::milliseconds timeout) {
  pollUntil([&] { return reap(false); }, timeout, 2ms);
  return status_;
}

std::optional<ExitStatus> ChildProcess::stop(std::chrono::milliseconds grace) {
  sendSignal(SIGTERM);
  if (waitExit(grace)) {
    return status_;
  }
  ::kill(pid_, SIGKILL);
  reap(true);
  return std::nullopt;
}

bool ChildProcess::reap(bool block) {
  if (status_) {
    return true;
  }
  int status = 0;
  if (::waitpid(pid_, &status, block ? 0 : WNOHANG) != pid_) {
    return false;
  }
  status_ = decode(status);
  return true;
}

CommandResult runCommand(const std::vector<std::string>& args, const CommandOptions& options) {
  const TempDir dir;
  const auto in = dir.path() / "stdin", out = dir.path() / "stdout", err = dir.path() / "stderr";
  std::ofstream(in, std::ios::binary) << options.input;
  CommandResult result;
  {
    ChildProcess command(args, {.stdin_path = in,
                                .stdout_path = out,
                                .stderr_path = options.merge_output ? "" : err,
                                .environment = options.environment});
    if (const auto status = command.waitExit(options.timeout)) {
      result.exit_code = status->signal == 0 ? status->code : -1;
    } else {
      ADD_FAILURE() << args[0] << " did not finish within " << options.timeout.count() << " ms";
      command.sendSignal(SIGKILL);
    }
  }
  result.out = readFile(out);
  result.err = options.merge_output ? "" : readFile(err);
  return result;
}

} // namespace corral::test

#include "spawned_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/wait.h"

namespace corral::test {

// Between fork and exec the child calls only async-signal-safe functions: the test process has
// other threads (fake backends) whose locks may be held at the fork.
SpawnedProcess::SpawnedProcess(const std::vector<std::string>& args,
                               const std::filesystem::path& stdout_path,
                               const std::filesystem::path& stderr_path) {
  std::vector<char*> argv;
  for (const auto& arg : args) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  const std::string out = stdout_path.string(), err = stderr_path.string();
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    throwSystemError("fork");
  }
  if (pid_ == 0) {
    // A crashed or timed-out test binary must not leave its helpers running.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    const int null = ::open("/dev/null", O_RDONLY);
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(null, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::execv(argv[0], argv.data());
    constexpr char kMessage[] = "exec failed\n";
    [[maybe_unused]] auto written = ::write(2, kMessage, sizeof(kMessage) - 1);
    ::_exit(127);
  }
}

SpawnedProcess::~SpawnedProcess() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
}

void SpawnedProcess::sendSignal(int signal) {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, signal);
  }
}

bool SpawnedProcess::running() { return !reap(false); }

std::optional<int> SpawnedProcess::waitExit(std::chrono::milliseconds timeout) {
  pollUntil([&] { return reap(false); }, timeout);
  return exit_code_;
}

bool SpawnedProcess::reap(bool block) {
  if (exit_code_) {
    return true;
  }
  int status = 0;
  if (::waitpid(pid_, &status, block ? 0 : WNOHANG) != pid_) {
    return false;
  }
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

} // namespace corral::test

#include "command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/support/corral_process.h"
#include "tests/support/wait.h"
#include "tests/support/files.h"

namespace corral::test {
namespace {

// Between fork and exec only async-signal-safe calls: the test process has other threads.
pid_t startChild(const std::vector<std::string>& args, const std::string& out,
                 const std::string& err) {
  std::vector<char*> argv;
  for (const auto& arg : args) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    throwSystemError("fork");
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL); // never outlive a test binary that crashed
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 1);
    ::dup2(::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

} // namespace

CommandResult runCommand(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  const TempDir dir;
  const auto out = dir.path() / "stdout", err = dir.path() / "stderr";
  const pid_t pid = startChild(args, out.string(), err.string());
  int status = 0;
  if (!pollUntil([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout)) {
    ADD_FAILURE() << args[0] << " did not finish within " << timeout.count() << " ms";
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  return {.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1,
          .out = readFile(out),
          .err = readFile(err)};
}

CommandResult runCtl(const std::string& admin, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {corralBinary(), "ctl", "--admin", admin};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv);
}

} // namespace corral::test

#include "tests/integration/tls/run_command.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/wait.h"

namespace corral::test {
namespace {

[[noreturn]] void execChild(const std::vector<std::string>& argv, int in_fd, int out_fd) {
  dup2(in_fd, STDIN_FILENO);
  dup2(out_fd, STDOUT_FILENO);
  dup2(out_fd, STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  execvp(args[0], args.data());
  _exit(127);
}

// Reads the child's output until it closes it or the deadline passes; false on the deadline.
bool readUntilClosed(int fd, Clock::time_point deadline, std::string& output) {
  char buffer[4096];
  for (;;) {
    pollfd readable{.fd = fd, .events = POLLIN};
    if (poll(&readable, 1, millisecondsUntil(deadline)) <= 0) {
      return false;
    }
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) {
      return true;
    }
    output.append(buffer, static_cast<size_t>(n));
  }
}

} // namespace

CommandResult runCommand(const std::vector<std::string>& argv, const std::string& input,
                         std::chrono::milliseconds timeout) {
  int in_pipe[2], out_pipe[2];
  if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) {
    throwSystemError("pipe");
  }
  const pid_t pid = fork();
  if (pid < 0) {
    throwSystemError("fork");
  }
  if (pid == 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    execChild(argv, in_pipe[0], out_pipe[1]);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  // Inputs are a few bytes: they fit the pipe buffer, so this write cannot block.
  [[maybe_unused]] const ssize_t written = write(in_pipe[1], input.data(), input.size());
  close(in_pipe[1]);
  CommandResult result;
  const bool closed = readUntilClosed(out_pipe[0], Clock::now() + timeout, result.output);
  close(out_pipe[0]);
  if (!closed) {
    kill(pid, SIGKILL);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = closed && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

} // namespace corral::test

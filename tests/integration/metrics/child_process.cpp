#include "tests/integration/metrics/child_process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/support/corral_process.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

// Between fork and exec the child calls only async-signal-safe functions: the test process has
// other threads (fake backends, the metrics exposer).
ChildProcess::ChildProcess(const std::vector<std::string>& args, const std::filesystem::path& input,
                           const std::filesystem::path& output) {
  std::vector<char*> argv;
  for (const auto& arg : args) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  const std::string in = input.string(), out = output.string();
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    throwSystemError("fork");
  }
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL); // never outlive a crashed or timed-out test
    if (::getppid() != parent) {
      ::_exit(127);
    }
    const int in_fd = ::open(in.c_str(), O_RDONLY);
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(out_fd, 2);
    ::execv(argv[0], argv.data());
    constexpr char kMessage[] = "exec failed\n";
    [[maybe_unused]] auto written = ::write(2, kMessage, sizeof(kMessage) - 1);
    ::_exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0 || exit_code_) {
    return;
  }
  ::kill(pid_, SIGTERM);
  if (!waitExit(10s)) {
    ::kill(pid_, SIGKILL);
    waitExit(10s);
  }
}

std::optional<int> ChildProcess::waitExit(std::chrono::milliseconds timeout) {
  pollUntil(
      [&] {
        int status = 0;
        if (!exit_code_ && ::waitpid(pid_, &status, WNOHANG) == pid_) {
          exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        return exit_code_.has_value();
      },
      timeout, 10ms);
  return exit_code_;
}

ToolResult runTool(const std::vector<std::string>& args, std::string_view input,
                   std::chrono::milliseconds timeout) {
  const TempDir dir;
  const auto input_path = dir.path() / "stdin";
  const auto output_path = dir.path() / "output";
  std::ofstream(input_path, std::ios::binary) << input;
  ToolResult result;
  {
    ChildProcess tool(args, input_path, output_path);
    result.exit_code = tool.waitExit(timeout).value_or(-1);
  }
  result.output = readFile(output_path);
  return result;
}

uint16_t freeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  socklen_t length = sizeof(address);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throwSystemError("bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

} // namespace corral::test

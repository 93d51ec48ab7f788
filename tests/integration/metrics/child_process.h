#pragma once
// The tools that check corral's metrics (promtool, prometheus) as child processes: output goes
// to a file, every wait has a deadline, and the destructor ends the child by its PID.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corral::test {

using namespace std::chrono_literals;

class ChildProcess {
public:
  /// Starts args[0] (a path) with stdin from `input` and stdout and stderr both into `output`.
  ChildProcess(const std::vector<std::string>& args, const std::filesystem::path& input,
               const std::filesystem::path& output);
  /// SIGTERM, up to 10 s to exit, then SIGKILL.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  /// The exit code (128 + N when killed by signal N), or nullopt if still running at the deadline.
  std::optional<int> waitExit(std::chrono::milliseconds timeout);

private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

struct ToolResult {
  int exit_code = -1; // -1: did not finish in time
  std::string output; // stdout and stderr
};

/// Runs a tool to completion with `input` on its stdin.
ToolResult runTool(const std::vector<std::string>& args, std::string_view input,
                   std::chrono::milliseconds timeout = 30s);

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed), for tools that
/// cannot report the port they bound.
uint16_t freeLoopbackPort();

} // namespace corral::test

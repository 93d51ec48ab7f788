#pragma once
// Short-lived commands for the control tests (`corral ctl ...`, curl): run to completion with a
// deadline, stdout and stderr kept apart so that a test can check that an error is one line.

#include <chrono>
#include <string>
#include <vector>

namespace corral::test {

struct CommandResult {
  int exit_code = -1; // -1: killed at the deadline, or ended by a signal
  std::string out;
  std::string err;
};

/// Runs args[0] (a path) with stdin from /dev/null; the child is killed by PID at the deadline.
CommandResult runCommand(const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// `corral ctl --admin ADDRESS ARGS...`, with the corral binary of this build.
CommandResult runCtl(const std::string& admin, const std::vector<std::string>& args);

} // namespace corral::test

#pragma once
// Runs a real client (openssl s_client, curl) as a child process with a deadline.

#include <chrono>
#include <string>
#include <vector>

namespace corral::test {

struct CommandResult {
  int exit_code = -1; // -1 when killed at the deadline
  std::string output; // stdout and stderr, interleaved
};

/// Runs `argv` with `input` on its stdin; kills it (by its PID) if it outlives `timeout`.
CommandResult runCommand(const std::vector<std::string>& argv, const std::string& input,
                         std::chrono::milliseconds timeout);

} // namespace corral::test

#pragma once
// A helper program (the demo backend, curl) as a child process of the test: stdout and stderr go to
// files, every wait has a deadline, and the destructor ends the child by its PID.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace corral::test {

using namespace std::chrono_literals;

class SpawnedProcess {
public:
  /// Starts args[0] (a path) with stdin from /dev/null.
  SpawnedProcess(const std::vector<std::string>& args, const std::filesystem::path& stdout_path,
                 const std::filesystem::path& stderr_path);
  /// SIGKILL if it is still running.
  ~SpawnedProcess();
  SpawnedProcess(const SpawnedProcess&) = delete;
  SpawnedProcess& operator=(const SpawnedProcess&) = delete;

  pid_t pid() const { return pid_; }
  void sendSignal(int signal);
  /// The exit code (128 + N when killed by signal N), or nullopt if still running at the deadline.
  std::optional<int> waitExit(std::chrono::milliseconds timeout);
  bool running();

private:
  bool reap(bool block);

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

} // namespace corral::test

#pragma once
// Every program a test starts (corral, corral ctl, the demo backend, curl, openssl, promtool,
// prometheus) runs through here: argv and extra environment in, stdin from a file, stdout and
// stderr into files, every wait with a deadline, and the child ended by its PID (SIGTERM, then
// SIGKILL after a grace period) when its owner goes away. A child also dies with the test binary
// (PR_SET_PDEATHSIG), so a crashed or timed-out test leaves nothing running.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace corral::test {

using namespace std::chrono_literals;

struct ExitStatus {
  int code = -1;  // exit code, when the process exited
  int signal = 0; // the signal that killed it, else 0

  static ExitStatus exited(int code) { return {.code = code}; }
  friend bool operator==(const ExitStatus&, const ExitStatus&) = default;
};
std::ostream& operator<<(std::ostream& out, const ExitStatus& status);

/// A folder under $TMPDIR (or /tmp), removed on destruction unless the running test failed, so
/// that the configuration and the logs of a failure can be read afterwards.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

struct ChildOptions {
  std::filesystem::path stdin_path = "/dev/null";
  std::filesystem::path stdout_path = "/dev/null";
  std::filesystem::path stderr_path; // empty: the same file as stdout, interleaved
  /// Set in the child's environment on top of this process's.
  std::map<std::string, std::string> environment;
  /// {descriptor here, number in the child}: passed down, e.g. a listener as fd 3.
  std::vector<std::pair<int, int>> descriptors;
};

class ChildProcess {
public:
  /// How long the destructor waits after SIGTERM before SIGKILL.
  static constexpr std::chrono::milliseconds kGrace = 10s;

  /// Starts args[0], a path or a name looked up in $PATH. Throws when fork fails; a program that
  /// cannot be executed exits 127 with a line on its stderr.
  explicit ChildProcess(const std::vector<std::string>& args, const ChildOptions& options = {});
  /// stop(kGrace) if it still runs.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() { return !reap(false); }
  void sendSignal(int signal);
  /// The exit status once the process has ended, or nullopt if it still runs at the deadline.
  std::optional<ExitStatus> waitExit(std::chrono::milliseconds timeout);
  /// SIGTERM, as an operator stops a service; after `grace` SIGKILL. The status if it ended
  /// within the grace period, else nullopt (it has been killed and reaped then).
  std::optional<ExitStatus> stop(std::chrono::milliseconds grace = kGrace);
  /// The exit status, once reaped.
  const std::optional<ExitStatus>& status() const { return status_; }

private:
  bool reap(bool block);

  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

struct CommandOptions {
  std::string input;                       // the whole of stdin
  std::chrono::milliseconds timeout = 10s; // past it: SIGKILL, exit_code -1, and a test failure
  bool merge_output = false;               // stderr into out, interleaved as a terminal shows it
  std::map<std::string, std::string> environment;
};

struct CommandResult {
  int exit_code = -1; // -1: killed at the deadline, or ended by a signal
  std::string out;
  std::string err; // empty with merge_output
};

/// Runs a command to completion (curl, openssl s_client, corral ctl, promtool).
CommandResult runCommand(const std::vector<std::string>& args, const CommandOptions& options = {});

} // namespace corral::test

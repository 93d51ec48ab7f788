#pragma once
// The real corral binary as a child process: `corral run` with a configuration written from a
// template, and `corral check`. Each object owns one temporary folder (the configuration, the
// ready file, stdout and stderr) and ends its own child by PID.
//
// The binary is the `corral` target of this build (compile definition CORRAL_BINARY), or the
// CORRAL_BINARY environment variable when set, e.g. to run these tests against a sanitizer build.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/child_process.h"

namespace corral::test {

using namespace std::chrono_literals;

class FakeBackend;

/// "${name}" in a configuration template is replaced by substitutions.at("name"); "${dir}" by the
/// process's temporary folder. An unknown name fails the test.
using Substitutions = std::map<std::string, std::string>;

/// {name(): address()} for each backend, e.g. {"s1": "127.0.0.1:40001"}.
Substitutions addressesOf(std::initializer_list<std::reference_wrapper<const FakeBackend>> backends);

/// The path of the corral binary, or "" when this build has none.
std::string corralBinary();

class CorralProcess {
public:
  /// How long the destructor waits after SIGTERM (longer than the default drain_timeout, 30 s)
  /// before it kills corral and fails the test.
  static constexpr std::chrono::milliseconds kStopTimeout = 40s;

  /// Writes the configuration, starts `corral run -c FILE --ready-file FILE` and waits up to
  /// ready_timeout for the ready file. On failure ready() is false and the test has failed with
  /// corral's stderr in the message.
  explicit CorralProcess(std::string_view config_template, const Substitutions& substitutions = {},
                         std::chrono::milliseconds ready_timeout = 10s);
  /// Ends corral with SIGTERM (SIGKILL only after kStopTimeout, failing the test). Fails the test
  /// when corral ended other than with exit 0 and the test did not look at it through waitExit(),
  /// or when its stderr holds a sanitizer report (ASan, LeakSanitizer, UBSan, TSan).
  ~CorralProcess();
  CorralProcess(const CorralProcess&) = delete;
  CorralProcess& operator=(const CorralProcess&) = delete;

  bool ready() const { return ready_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  std::filesystem::path configPath() const { return dir_.path() / "corral.yaml"; }
  /// The address that frontend `name` is bound to, from the ready file; "" if unknown.
  std::string listenAddress(std::string_view frontend) const;
  /// A string of the ready file, such as "admin" or "metrics" (their addresses); "" if absent.
  std::string readyValue(std::string_view key) const;

  /// The access log lines written so far (corral's stdout), each parsed as JSON.
  std::vector<nlohmann::json> accessLog() const;
  /// Waits until the access log has at least `count` lines; returns them all.
  std::vector<nlohmann::json> waitForAccessLog(size_t count, std::chrono::milliseconds timeout) const;
  std::string stderrText() const;
  std::optional<uint64_t> residentBytes() const;

  void sendSignal(int signal);
  /// The exit status once the process has ended, or nullopt if it is still running at the deadline.
  /// A status returned here is the test's to check: the destructor does not fail on it.
  std::optional<ExitStatus> waitExit(std::chrono::milliseconds timeout);

private:
  bool waitReady(std::chrono::milliseconds timeout);
  std::vector<nlohmann::json> readAccessLog(bool report_bad_lines) const;

  TempDir dir_;
  std::optional<ChildProcess> process_;
  bool exit_observed_ = false; // waitExit() returned exit_status_ to the test
  bool ready_ = false;
  nlohmann::json ready_info_;
};

/// The first sanitizer report in `text` (a process's stderr), from its first line; "" if none.
std::string sanitizerReport(std::string_view text);

struct CheckResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::string config_path; // as passed to -c, so a test can expect it in messages
};

/// `corral ctl --admin ADMIN ARGS...`, killed at the deadline (a test failure).
CommandResult runCtl(const std::string& admin, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout = 10s);

/// Writes the configuration to a temporary corral.yaml and runs `corral check -c` on it.
CheckResult runCheck(std::string_view config_template, const Substitutions& substitutions = {},
                     std::chrono::milliseconds timeout = 10s);

} // namespace corral::test

#pragma once
// A real Prometheus (Debian package `prometheus`) on 127.0.0.1, with a temporary configuration
// that scrapes one target every second and a temporary TSDB folder.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tests/support/child_process.h"
#include "tests/support/corral_process.h"

namespace corral::test {

/// The prometheus and promtool binaries found when CMake ran, or "" when none was installed.
std::string prometheusBinary();
std::string promtoolBinary();

class PrometheusServer {
public:
  /// Starts Prometheus scraping http://`target`/metrics as job "corral" and waits up to
  /// `ready_timeout` for /-/ready. On failure ready() is false and the test has failed.
  explicit PrometheusServer(std::string_view target, std::chrono::milliseconds ready_timeout = 30s);

  bool ready() const { return ready_; }
  /// The log of Prometheus so far, for failure messages.
  std::string log() const;

  /// Evaluates `promql` at the current time through /api/v1/query. Returns the whole response
  /// ({"status": "success", "data": {"result": [...]}} or {"status": "error", "error": ...});
  /// a transport failure gives {"status": "transport", "error": ...}.
  nlohmann::json query(std::string_view promql) const;
  /// GET of any API path ("/api/v1/labels"), answered the same way as query().
  nlohmann::json get(const std::string& target) const;

  /// Waits until `promql` returns at least one series whose value is at least `minimum`.
  bool waitForValue(std::string_view promql, double minimum, std::chrono::milliseconds timeout) const;

private:
  TempDir dir_;
  std::string address_;
  std::unique_ptr<ChildProcess> process_;
  bool ready_ = false;
};

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed), for tools that
/// cannot report the port they bound.
uint16_t freeLoopbackPort();

} // namespace corral::test

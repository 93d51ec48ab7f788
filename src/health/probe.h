#pragma once
// One health check in flight: a non-blocking connect, and for an http check one request and its
// status line, all within the check's timeout. It reports once and then holds no socket.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <event2/bufferevent.h>

#include "corral/config/config.h"
#include "corral/core/address.h"
#include "corral/health/health_checker.h"
#include "corral/tls/client_context.h"

#include "corral/core/timer.h"

namespace corral::health {

class Probe {
public:
  using Done = std::function<void(const CheckResult&)>;

  /// Starts connecting at once; `done` is called exactly once, from the event loop (never from
  /// this constructor), unless the Probe is destroyed first. `done` may destroy the Probe.
  Probe(event_base* base, const SocketAddress& address, const config::HealthCheckConfig& check,
        Done done, ProbeTls tls = {});
  ~Probe();
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

private:
  void connect();
  bufferevent* newConnection();
  void onDeadline();
  void onConnected();
  void onResponseBytes();
  void finish(CheckOutcome outcome, std::string detail);
  void closeConnection();
  static void onRead(bufferevent* connection, void* arg) noexcept;
  static void onEvent(bufferevent* connection, short what, void* arg) noexcept;

  event_base* base_;
  SocketAddress address_;
  config::HealthCheckConfig check_;
  Done done_;
  ProbeTls tls_;
  std::chrono::steady_clock::time_point started_;
  bufferevent* connection_ = nullptr;
  // Set when the connect fails at once; reported from the timer.
  std::optional<std::pair<CheckOutcome, std::string>> failure_;
  Timer deadline_;
};

} // namespace corral::health

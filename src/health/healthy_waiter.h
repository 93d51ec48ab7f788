#pragma once
// HealthChecker::probeUntilHealthy(): checks one address until `rise` checks in a row pass or a
// deadline passes. Destroying it cancels everything it started.

#include <chrono>
#include <functional>
#include <memory>

#include "health/probe.h"
#include "corral/core/timer.h"

namespace corral::health {

class HealthyWaiter {
public:
  /// Starts the first check at once. `on_finished` is called once, from the event loop, and may
  /// destroy the waiter.
  HealthyWaiter(event_base* base, const SocketAddress& address, config::HealthCheckConfig check,
                ProbeTls tls, std::chrono::milliseconds deadline,
                std::function<void(bool)> on_finished);
  HealthyWaiter(const HealthyWaiter&) = delete;
  HealthyWaiter& operator=(const HealthyWaiter&) = delete;

private:
  void startCheck();
  void onResult(const CheckResult& result);
  void finish(bool healthy);

  event_base* base_;
  SocketAddress address_;
  config::HealthCheckConfig check_;
  ProbeTls tls_;
  std::function<void(bool)> on_finished_;
  uint32_t successes_ = 0;
  std::unique_ptr<Probe> probe_;
  Timer retry_;
  Timer deadline_;
};

} // namespace corral::health

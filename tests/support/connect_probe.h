#pragma once
// A readiness check for tests of the supervisor's rolling restart: a non-blocking TCP connect to
// the replacement, retried every interval until one succeeds. corral itself waits for the
// backend's health check (ControlPlane hands HealthChecker::probeUntilHealthy to the supervisor).

#include <chrono>
#include <functional>
#include <memory>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "corral/core/address.h"

namespace corral::test {

class ConnectProbe {
public:
  /// Starts at once; calls `on_connected` once, after the first successful connect. It never
  /// reports failure: the caller owns the deadline and destroys the probe to give up.
  ConnectProbe(event_base* base, const SocketAddress& address, std::chrono::milliseconds interval,
               std::function<void()> on_connected);
  ~ConnectProbe();
  ConnectProbe(const ConnectProbe&) = delete;
  ConnectProbe& operator=(const ConnectProbe&) = delete;

private:
  void attempt();
  void closeConnection();
  void retryLater();
  static void onEvent(bufferevent* connection, short what, void* arg) noexcept;

  event_base* base_;
  SocketAddress address_;
  std::chrono::milliseconds interval_;
  std::function<void()> on_connected_;
  bufferevent* connection_ = nullptr;
  event* retry_ = nullptr;
};

/// A SupervisorCallbacks::wait_healthy that reports healthy once the address accepts a TCP
/// connection. The probe lives until it succeeds or the supervisor gives up (a later report is
/// ignored by the supervisor); the returned function owns the probes it starts.
std::function<void(const SocketAddress&, std::function<void(bool)>)>
waitUntilConnects(event_base* base,
                  std::chrono::milliseconds interval = std::chrono::milliseconds(100));

} // namespace corral::test

#pragma once
// The default readiness check of a rolling restart, until the health checker is wired in: a
// non-blocking TCP connect to the replacement, retried every interval until one succeeds.

#include <chrono>
#include <functional>

#include <event2/bufferevent.h>

#include "cluster/timer.h"
#include "corral/core/address.h"

namespace corral::cluster {

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
  static void onEvent(bufferevent* connection, short what, void* arg) noexcept;

  event_base* base_;
  SocketAddress address_;
  std::chrono::milliseconds interval_;
  std::function<void()> on_connected_;
  bufferevent* connection_ = nullptr;
  Timer retry_;
};

} // namespace corral::cluster

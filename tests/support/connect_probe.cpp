#include "tests/support/connect_probe.h"

#include <vector>

namespace corral::test {

ConnectProbe::ConnectProbe(event_base* base, const SocketAddress& address,
                           std::chrono::milliseconds interval, std::function<void()> on_connected)
    : base_(base), address_(address), interval_(interval), on_connected_(std::move(on_connected)),
      retry_(evtimer_new(
          base,
          [](evutil_socket_t, short, void* self) { static_cast<ConnectProbe*>(self)->attempt(); },
          this)) {
  attempt();
}

ConnectProbe::~ConnectProbe() {
  closeConnection();
  event_free(retry_);
}

void ConnectProbe::closeConnection() {
  if (connection_ != nullptr) {
    bufferevent_free(connection_);
    connection_ = nullptr;
  }
}

void ConnectProbe::retryLater() {
  const timeval delay{.tv_sec = static_cast<time_t>(interval_.count() / 1000),
                      .tv_usec = static_cast<suseconds_t>(interval_.count() % 1000 * 1000)};
  evtimer_add(retry_, &delay);
}

void ConnectProbe::attempt() {
  closeConnection();
  connection_ = bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE);
  // A connect that hangs (a full backlog) counts as a failed attempt after one interval.
  const timeval timeout{.tv_sec = static_cast<time_t>(interval_.count() / 1000),
                        .tv_usec = static_cast<suseconds_t>(interval_.count() % 1000 * 1000)};
  bufferevent_set_timeouts(connection_, nullptr, &timeout);
  bufferevent_setcb(connection_, nullptr, nullptr, &ConnectProbe::onEvent, this);
  if (bufferevent_socket_connect(connection_, address_.get(),
                                 static_cast<int>(address_.length())) != 0) {
    closeConnection();
    retryLater();
  }
}

void ConnectProbe::onEvent(bufferevent*, short what, void* arg) noexcept {
  auto* probe = static_cast<ConnectProbe*>(arg);
  probe->closeConnection();
  if ((what & BEV_EVENT_CONNECTED) == 0) {
    probe->retryLater();
    return;
  }
  auto on_connected = std::move(probe->on_connected_); // the callee may destroy the probe
  if (on_connected) {
    on_connected();
  }
}

std::function<void(const SocketAddress&, std::function<void(bool)>)>
waitUntilConnects(event_base* base, std::chrono::milliseconds interval) {
  auto probes = std::make_shared<std::vector<std::unique_ptr<ConnectProbe>>>();
  return [base, interval, probes](const SocketAddress& address, std::function<void(bool)> done) {
    probes->push_back(std::make_unique<ConnectProbe>(base, address, interval,
                                                     [done = std::move(done)] { done(true); }));
  };
}

} // namespace corral::test

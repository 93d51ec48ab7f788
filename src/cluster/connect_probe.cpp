#include "cluster/connect_probe.h"

namespace corral::cluster {

ConnectProbe::ConnectProbe(event_base* base, const SocketAddress& address,
                           std::chrono::milliseconds interval, std::function<void()> on_connected)
    : base_(base), address_(address), interval_(interval), on_connected_(std::move(on_connected)),
      retry_(base, [this] { attempt(); }) {
  attempt();
}

ConnectProbe::~ConnectProbe() { closeConnection(); }

void ConnectProbe::closeConnection() {
  if (connection_ != nullptr) {
    bufferevent_free(connection_);
    connection_ = nullptr;
  }
}

void ConnectProbe::attempt() {
  closeConnection();
  connection_ = bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE);
  // A connect that hangs (a full backlog) counts as a failed attempt after one interval.
  const timeval timeout{.tv_sec = static_cast<time_t>(interval_.count() / 1000),
                        .tv_usec = static_cast<suseconds_t>(interval_.count() % 1000 * 1000)};
  bufferevent_set_timeouts(connection_, nullptr, &timeout);
  bufferevent_setcb(connection_, nullptr, nullptr, &ConnectProbe::onEvent, this);
  if (bufferevent_socket_connect(connection_, address_.get(), static_cast<int>(address_.length())) !=
      0) {
    closeConnection();
    retry_.start(interval_);
  }
}

void ConnectProbe::onEvent(bufferevent*, short what, void* arg) noexcept {
  auto* probe = static_cast<ConnectProbe*>(arg);
  probe->closeConnection();
  if ((what & BEV_EVENT_CONNECTED) == 0) {
    probe->retry_.start(probe->interval_);
    return;
  }
  auto on_connected = std::move(probe->on_connected_); // the callee may destroy the probe
  if (on_connected) {
    on_connected();
  }
}

} // namespace corral::cluster

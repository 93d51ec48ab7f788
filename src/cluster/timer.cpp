#include "cluster/timer.h"

#include <cstdlib>

#include "corral/core/log.h"

namespace corral::cluster {

Timer::Timer(event_base* base, std::function<void()> on_fire)
    : event_(evtimer_new(base, &Timer::onFire, this)), on_fire_(std::move(on_fire)) {
  if (!event_) {
    log::cluster()->critical("evtimer_new failed");
    std::abort();
  }
}

void Timer::start(std::chrono::milliseconds delay) {
  const timeval tv{.tv_sec = static_cast<time_t>(delay.count() / 1000),
                   .tv_usec = static_cast<suseconds_t>(delay.count() % 1000 * 1000)};
  evtimer_add(event_.get(), &tv);
}

void Timer::cancel() { evtimer_del(event_.get()); }

bool Timer::pending() const { return evtimer_pending(event_.get(), nullptr) != 0; }

// The callback may destroy this Timer (its owner reacts to a timeout by tearing down), so it runs
// from a copy, and nothing touches the Timer after it returns.
void Timer::onFire(evutil_socket_t, short, void* arg) noexcept {
  auto on_fire = static_cast<Timer*>(arg)->on_fire_;
  on_fire();
}

} // namespace corral::cluster

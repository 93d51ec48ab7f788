#include "corral/core/timer.h"

#include <algorithm>
#include <cstdlib>

#include "corral/core/log.h"

namespace corral {

Timer::Timer(event_base* base, std::function<void()> on_fire)
    : base_(base), event_(evtimer_new(base, &Timer::onFire, this)), on_fire_(std::move(on_fire)) {
  if (!event_) {
    log::core()->critical("evtimer_new failed");
    std::abort();
  }
}

void Timer::start(std::chrono::microseconds delay) {
  const int64_t us = std::max<int64_t>(delay.count(), 0);
  const timeval tv{.tv_sec = static_cast<time_t>(us / 1'000'000),
                   .tv_usec = static_cast<suseconds_t>(us % 1'000'000)};
  // libevent measures the delay from the time it cached when the loop woke, which is behind the
  // clock by however long this turn's callbacks have run; a check timeout would end early.
  event_base_update_cache_time(base_);
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

} // namespace corral

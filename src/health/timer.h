#pragma once
// A one-shot libevent timer that calls a std::function. Destroying the Timer cancels it.
// (cluster/timer.h is the same idea; each component keeps its private helpers.)

#include <chrono>
#include <functional>
#include <memory>

#include <event2/event.h>

namespace corral::health {

class Timer {
public:
  Timer(event_base* base, std::function<void()> on_fire);
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  /// (Re)arms the timer; a pending one is replaced.
  void start(std::chrono::microseconds delay);
  void cancel();

private:
  static void onFire(evutil_socket_t, short, void* arg) noexcept;

  struct EventFree {
    void operator()(event* e) const { event_free(e); }
  };
  event_base* base_;
  std::unique_ptr<event, EventFree> event_;
  std::function<void()> on_fire_;
};

} // namespace corral::health

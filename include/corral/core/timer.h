#pragma once
// A one-shot libevent timer that calls a std::function, so that code on the control loop (the
// supervisors, the health checks) reads as steps rather than C callbacks. Destroying the Timer
// cancels it.

#include <chrono>
#include <functional>
#include <memory>

#include <event2/event.h>

namespace corral {

class Timer {
public:
  Timer(event_base* base, std::function<void()> on_fire);
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  /// (Re)arms the timer, from now (not from when the loop woke); a pending one is replaced and a
  /// negative delay fires on the next turn.
  void start(std::chrono::microseconds delay);
  void cancel();
  bool pending() const;

private:
  static void onFire(evutil_socket_t, short, void* arg) noexcept;

  struct EventFree {
    void operator()(event* e) const { event_free(e); }
  };
  event_base* base_;
  std::unique_ptr<event, EventFree> event_;
  std::function<void()> on_fire_;
};

} // namespace corral

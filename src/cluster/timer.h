#pragma once
// A one-shot libevent timer that calls a std::function, so supervisor code reads as steps rather
// than C callbacks. Destroying the Timer cancels it.

#include <chrono>
#include <functional>
#include <memory>

#include <event2/event.h>

namespace corral::cluster {

class Timer {
public:
  Timer(event_base* base, std::function<void()> on_fire);
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  /// (Re)arms the timer; a pending one is replaced.
  void start(std::chrono::milliseconds delay);
  void cancel();
  bool pending() const;

private:
  static void onFire(evutil_socket_t, short, void* arg) noexcept;

  struct EventFree {
    void operator()(event* e) const { event_free(e); }
  };
  std::unique_ptr<event, EventFree> event_;
  std::function<void()> on_fire_;
};

} // namespace corral::cluster

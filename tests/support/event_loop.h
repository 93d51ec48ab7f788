#pragma once
// A libevent loop for tests that drive a component on the test's own thread (the supervisor, the
// health checker): run() turns it until a condition holds or a deadline passes.

#include <chrono>

#include <event2/event.h>

#include "tests/support/wait.h"

namespace corral::test {

/// run() turns the loop until `done()` holds or `timeout` passes; a 10 ms tick bounds each turn,
/// so the condition is checked even when nothing else happens.
class Loop {
public:
  Loop()
      : base_(event_base_new()),
        tick_(event_new(
            base_, -1, EV_PERSIST, [](evutil_socket_t, short, void*) {}, nullptr)) {
    const timeval ten_ms{0, 10'000};
    event_add(tick_, &ten_ms);
  }
  ~Loop() {
    event_free(tick_);
    event_base_free(base_);
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  event_base* base() const { return base_; }

  template <class Condition>
  bool run(Condition done, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done() && Clock::now() < deadline) {
      event_base_loop(base_, EVLOOP_ONCE);
    }
    return done();
  }
  void runFor(std::chrono::milliseconds duration) {
    run([] { return false; }, duration);
  }

private:
  event_base* base_;
  event* tick_;
};

} // namespace corral::test

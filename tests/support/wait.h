#pragma once
// Waiting on observable facts with a deadline. Every wait in the harness goes through here, so that
// no test synchronises on a bare sleep: the short pause between checks only bounds the polling cost.

#include <cerrno>
#include <chrono>
#include <system_error>
#include <thread>

namespace corral::test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// Checks `condition` until it holds (true) or `timeout` passes (false; checked once more at the end).
template <class Condition>
bool pollUntil(Condition condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval = 5ms) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(interval);
  }
  return condition();
}

/// Milliseconds left until `deadline`, for poll(2); 0 once it has passed.
inline int millisecondsUntil(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

/// The harness cannot go on without this system call (socket, fork, ...): fail the test with why.
[[noreturn]] inline void throwSystemError(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

} // namespace corral::test

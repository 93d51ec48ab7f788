#pragma once
// When checks run. Pure functions of their arguments (the caller supplies the random number), so
// tests can cover their whole range. The slow-start ramp is Server::effectiveWeight (runtime).

#include <chrono>
#include <cstdint>

namespace corral::health {

/// The delay before the next check: `interval` moved by up to ±10%, uniformly over `random`, so
/// the checks of many servers started together drift apart instead of arriving in bursts.
/// Example: interval 2s gives 1.8s..2.2s.
std::chrono::microseconds nextDelay(std::chrono::milliseconds interval, uint64_t random);

/// The delay before a server's first check: 0 up to 100 ms (or up to `interval` when shorter),
/// so a new server is checked soon, but a reload with hundreds of servers does not connect to all
/// of them in the same instant.
std::chrono::microseconds firstDelay(std::chrono::milliseconds interval, uint64_t random);

} // namespace corral::health

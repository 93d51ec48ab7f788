#pragma once
// When checks run and how fast a recovered server takes traffic again. Pure functions of their
// arguments (the caller supplies the random number and the elapsed time), so tests can cover
// their whole range.

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

/// The share of its weight a server gets `elapsed` after it came back up (DESIGN.md slow_start):
/// 0.1 at first, rising linearly to 1.0 at `slow_start`, and 1.0 from then on. A slow_start of 0
/// (off) always gives 1.0. Example: slow_start 10s, elapsed 5s gives 0.55.
double slowStartFactor(std::chrono::nanoseconds elapsed, std::chrono::nanoseconds slow_start);

} // namespace corral::health

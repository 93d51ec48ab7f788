#include "corral/health/timing.h"

#include <algorithm>

namespace corral::health {

namespace {
constexpr std::chrono::milliseconds kFirstCheckWindow{100};
} // namespace

std::chrono::microseconds nextDelay(std::chrono::milliseconds interval, uint64_t random) {
  const std::chrono::microseconds base = interval;
  const int64_t span = base.count() / 5; // the width of ±10%
  const int64_t offset = static_cast<int64_t>(random % (static_cast<uint64_t>(span) + 1));
  return std::chrono::microseconds(base.count() - span / 2 + offset);
}

std::chrono::microseconds firstDelay(std::chrono::milliseconds interval, uint64_t random) {
  const std::chrono::microseconds window = std::min(interval, kFirstCheckWindow);
  return std::chrono::microseconds(
      static_cast<int64_t>(random % (static_cast<uint64_t>(window.count()) + 1)));
}

} // namespace corral::health

#pragma once
// Exponential backoff for respawning a crashed instance: 100 ms, 200 ms, 400 ms, ... up to 30 s,
// back to 100 ms once an instance has stayed up for `stable_after` (10 s). A command that exits at
// once is retried ever more slowly instead of in a tight loop; one crash after a long healthy run
// is respawned quickly.

#include <algorithm>
#include <chrono>

namespace corral::cluster {

class RestartBackoff {
public:
  using Duration = std::chrono::milliseconds;

  RestartBackoff(Duration initial, Duration max, Duration stable_after)
      : initial_(initial), max_(max), stable_after_(stable_after), next_(initial) {}

  /// The delay before starting again an instance that ran for `uptime`.
  Duration next(Duration uptime) {
    if (uptime >= stable_after_) {
      next_ = initial_;
    }
    const Duration delay = next_;
    next_ = std::min(next_ * 2, max_);
    return delay;
  }

private:
  Duration initial_;
  Duration max_;
  Duration stable_after_;
  Duration next_;
};

} // namespace corral::cluster

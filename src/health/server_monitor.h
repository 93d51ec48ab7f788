#pragma once
// The checks of one target: a timer, at most one Probe in flight, and the target's HealthState.
// The HealthChecker owns one per target and hears of every result.

#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <utility>

#include "corral/health/health_checker.h"

#include "health/probe.h"
#include "corral/core/timer.h"

namespace corral::health {

class ServerMonitor {
public:
  using State = HealthState::State;
  using Checked = std::function<void(const ServerMonitor&, const CheckResult&,
                                     std::optional<std::pair<State, State>> change)>;

  /// Schedules the first check within firstDelay(). `random` must outlive the monitor.
  ServerMonitor(event_base* base, CheckTarget target, std::mt19937_64& random, Checked on_checked);
  ServerMonitor(const ServerMonitor&) = delete;
  ServerMonitor& operator=(const ServerMonitor&) = delete;

  /// New check settings for the same server (a reload); a check in flight finishes as it began.
  void updateCheck(const CheckTarget& target);

  const CheckTarget& target() const { return target_; }
  const HealthState& health() const { return health_; }

private:
  void startCheck();
  void onResult(const CheckResult& result);

  event_base* base_;
  CheckTarget target_;
  std::mt19937_64& random_;
  Checked on_checked_;
  HealthState health_;
  std::unique_ptr<Probe> probe_;
  Timer next_check_;
};

} // namespace corral::health

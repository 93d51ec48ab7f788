#include "health/server_monitor.h"

#include "corral/health/timing.h"

namespace corral::health {

ServerMonitor::ServerMonitor(event_base* base, CheckTarget target, std::mt19937_64& random,
                             Checked on_checked)
    : base_(base), target_(std::move(target)), random_(random), on_checked_(std::move(on_checked)),
      health_(target_.check.rise, target_.check.fall), next_check_(base, [this] { startCheck(); }) {
  next_check_.start(firstDelay(target_.check.interval, random_()));
}

void ServerMonitor::updateCheck(const CheckTarget& target) {
  target_.check = target.check;
  target_.tls = target.tls;
  target_.host = target.host;
  health_.setThresholds(target.check.rise, target.check.fall);
}

void ServerMonitor::startCheck() {
  probe_ = std::make_unique<Probe>(
      base_, target_.address, target_.check,
      [this](const CheckResult& result) { onResult(result); },
      ProbeTls{.context = target_.tls, .host = target_.host});
}

// The next check is due one jittered interval after this one started, so a slow check does not
// stretch the period; a check that took longer than the interval is followed at once.
void ServerMonitor::onResult(const CheckResult& result) {
  probe_.reset(); // Probe::finish runs from a local copy of this callback, so this is safe
  const State from = health_.state();
  const bool changed = health_.record(result.ok());
  next_check_.start(nextDelay(target_.check.interval, random_()) - result.latency);
  std::optional<std::pair<State, State>> change;
  if (changed) {
    change.emplace(from, health_.state());
  }
  auto on_checked = on_checked_; // the callee may destroy this monitor (setTargets)
  on_checked(*this, result, change);
}

} // namespace corral::health

#include "corral/health/health_checker.h"

#include "corral/core/log.h"

#include "health/healthy_waiter.h"
#include "health/server_monitor.h"

namespace corral::health {
namespace {

// A readiness probe without a configured check: one TCP connect, retried at a pace that finds a
// starting instance quickly without flooding it.
config::HealthCheckConfig connectOnlyCheck() {
  return config::HealthCheckConfig{.type = config::HealthCheckType::Tcp,
                                   .interval = std::chrono::milliseconds(100),
                                   .timeout = std::chrono::seconds(1),
                                   .rise = 1,
                                   .fall = 1};
}

bool sameServer(const CheckTarget& a, const CheckTarget& b) {
  return a.backend == b.backend && a.server == b.server &&
         a.address.toString() == b.address.toString();
}

} // namespace

std::string_view toString(CheckOutcome outcome) {
  switch (outcome) {
  case CheckOutcome::Ok:
    return "ok";
  case CheckOutcome::Refused:
    return "refused";
  case CheckOutcome::Timeout:
    return "timeout";
  case CheckOutcome::BadStatus:
    return "bad_status";
  case CheckOutcome::BadResponse:
    return "bad_response";
  case CheckOutcome::Error:
    return "error";
  }
  return "error";
}

HealthChecker::HealthChecker(event_base* base, StateCallback on_state_changed,
                             ResultCallback on_result)
    : base_(base), on_state_changed_(std::move(on_state_changed)), on_result_(std::move(on_result)),
      random_(std::random_device{}()) {}

HealthChecker::~HealthChecker() = default;

void HealthChecker::setTargets(std::vector<CheckTarget> targets) {
  decltype(monitors_) next;
  for (CheckTarget& target : targets) {
    auto key = std::make_pair(target.backend, target.server);
    auto kept = monitors_.find(key);
    if (kept != monitors_.end() && kept->second && sameServer(kept->second->target(), target)) {
      kept->second->updateCheck(target);
      next.emplace(std::move(key), std::move(kept->second));
      continue;
    }
    auto on_checked = [this](const ServerMonitor& monitor, const CheckResult& result,
                             std::optional<std::pair<State, State>> change) {
      onChecked(monitor, result, change);
    };
    next.emplace(std::move(key), std::make_unique<ServerMonitor>(base_, std::move(target), random_,
                                                                 std::move(on_checked)));
  }
  monitors_ = std::move(next); // removed targets stop here, their checks in flight with them
}

std::optional<HealthChecker::State> HealthChecker::state(std::string_view backend,
                                                         std::string_view server) const {
  const auto found = monitors_.find(std::make_pair(std::string(backend), std::string(server)));
  if (found == monitors_.end()) {
    return std::nullopt;
  }
  return found->second->health().state();
}

void HealthChecker::onChecked(const ServerMonitor& monitor, const CheckResult& result,
                              std::optional<std::pair<State, State>> change) {
  if (change) {
    logChange(monitor, change->second, result);
  }
  const CheckTarget target = monitor.target(); // a callback may replace the targets
  if (on_result_) {
    on_result_(target, result);
  }
  if (change && on_state_changed_) {
    on_state_changed_(target, change->first, change->second, result);
  }
}

void HealthChecker::logChange(const ServerMonitor& monitor, State to,
                              const CheckResult& result) const {
  const CheckTarget& target = monitor.target();
  const uint32_t in_a_row = monitor.health().streak();
  if (to == State::Down) {
    log::health()->warn("{}/{} is down: {} ({} checks in a row)", target.backend, target.server,
                        result.detail, in_a_row);
  } else {
    log::health()->info("{}/{} is up: {} ({} checks in a row, {} ms)", target.backend,
                        target.server, result.detail, in_a_row, result.latency.count() / 1000);
  }
}

void HealthChecker::probeUntilHealthy(const SocketAddress& address,
                                      const std::optional<config::HealthCheckConfig>& check,
                                      ProbeTls tls, std::chrono::milliseconds deadline,
                                      std::function<void(bool)> done) {
  const uint64_t id = next_waiting_id_++;
  if (!check || !check->tls) {
    tls = {}; // the connect-only probe, and a plaintext check, speak no TLS
  }
  auto waiter = std::make_unique<HealthyWaiter>(
      base_, address, check.value_or(connectOnlyCheck()), std::move(tls), deadline,
      [this, id](bool healthy) { finishWaiting(id, healthy); });
  waiting_.emplace(id, Waiting{.waiter = std::move(waiter), .done = std::move(done)});
}

void HealthChecker::finishWaiting(uint64_t id, bool healthy) {
  const auto found = waiting_.find(id);
  if (found == waiting_.end()) {
    return;
  }
  auto done = std::move(found->second.done);
  waiting_.erase(found); // the waiter calls this last, from a local copy of its callback
  if (done) {
    done(healthy);
  }
}

} // namespace corral::health

#include "health/healthy_waiter.h"

#include <algorithm>

#include "corral/core/log.h"

namespace corral::health {

HealthyWaiter::HealthyWaiter(event_base* base, const SocketAddress& address,
                             config::HealthCheckConfig check, ProbeTls tls,
                             std::chrono::milliseconds deadline,
                             std::function<void(bool)> on_finished)
    : base_(base), address_(address), check_(std::move(check)), tls_(std::move(tls)),
      on_finished_(std::move(on_finished)), retry_(base, [this] { startCheck(); }),
      deadline_(base, [this] { finish(false); }) {
  deadline_.start(deadline);
  startCheck();
}

void HealthyWaiter::startCheck() {
  probe_ = std::make_unique<Probe>(
      base_, address_, check_, [this](const CheckResult& result) { onResult(result); }, tls_);
}

void HealthyWaiter::onResult(const CheckResult& result) {
  probe_.reset(); // Probe::finish runs from a local copy of this callback, so this is safe
  successes_ = result.ok() ? successes_ + 1 : 0;
  log::health()->debug("{} is {}: {} ({} of {} passed)", address_.toString(),
                       result.ok() ? "answering" : "not ready", result.detail, successes_,
                       check_.rise);
  if (successes_ >= std::max(check_.rise, 1u)) {
    finish(true);
    return;
  }
  retry_.start(check_.interval);
}

void HealthyWaiter::finish(bool healthy) {
  probe_.reset();
  retry_.cancel();
  deadline_.cancel();
  auto on_finished = std::move(on_finished_); // the callee destroys this waiter
  if (on_finished) {
    on_finished(healthy);
  }
}

} // namespace corral::health

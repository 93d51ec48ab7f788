// Health: active checks feed the servers' shared state, which workers read at pick time; ip_hash
// backends also get a Maglev table rebuilt over the servers that can take clients now.

#include "corral/control/control_plane.h"
#include "corral/core/log.h"
#include "corral/runtime/placement.h"

#include "health_result.h"

namespace corral::control {

metrics::HealthCheckResult metricsResult(const health::CheckResult& result) {
  switch (result.outcome) {
  case health::CheckOutcome::Ok: return metrics::HealthCheckResult::Success;
  case health::CheckOutcome::Timeout: return metrics::HealthCheckResult::Timeout;
  case health::CheckOutcome::Refused: return metrics::HealthCheckResult::Refused;
  case health::CheckOutcome::BadStatus: return metrics::HealthCheckResult::BadStatus;
  default: return metrics::HealthCheckResult::Error;
  }
}

void ControlPlane::updateHealthTargets() {
  std::vector<health::CheckTarget> targets;
  const runtime::SnapshotPtr snapshot = current();
  for (const runtime::Backend& backend : snapshot->backends) {
    if (!backend.config->health_check) {
      continue;
    }
    for (const runtime::Server& server : backend.servers) {
      targets.push_back({.backend = backend.config->name,
                         .server = server.name,
                         .address = server.address,
                         .check = *backend.config->health_check,
                         .tls = server.health_tls,
                         .host = server.host});
    }
  }
  health_->setTargets(std::move(targets));
}

void ControlPlane::onHealthChanged(const health::CheckTarget& target,
                                   health::HealthState::State to) {
  auto server = findServer(target.backend, target.server);
  if (!server || (*server)->address.toString() != target.address.toString()) {
    return; // a result for an address that has since been replaced
  }
  runtime::ServerStats& stats = *(*server)->stats;
  if (to == health::HealthState::State::Up) {
    stats.up_since_ms.store(runtime::steadyMs());
    stats.ejected_until_ms.store(0); // an active check has seen it serve again
    stats.health.store(runtime::Health::Up);
    refreshMaglev(target.backend); // a slow-start ramp begins now, not at the next tick
  } else if (to == health::HealthState::State::Down) {
    stats.health.store(runtime::Health::Down);
  }
  // No Maglev rebuild for a down server: while a server is down the workers' ip_hash walks on to
  // the next slot's server, exactly as it did for the retries before the check noticed, so its
  // clients move once and every other client stays where it was.
  dispatchWaiters(target.backend); // up: it takes waiters; down: its own waiters move on
}

// Queued clients are otherwise placed only when a session frees a slot: after a change that lets
// a server take them (or lets a client waiting for its own server go elsewhere), offer the slots.
void ControlPlane::dispatchWaiters(std::string_view backend_name) {
  const runtime::SnapshotPtr snapshot = current();
  if (const runtime::Backend* backend = snapshot->findBackend(backend_name)) {
    runtime::offerFreeSlots(*backend);
  }
}

// Rebuilds the table with every server's effective weight (a `ctl weight` override, a slow-start
// ramp), as Snapshot::build does (runtime/placement.h). Health and drain are not in the table:
// pick() skips servers that cannot take clients.
void ControlPlane::refreshMaglev(const std::string& backend_name) {
  const runtime::SnapshotPtr snapshot = current();
  const runtime::Backend* backend = snapshot->findBackend(backend_name);
  if (backend == nullptr || !backend->usesMaglev()) {
    return;
  }
  auto table = runtime::buildMaglevTable(*backend, runtime::steadyMs());
  if (!table) {
    log::balance()->error("backend {}: {}", backend_name, table.error().message);
    return;
  }
  posted_maglev_.insert_or_assign(backend_name, *table); // what `ctl route` answers with
  proxy_->publishMaglev(snapshot.get(), static_cast<size_t>(backend - snapshot->backends.data()),
                        std::move(*table));
}

// The table the workers route `backend` with: the last one posted since the snapshot was
// published, else the snapshot's own.
std::shared_ptr<const balance::MaglevTable>
ControlPlane::maglevInUse(const runtime::Backend& backend) const {
  const auto posted = posted_maglev_.find(backend.config->name);
  return posted != posted_maglev_.end() ? posted->second : backend.maglev;
}

// While a server ramps up (slow start) or sits out an ejection, its ip_hash share changes with
// time rather than with an event: follow it once a second. An ejection that ends (or begins on
// the server a client waits for) is such a change for the queue, too.
void ControlPlane::onSlowStartTick() {
  const runtime::SnapshotPtr snapshot = current();
  const int64_t now = runtime::steadyMs();
  for (const runtime::Backend& backend : snapshot->backends) {
    if (backend.stats->queue.length() > 0) {
      runtime::offerFreeSlots(backend);
    }
    if (!backend.usesMaglev()) {
      continue;
    }
    bool changing = false;
    for (const runtime::Server& server : backend.servers) {
      const int64_t up_since = server.stats->up_since_ms.load();
      const int64_t ejected_until = server.stats->ejected_until_ms.load();
      changing |= now - up_since < backend.config->slow_start.count() + 1000;
      changing |= ejected_until > 0 && now - ejected_until < 2000;
    }
    if (changing) {
      refreshMaglev(backend.config->name);
    }
  }
}

} // namespace corral::control

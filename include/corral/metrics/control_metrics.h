#pragma once
// Metrics of the control thread: server health, health checks, instance restarts, reloads and the
// build. They change a few times a second at most, so they are counted under a mutex rather than
// in per-worker cells. Series are derived from the current snapshot at scrape time, like the data
// plane's (snapshot_collector.h): every configured server and spawned instance is exported from
// startup at 0, and a server or instance removed by a reload disappears from the next scrape.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include "corral/metrics/snapshot_collector.h"

namespace corral::metrics {

/// Whether a server counts as up for corral_server_up: it passes its health checks, or it has
/// none. Called on the exposer's thread once per server and scrape, so it must be thread-safe.
/// An empty function counts every server as up (the behaviour without health checks).
using ServerStateProvider = std::function<bool(std::string_view backend, std::string_view server)>;

/// The `result` label of corral_health_checks_total.
enum class HealthCheckResult { Success, Timeout, Refused, BadStatus, Error, kCount };

/// The `result` label of corral_config_reloads_total.
enum class ReloadResult { Success, Failure };

class ControlMetrics : public prometheus::Collectable {
public:
  explicit ControlMetrics(SnapshotProvider snapshot, ServerStateProvider server_state = {});

  /// Each call is one finished check of BACKEND/SERVER (health/).
  void countHealthCheck(std::string_view backend, std::string_view server,
                        HealthCheckResult result);
  /// A spawned instance ("app#2") was started again after it ended (cluster/). Exported as
  /// corral_instance_restarts_total{backend,server="app#2"}: see appendRestartFamily for why the
  /// label is `server` and not `instance`.
  void countInstanceRestart(std::string_view backend, std::string_view instance);
  /// A reload (SIGHUP or the admin API) was applied or refused.
  void countConfigReload(ReloadResult result);

  /// corral_server_up, corral_health_checks_total, corral_instance_restarts_total,
  /// corral_config_reloads_total and corral_build_info.
  std::vector<prometheus::MetricFamily> Collect() const override;

private:
  using Key = std::pair<std::string, std::string>; // backend, server or instance
  using HealthCounts = std::array<uint64_t, static_cast<size_t>(HealthCheckResult::kCount)>;

  void appendServerFamilies(const runtime::Snapshot& snapshot,
                            std::vector<prometheus::MetricFamily>& families) const;
  void appendRestartFamily(const runtime::Snapshot& snapshot,
                           std::vector<prometheus::MetricFamily>& families) const;
  // Drops the counts of servers and instances that the snapshot no longer has, so that DNS churn
  // cannot grow the maps without bound. A name that comes back starts again at 0, which
  // Prometheus reads as a counter reset.
  void forgetRemoved(const runtime::Snapshot& snapshot) const;

  SnapshotProvider snapshot_;
  ServerStateProvider server_state_;
  mutable std::mutex mutex_; // guards the two maps: counted on the control thread, read by scrapes
  mutable std::map<Key, HealthCounts> health_checks_;
  mutable std::map<Key, uint64_t> restarts_;
  // Label values fixed at startup: plain prometheus-cpp metrics, which are thread-safe themselves.
  prometheus::Registry registry_;
  prometheus::Counter* reload_successes_;
  prometheus::Counter* reload_failures_;
};

/// The names that `spawn` gives a backend's instances: "app#0" .. "app#N-1", where N is
/// spawn.instances. Empty without `spawn`.
std::vector<std::string> instanceNames(const config::BackendConfig& backend);

} // namespace corral::metrics

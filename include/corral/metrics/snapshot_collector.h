#pragma once
// The data plane's counters as Prometheus metrics. Workers count into their own cells
// (runtime/stats.h); this collector sums the cells of the current snapshot when Prometheus
// scrapes, so the hot path never touches a shared counter. Every series is derived from the
// snapshot: a server removed by a reload is gone from the next scrape, and every frontend, server
// and backend of the configuration shows up at 0 before its first event (DESIGN.md, Metrics).

#include <functional>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "corral/runtime/snapshot.h"

namespace corral::metrics {

/// Returns the snapshot that workers currently route with; called once per scrape, on the
/// exposer's thread, so it must be safe to call from any thread. May return nullptr (no series).
using SnapshotProvider = std::function<runtime::SnapshotPtr()>;

/// corral_frontend_*, corral_server_* (except corral_server_up), corral_connect_failures_total,
/// corral_retries_total, corral_sticky_total, corral_tls_handshakes_total,
/// corral_tls_handshake_failures_total{frontend,reason},
/// corral_accept_errors_total and the connect and session duration histograms.
class SnapshotCollector : public prometheus::Collectable {
public:
  explicit SnapshotCollector(SnapshotProvider snapshot) : snapshot_(std::move(snapshot)) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

private:
  SnapshotProvider snapshot_;
};

} // namespace corral::metrics

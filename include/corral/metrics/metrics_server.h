#pragma once
// The /metrics endpoint on `metrics.listen` (DESIGN.md, Configuration): prometheus-cpp's Exposer
// serving the data plane's counters (SnapshotCollector), the control thread's (ControlMetrics)
// and the process metrics (ProcessCollector). The exposer answers scrapes on threads of its own;
// every collector is safe to call from them.

#include <memory>

#include "corral/config/config.h"
#include "corral/core/address.h"
#include "corral/core/error.h"
#include "corral/metrics/control_metrics.h"
#include "corral/metrics/snapshot_collector.h"

namespace prometheus {
class Exposer;
} // namespace prometheus

namespace corral::metrics {

class ProcessCollector;

class MetricsServer {
public:
  /// Listens on config.listen (a numeric address; port 0 picks a free port, see boundAddress()).
  /// `control` is shared: the health checker and the supervisor count into it whether or not the
  /// metrics endpoint is configured. Fails when the address is not numeric or cannot be bound.
  static Result<std::unique_ptr<MetricsServer>> create(const config::MetricsConfig& config,
                                                       SnapshotProvider snapshot,
                                                       std::shared_ptr<ControlMetrics> control);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  /// The address scrapes reach, with the port actually bound.
  SocketAddress boundAddress() const { return bound_; }

private:
  MetricsServer() = default;

  // The exposer keeps weak pointers to the collectors; they live exactly as long as it does.
  std::shared_ptr<SnapshotCollector> snapshot_collector_;
  std::shared_ptr<ControlMetrics> control_;
  std::shared_ptr<ProcessCollector> process_collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  SocketAddress bound_;
};

} // namespace corral::metrics

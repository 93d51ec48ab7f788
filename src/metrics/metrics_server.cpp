#include "corral/metrics/metrics_server.h"

#include <exception>

#include <fmt/format.h>
#include <prometheus/exposer.h>

#include "corral/core/log.h"
#include "corral/metrics/process_collector.h"

namespace corral::metrics {

Result<std::unique_ptr<MetricsServer>> MetricsServer::create(
    const config::MetricsConfig& config, SnapshotProvider snapshot,
    std::shared_ptr<ControlMetrics> control) {
  auto address = SocketAddress::fromHostPort(config.listen);
  if (!address) {
    return fail(ErrorCode::BadConfig,
                fmt::format("metrics.listen: expected a numeric address such as 127.0.0.1:9100, "
                            "got \"{}\"", config.listen.host));
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  try {
    // toString() is also civetweb's `listening_ports` syntax: "127.0.0.1:9100", "[::1]:9100".
    server->exposer_ = std::make_unique<prometheus::Exposer>(address->toString());
  } catch (const std::exception& error) { // civetweb throws when it cannot bind
    return fail(ErrorCode::Io, fmt::format("metrics: cannot listen on {}: {}",
                                           address->toString(), error.what()));
  }
  const std::vector<int> ports = server->exposer_->GetListeningPorts();
  if (ports.empty()) {
    return fail(ErrorCode::Io, fmt::format("metrics: not listening on {}", address->toString()));
  }
  config::MetricsConfig bound = config;
  bound.listen.port = static_cast<uint16_t>(ports.front());
  server->bound_ = *SocketAddress::fromHostPort(bound.listen);
  server->snapshot_collector_ = std::make_shared<SnapshotCollector>(std::move(snapshot));
  server->control_ = std::move(control);
  server->process_collector_ = std::make_shared<ProcessCollector>();
  server->exposer_->RegisterCollectable(server->snapshot_collector_);
  server->exposer_->RegisterCollectable(server->control_);
  server->exposer_->RegisterCollectable(server->process_collector_);
  log::metrics()->info("serving /metrics on {}", server->bound_.toString());
  return server;
}

MetricsServer::~MetricsServer() = default;

} // namespace corral::metrics

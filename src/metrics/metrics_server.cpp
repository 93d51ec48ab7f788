#include "corral/metrics/metrics_server.h"

#include <exception>

#include <fmt/format.h>
#include <prometheus/exposer.h>

#include "corral/core/log.h"
#include "corral/metrics/process_collector.h"

namespace corral::metrics {
namespace {

// civetweb serves each connection on one of a fixed set of threads, from accept until the request
// is answered; prometheus-cpp's default of two let two clients sending 1 byte/s hold every scrape
// for civetweb's 30 s request timeout. More threads than any likely number of slow clients, and a
// bound on the time to read a whole request (civetweb measures request_timeout_ms from the
// connection's first byte wait, not per read), keep scrapes answering; beyond the threads,
// connections wait in a bounded queue (connection_queue) and the listen backlog.
constexpr const char* kThreads = "16";
constexpr const char* kRequestTimeoutMs = "10000";
constexpr const char* kQueue = "32";

std::vector<std::string> civetwebOptions(const SocketAddress& address) {
  // toString() is also civetweb's `listening_ports` syntax: "127.0.0.1:9100", "[::1]:9100".
  return {"listening_ports", address.toString(),  "num_threads",      kThreads,
          "request_timeout_ms", kRequestTimeoutMs, "connection_queue", kQueue};
}

} // namespace

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
    server->exposer_ = std::make_unique<prometheus::Exposer>(civetwebOptions(*address));
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

#include "corral/metrics/snapshot_collector.h"

#include <array>
#include <string>

#include "corral/tls/handshake.h"

#include "metrics/families.h"

namespace corral::metrics {
namespace {

using runtime::Counter;

// Label values in the order of the enums in runtime/stats.h.
constexpr std::array<const char*, runtime::count<runtime::RejectReason>()> kRejectReasons = {
    "max_connections", "no_server", "proxy_protocol", "tls", "denied", "untrusted_proxy",
    "client_limit", "client_rate", "bad_request"};
constexpr std::array<const char*, runtime::count<runtime::StickyResult>()> kStickyResults = {
    "hit", "miss", "redispatch", "rejected"};
constexpr std::array<const char*, runtime::count<runtime::HashResult>()> kHashResults = {
    "hit", "fallback", "bounded"};
constexpr std::array<const char*, runtime::count<runtime::AcceptError>()> kAcceptErrors = {
    "emfile", "enfile", "enomem", "other"};
constexpr std::array<const char*, runtime::count<runtime::QueueRejection>()> kQueueRejections = {
    "timeout", "full"};

static_assert(tls::kHandshakeFailures.size() == runtime::kTlsFailureReasons,
              "FrontendCells::tls_failures has one cell per tls::HandshakeFailure");

// The value of one counter summed over every worker's cell; `read` picks the counter in a cell.
template <class Cells, class Read>
double sum(const runtime::PerWorker<Cells>& cells, Read read) {
  uint64_t total = 0;
  for (size_t worker = 0; worker < cells.size(); ++worker) {
    const Counter& counter = read(cells.at(worker));
    total += counter.get();
  }
  return static_cast<double>(total);
}

void appendFrontendFamilies(const runtime::Snapshot& snapshot,
                            std::vector<prometheus::MetricFamily>& families) {
  auto connections = counterFamily("corral_frontend_connections_total",
                                   "Client connections accepted by the frontend.");
  auto active = gaugeFamily("corral_frontend_active_connections",
                            "Client connections currently open on the frontend.");
  auto rejected = counterFamily("corral_frontend_rejected_connections_total",
                                "Client connections closed before reaching a server, by reason.");
  for (const runtime::Frontend& frontend : snapshot.frontends) {
    const std::string& name = frontend.config->name;
    const auto& cells = frontend.stats->cells;
    addSample(connections, {{"frontend", name}},
              sum(cells, [](const auto& c) -> const Counter& { return c.connections; }));
    addSample(active, {{"frontend", name}}, frontend.stats->active.load(std::memory_order_relaxed));
    for (size_t reason = 0; reason < kRejectReasons.size(); ++reason) {
      addSample(rejected, {{"frontend", name}, {"reason", kRejectReasons[reason]}},
                sum(cells, [&](const auto& c) -> const Counter& { return c.rejected[reason]; }));
    }
  }
  families.push_back(std::move(connections));
  families.push_back(std::move(active));
  families.push_back(std::move(rejected));
}

// Handshakes by result for the dashboard, and failures by reason to tell a scanner (protocol
// versions, plain HTTP) from a broken client or certificate (alerts, no shared cipher).
void appendTlsFamilies(const runtime::Snapshot& snapshot,
                       std::vector<prometheus::MetricFamily>& families) {
  auto handshakes = counterFamily("corral_tls_handshakes_total",
                                  "TLS handshakes with clients, by result and session resumption.");
  auto failures = counterFamily("corral_tls_handshake_failures_total",
                                "Failed TLS handshakes with clients, by reason.");
  for (const runtime::Frontend& frontend : snapshot.frontends) {
    const std::string& name = frontend.config->name;
    const auto& cells = frontend.stats->cells;
    // FrontendCells::tls_handshakes is indexed failed * 2 + resumed.
    for (size_t index = 0; index < 4; ++index) {
      addSample(
          handshakes,
          {{"frontend", name},
           {"result", index / 2 == 0 ? "success" : "failure"},
           {"resumed", index % 2 == 0 ? "false" : "true"}},
          sum(cells, [&](const auto& c) -> const Counter& { return c.tls_handshakes[index]; }));
    }
    // FrontendCells::tls_failures is indexed by tls::HandshakeFailure.
    for (const tls::HandshakeFailure failure : tls::kHandshakeFailures) {
      const auto index = static_cast<size_t>(failure);
      addSample(failures, {{"frontend", name}, {"reason", std::string(tls::label(failure))}},
                sum(cells, [&](const auto& c) -> const Counter& { return c.tls_failures[index]; }));
    }
  }
  families.push_back(std::move(handshakes));
  families.push_back(std::move(failures));
}

void appendServerFamilies(const runtime::Snapshot& snapshot,
                          std::vector<prometheus::MetricFamily>& families) {
  auto connections = counterFamily("corral_server_connections_total",
                                   "Sessions that reached the server.");
  auto active = gaugeFamily("corral_server_active_connections",
                            "Sessions currently open with the server.");
  auto bytes = counterFamily("corral_server_bytes_total",
                             "Bytes relayed: in = client to server, out = server to client.");
  auto failures = counterFamily("corral_connect_failures_total",
                                "Connects to the server that failed or timed out.");
  for (const runtime::Backend& backend : snapshot.backends) {
    for (const runtime::Server& server : backend.servers) {
      const Labels labels = {{"backend", backend.config->name}, {"server", server.name}};
      const auto& cells = server.stats->cells;
      addSample(connections, labels,
                sum(cells, [](const auto& c) -> const Counter& { return c.connections; }));
      addSample(active, labels, server.stats->active.load(std::memory_order_relaxed));
      Labels in = labels, out = labels;
      in.push_back({"direction", "in"});
      out.push_back({"direction", "out"});
      addSample(bytes, in, sum(cells, [](const auto& c) -> const Counter& { return c.bytes_in; }));
      addSample(bytes, out, sum(cells, [](const auto& c) -> const Counter& { return c.bytes_out; }));
      addSample(failures, labels,
                sum(cells, [](const auto& c) -> const Counter& { return c.connect_failures; }));
    }
  }
  families.push_back(std::move(connections));
  families.push_back(std::move(active));
  families.push_back(std::move(bytes));
  families.push_back(std::move(failures));
}

void appendBackendFamilies(const runtime::Snapshot& snapshot,
                           std::vector<prometheus::MetricFamily>& families) {
  auto retries = counterFamily("corral_retries_total",
                               "Connects retried on another server after a failure.");
  auto sticky = counterFamily("corral_sticky_total",
                              "Sticky-cookie placements: hit, miss (no cookie), redispatch "
                              "(server gone or down), rejected (forged or stale cookie).");
  auto queue_length = gaugeFamily("corral_backend_queue_length",
                                  "Clients waiting for a server under its max_connections.");
  auto queue_rejections = counterFamily("corral_backend_queue_rejections_total",
                                        "Clients closed by the queue: timeout (waited "
                                        "queue.timeout), full (queue.max already waiting).");
  auto hash = counterFamily("corral_hash_total",
                            "balance: hash placements: hit (the key's server), fallback (no key), "
                            "bounded (the key's server was over bounded_load).");
  for (const runtime::Backend& backend : snapshot.backends) {
    const std::string& name = backend.config->name;
    const auto& cells = backend.stats->cells;
    addSample(retries, {{"backend", name}},
              sum(cells, [](const auto& c) -> const Counter& { return c.retries; }));
    for (size_t result = 0; result < kStickyResults.size(); ++result) {
      addSample(sticky, {{"backend", name}, {"result", kStickyResults[result]}},
                sum(cells, [&](const auto& c) -> const Counter& { return c.sticky[result]; }));
    }
    addSample(queue_length, {{"backend", name}}, backend.stats->queue.length());
    for (size_t reason = 0; reason < kQueueRejections.size(); ++reason) {
      addSample(queue_rejections, {{"backend", name}, {"reason", kQueueRejections[reason]}},
                sum(cells, [&](const auto& c) -> const Counter& {
                  return c.queue_rejections[reason];
                }));
    }
    for (size_t result = 0; result < kHashResults.size(); ++result) {
      addSample(hash, {{"backend", name}, {"result", kHashResults[result]}},
                sum(cells, [&](const auto& c) -> const Counter& { return c.hash[result]; }));
    }
  }
  families.push_back(std::move(retries));
  families.push_back(std::move(sticky));
  families.push_back(std::move(queue_length));
  families.push_back(std::move(queue_rejections));
  families.push_back(std::move(hash));
}

void appendWorkerFamilies(const runtime::Snapshot& snapshot,
                          std::vector<prometheus::MetricFamily>& families) {
  const auto& cells = *snapshot.worker_cells;
  auto accept_errors = counterFamily("corral_accept_errors_total",
                                     "accept() failures on a listening socket, by errno.");
  for (size_t reason = 0; reason < kAcceptErrors.size(); ++reason) {
    addSample(accept_errors, {{"reason", kAcceptErrors[reason]}},
              sum(cells, [&](const auto& c) -> const Counter& { return c.accept_errors[reason]; }));
  }
  HistogramTotals connect, session, queued;
  for (size_t worker = 0; worker < cells.size(); ++worker) {
    connect.add(cells.at(worker).connect_duration);
    session.add(cells.at(worker).session_duration);
    queued.add(cells.at(worker).queue_duration);
  }
  auto connect_family = histogramFamily("corral_server_connect_duration_seconds",
                                        "Time from the start of a connect to a server until it "
                                        "succeeded.");
  addHistogram(connect_family, {}, connect);
  auto session_family = histogramFamily("corral_session_duration_seconds",
                                        "Time from accepting a client until its session closed.");
  addHistogram(session_family, {}, session);
  auto queue_family = histogramFamily("corral_backend_queue_seconds",
                                      "Time clients waited in a backend's queue (served or not).");
  addHistogram(queue_family, {}, queued);
  families.push_back(std::move(accept_errors));
  families.push_back(std::move(connect_family));
  families.push_back(std::move(session_family));
  families.push_back(std::move(queue_family));
}

} // namespace

std::vector<prometheus::MetricFamily> SnapshotCollector::Collect() const {
  const runtime::SnapshotPtr snapshot = snapshot_ ? snapshot_() : nullptr;
  if (snapshot == nullptr) {
    return {};
  }
  std::vector<prometheus::MetricFamily> families;
  appendFrontendFamilies(*snapshot, families);
  appendTlsFamilies(*snapshot, families);
  appendServerFamilies(*snapshot, families);
  appendBackendFamilies(*snapshot, families);
  appendWorkerFamilies(*snapshot, families);
  return families;
}

} // namespace corral::metrics

#include "corral/metrics/snapshot_collector.h"

#include <cmath>

#include <gtest/gtest.h>

#include "corral/tls/handshake.h"

#include "tests/unit/metrics/metrics_test_support.h"

namespace corral::metrics {
namespace {

using namespace testing;
using runtime::SnapshotPtr;

// A collector reading whatever snapshot `current` holds, as the proxy's would after a reload.
struct Fixture {
  SnapshotPtr current;
  SnapshotCollector collector{[this] { return current; }};
};

runtime::ServerStats& statsOf(const SnapshotPtr& snapshot, size_t server) {
  return *snapshot->backends.at(0).servers.at(server).stats;
}

// Each worker counts into its own cell; a scrape shows the sum over the three workers.
TEST(SnapshotCollectorTest, SumsEachCounterOverEveryWorker) {
  Fixture fixture{.current = build(webConfig({server("s1", 9001)}))};
  const SnapshotPtr& snapshot = fixture.current;
  for (size_t worker = 0; worker < 3; ++worker) {
    const uint64_t n = uint64_t{1} << worker; // 1, 2, 4: a lost or doubled cell changes the sum
    auto& server = statsOf(snapshot, 0).cells.at(worker);
    server.connections.add(n);
    server.bytes_in.add(100 * n);
    server.bytes_out.add(1000 * n);
    server.connect_failures.add(n);
    snapshot->frontends[0].stats->cells.at(worker).connections.add(n);
    snapshot->frontends[0].stats->cells.at(worker).rejected[1].add(n);
    snapshot->backends[0].stats->cells.at(worker).retries.add(n);
    snapshot->backends[0].stats->cells.at(worker).sticky[2].add(n);
    snapshot->worker_cells->at(worker).accept_errors[0].add(n);
  }
  const auto families = fixture.collector.Collect();
  const LabelMap s1 = {{"backend", "app"}, {"server", "s1"}};
  EXPECT_EQ(valueOf(families, "corral_server_connections_total", s1), 7);
  EXPECT_EQ(valueOf(families, "corral_server_bytes_total",
                    {{"backend", "app"}, {"server", "s1"}, {"direction", "in"}}), 700);
  EXPECT_EQ(valueOf(families, "corral_server_bytes_total",
                    {{"backend", "app"}, {"server", "s1"}, {"direction", "out"}}), 7000);
  EXPECT_EQ(valueOf(families, "corral_connect_failures_total", s1), 7);
  EXPECT_EQ(valueOf(families, "corral_frontend_connections_total", {{"frontend", "web"}}), 7);
  EXPECT_EQ(valueOf(families, "corral_frontend_rejected_connections_total",
                    {{"frontend", "web"}, {"reason", "no_server"}}), 7);
  EXPECT_EQ(valueOf(families, "corral_retries_total", {{"backend", "app"}}), 7);
  EXPECT_EQ(valueOf(families, "corral_sticky_total", {{"backend", "app"}, {"result", "redispatch"}}), 7);
  EXPECT_EQ(valueOf(families, "corral_accept_errors_total", {{"reason", "emfile"}}), 7);
}

// Active connections are live gauges shared by the workers, read as they are.
TEST(SnapshotCollectorTest, ReportsActiveConnectionsOfFrontendsAndServers) {
  Fixture fixture{.current = build(webConfig({server("s1", 9001), server("s2", 9002)}))};
  fixture.current->frontends[0].stats->active = 5;
  statsOf(fixture.current, 1).active = 3;
  const auto families = fixture.collector.Collect();
  EXPECT_EQ(valueOf(families, "corral_frontend_active_connections", {{"frontend", "web"}}), 5);
  EXPECT_EQ(valueOf(families, "corral_server_active_connections",
                    {{"backend", "app"}, {"server", "s1"}}), 0);
  EXPECT_EQ(valueOf(families, "corral_server_active_connections",
                    {{"backend", "app"}, {"server", "s2"}}), 3);
}

// A dashboard and an alert see every series before the first event: one per configured
// frontend, server and backend, times each fixed reason or result, all at 0.
TEST(SnapshotCollectorTest, ExportsEverySeriesAtZeroBeforeTheFirstEvent) {
  Fixture fixture{.current = build(webConfig({server("s1", 9001), server("s2", 9002)}))};
  const auto families = fixture.collector.Collect();
  const std::map<std::string, size_t> expected_series = {
      {"corral_frontend_connections_total", 1},
      {"corral_frontend_active_connections", 1},
      {"corral_frontend_rejected_connections_total", 9}, // 9 reasons
      {"corral_tls_handshakes_total", 4},                // 2 results x 2 resumed
      {"corral_tls_handshake_failures_total", 8},        // 8 reasons
      {"corral_server_connections_total", 2},
      {"corral_server_active_connections", 2},
      {"corral_server_bytes_total", 4}, // 2 servers x 2 directions
      {"corral_connect_failures_total", 2},
      {"corral_retries_total", 1},
      {"corral_sticky_total", 4},
      {"corral_hash_total", 3}, // hit, fallback, bounded
      {"corral_accept_errors_total", 4},
      {"corral_server_connect_duration_seconds", 1},
      {"corral_session_duration_seconds", 1},
      {"corral_backend_queue_length", 1},
      {"corral_backend_queue_rejections_total", 2}, // timeout, full
      {"corral_backend_queue_seconds", 1}};
  ASSERT_EQ(families.size(), expected_series.size());
  for (const auto& family : families) {
    ASSERT_TRUE(expected_series.contains(family.name)) << family.name;
    EXPECT_EQ(family.metric.size(), expected_series.at(family.name)) << family.name;
    for (const auto& series : family.metric) {
      EXPECT_EQ(series.counter.value + series.gauge.value + series.histogram.sample_count, 0)
          << family.name;
    }
  }
}

// Label names and values are exactly those of DESIGN.md, spelled the same.
TEST(SnapshotCollectorTest, LabelsFollowTheDesign) {
  Fixture fixture{.current = build(webConfig({server("s1", 9001)}))};
  const auto families = fixture.collector.Collect();
  EXPECT_EQ(labelSets(families, "corral_frontend_rejected_connections_total"),
            (std::vector<LabelMap>{{{"frontend", "web"}, {"reason", "max_connections"}},
                                   {{"frontend", "web"}, {"reason", "no_server"}},
                                   {{"frontend", "web"}, {"reason", "proxy_protocol"}},
                                   {{"frontend", "web"}, {"reason", "tls"}},
                                   {{"frontend", "web"}, {"reason", "denied"}},
                                   {{"frontend", "web"}, {"reason", "untrusted_proxy"}},
                                   {{"frontend", "web"}, {"reason", "client_limit"}},
                                   {{"frontend", "web"}, {"reason", "client_rate"}},
                                   {{"frontend", "web"}, {"reason", "bad_request"}}}));
  EXPECT_EQ(labelSets(families, "corral_sticky_total"),
            (std::vector<LabelMap>{{{"backend", "app"}, {"result", "hit"}},
                                   {{"backend", "app"}, {"result", "miss"}},
                                   {{"backend", "app"}, {"result", "redispatch"}},
                                   {{"backend", "app"}, {"result", "rejected"}}}));
  EXPECT_EQ(labelSets(families, "corral_accept_errors_total"),
            (std::vector<LabelMap>{{{"reason", "emfile"}},
                                   {{"reason", "enfile"}},
                                   {{"reason", "enomem"}},
                                   {{"reason", "other"}}}));
  EXPECT_EQ(labelSets(families, "corral_server_bytes_total"),
            (std::vector<LabelMap>{{{"backend", "app"}, {"server", "s1"}, {"direction", "in"}},
                                   {{"backend", "app"}, {"server", "s1"}, {"direction", "out"}}}));
}

// FrontendCells::tls_handshakes is indexed failed * 2 + resumed.
TEST(SnapshotCollectorTest, MapsHandshakeCellsToResultAndResumption) {
  Fixture fixture{.current = build(webConfig({server("s1", 9001)}))};
  auto& cells = fixture.current->frontends[0].stats->cells;
  for (size_t index = 0; index < 4; ++index) {
    cells.at(index % 3).tls_handshakes[index].add(index + 1); // a distinct count per cell
  }
  const auto families = fixture.collector.Collect();
  auto handshakes = [&](const char* result, const char* resumed) {
    return valueOf(families, "corral_tls_handshakes_total",
                   {{"frontend", "web"}, {"result", result}, {"resumed", resumed}});
  };
  EXPECT_EQ(handshakes("success", "false"), 1);
  EXPECT_EQ(handshakes("success", "true"), 2);
  EXPECT_EQ(handshakes("failure", "false"), 3);
  EXPECT_EQ(handshakes("failure", "true"), 4);
}

// FrontendCells::tls_failures is indexed by tls::HandshakeFailure: each cell shows up under its
// own reason label, summed over the workers, and every reason is there from startup.
TEST(SnapshotCollectorTest, ExportsTlsHandshakeFailuresByReason) {
  Fixture fixture{.current = build(webConfig({server("s1", 9001)}))};
  auto& cells = fixture.current->frontends[0].stats->cells;
  for (const tls::HandshakeFailure failure : tls::kHandshakeFailures) {
    const auto index = static_cast<size_t>(failure);
    cells.at(0).tls_failures[index].add(index + 1); // a distinct count per reason...
    cells.at(2).tls_failures[index].add(100);       // ...plus the same on another worker
  }
  const auto families = fixture.collector.Collect();
  const std::map<std::string, double> expected = {
      {"no_shared_cipher", 101}, {"unsupported_protocol", 102}, {"http_request", 103},
      {"not_tls", 104},          {"client_alert", 105},         {"peer_closed", 106},
      {"timeout", 107},          {"other", 108}};
  std::map<std::string, double> seen;
  for (const LabelMap& labels : labelSets(families, "corral_tls_handshake_failures_total")) {
    EXPECT_EQ(labels.at("frontend"), "web");
    seen[labels.at("reason")] =
        valueOf(families, "corral_tls_handshake_failures_total", labels).value_or(-1);
  }
  EXPECT_EQ(seen, expected);
}

// A reload drops s2: its series go, while s1 keeps the counts it had (its cells carry over).
TEST(SnapshotCollectorTest, RemovedServersDisappearAfterAReload) {
  Fixture fixture{.current = build(webConfig({server("s1", 9001), server("s2", 9002)}))};
  statsOf(fixture.current, 0).cells.at(2).connections.add(5);
  statsOf(fixture.current, 1).cells.at(0).connections.add(9);
  const SnapshotPtr before = fixture.current;
  fixture.current = build(webConfig({server("s1", 9001)}), before.get());
  const auto families = fixture.collector.Collect();
  EXPECT_EQ(valueOf(families, "corral_server_connections_total",
                    {{"backend", "app"}, {"server", "s1"}}), 5);
  for (const char* name : {"corral_server_connections_total", "corral_server_active_connections",
                           "corral_server_bytes_total", "corral_connect_failures_total"}) {
    for (const LabelMap& labels : labelSets(families, name)) {
      EXPECT_EQ(labels.at("server"), "s1") << name;
    }
  }
}

// Prometheus buckets count every observation at or below their bound, so each bucket includes
// the ones before it, and +Inf equals the count. Observations land on three workers.
TEST(SnapshotCollectorTest, HistogramBucketsAreCumulative) {
  Fixture fixture{.current = build(webConfig({server("s1", 9001)}))};
  auto& cells = *fixture.current->worker_cells;
  cells.at(0).connect_duration.observe(0.00005); // ≤ 100 µs
  cells.at(1).connect_duration.observe(0.0001);  // ≤ 100 µs: bounds are inclusive
  cells.at(2).connect_duration.observe(0.003);   // ≤ 5 ms
  cells.at(0).connect_duration.observe(30);      // above 10 s: +Inf only
  const auto families = fixture.collector.Collect();
  const auto* series = findSeries(families, "corral_server_connect_duration_seconds", {});
  ASSERT_NE(series, nullptr);
  const auto& buckets = series->histogram.bucket;
  ASSERT_EQ(buckets.size(), runtime::Histogram::kBounds.size() + 1);
  std::map<double, uint64_t> cumulative;
  for (const auto& bucket : buckets) {
    cumulative[bucket.upper_bound] = bucket.cumulative_count;
  }
  EXPECT_EQ(cumulative.at(0.0001), 2);
  EXPECT_EQ(cumulative.at(0.0025), 2);
  EXPECT_EQ(cumulative.at(0.005), 3);
  EXPECT_EQ(cumulative.at(10), 3);
  EXPECT_TRUE(std::isinf(buckets.back().upper_bound));
  EXPECT_EQ(buckets.back().cumulative_count, 4);
  EXPECT_EQ(series->histogram.sample_count, 4);
  EXPECT_NEAR(series->histogram.sample_sum, 30.00315, 1e-5);
  const auto* session = findSeries(families, "corral_session_duration_seconds", {});
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(session->histogram.sample_count, 0);
}

// Before the proxy has a snapshot, a scrape is empty rather than a crash.
TEST(SnapshotCollectorTest, ExportsNothingWithoutASnapshot) {
  Fixture fixture;
  EXPECT_TRUE(fixture.collector.Collect().empty());
}

} // namespace
} // namespace corral::metrics

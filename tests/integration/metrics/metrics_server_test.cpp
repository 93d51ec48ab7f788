// MetricsServer in this process, scraped over 127.0.0.1 and checked with promtool: the exposition
// that Prometheus will read, without the corral binary.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "corral/metrics/metrics_server.h"

#include "tests/integration/metrics/prometheus_server.h"
#include "tests/support/child_process.h"
#include "tests/support/http_client.h"

namespace corral::metrics {
namespace {

using namespace std::chrono_literals;

runtime::SnapshotPtr twoServerSnapshot() {
  config::Config config;
  config.workers = 2;
  config.frontends.push_back(
      {.name = "web", .listen = {.host = "127.0.0.1", .port = 0}, .backend = "app"});
  config::BackendConfig app{.name = "app"};
  app.servers = {{.address = {.host = "127.0.0.1", .port = 9001}, .name = "s1"},
                 {.address = {.host = "127.0.0.1", .port = 9002}, .name = "s2"}};
  config.backends.push_back(std::move(app));
  config::BackendConfig demo{.name = "demo"}; // spawned instances: restart series
  demo.spawn = config::SpawnConfig{
      .command = {"demo"}, .instances = 2, .port_first = 9100, .port_last = 9199};
  config.backends.push_back(std::move(demo));
  auto snapshot = runtime::Snapshot::build(std::move(config));
  EXPECT_TRUE(snapshot.has_value());
  return snapshot.value_or(nullptr);
}

struct Served {
  runtime::SnapshotPtr snapshot = twoServerSnapshot();
  SnapshotProvider provider = [this] { return snapshot; };
  std::shared_ptr<ControlMetrics> control = std::make_shared<ControlMetrics>(provider);

  Result<std::unique_ptr<MetricsServer>> start(config::MetricsConfig config = {
                                                   .listen = {.host = "127.0.0.1", .port = 0}}) {
    return MetricsServer::create(config, provider, control);
  }
};

std::string scrape(const MetricsServer& server) {
  const auto response = test::httpGet(server.boundAddress().toString(), "/metrics");
  EXPECT_EQ(response.head.status, 200) << response.error << response.body;
  return response.body;
}

// Port 0 binds a free port, and boundAddress() says which: that is how `corral run` reports it.
TEST(MetricsServerTest, ServesEveryCollectorOnTheBoundPort) {
  Served served;
  served.snapshot->backends[0].servers[1].stats->cells.at(1).connections.add(3);
  auto server = served.start();
  ASSERT_TRUE(server.has_value()) << server.error().message;
  EXPECT_NE((*server)->boundAddress().port(), 0);
  EXPECT_EQ((*server)->boundAddress().ipString(), "127.0.0.1");
  const std::string text = scrape(**server);
  EXPECT_NE(text.find(R"(corral_server_connections_total{backend="app",server="s2"} 3)"),
            std::string::npos) << text;
  EXPECT_NE(text.find(R"(corral_server_up{backend="app",server="s1"} 1)"), std::string::npos);
  EXPECT_NE(text.find("corral_build_info{version="), std::string::npos);
  EXPECT_NE(text.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(text.find(R"(corral_session_duration_seconds_bucket{le="+Inf"} 0)"), std::string::npos);
}

// promtool lints names, types, help texts and histogram layout; silence means nothing to fix.
TEST(MetricsServerTest, PromtoolFindsNothingToReportInTheExposition) {
  ASSERT_FALSE(test::promtoolBinary().empty()) << "promtool is not installed (Debian package prometheus)";
  Served served;
  served.snapshot->worker_cells->at(0).connect_duration.observe(0.002);
  served.control->countHealthCheck("app", "s1", HealthCheckResult::Timeout);
  auto server = served.start();
  ASSERT_TRUE(server.has_value()) << server.error().message;
  const auto result =
      test::runCommand({test::promtoolBinary(), "check", "metrics"},
                       {.input = scrape(**server), .timeout = 30s, .merge_output = true});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "");
}

TEST(MetricsServerTest, RefusesAHostName) {
  Served served;
  auto server = served.start({.listen = {.host = "localhost", .port = 0}});
  ASSERT_FALSE(server.has_value());
  EXPECT_EQ(server.error().code, ErrorCode::BadConfig);
  EXPECT_NE(server.error().message.find("metrics.listen"), std::string::npos);
}

// A port in use is a startup failure with a message, not an exception out of civetweb.
TEST(MetricsServerTest, FailsWhenThePortIsInUse) {
  Served served;
  auto first = served.start();
  ASSERT_TRUE(first.has_value()) << first.error().message;
  auto second = served.start({.listen = {.host = "127.0.0.1", .port = (*first)->boundAddress().port()}});
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::Io);
  EXPECT_NE(second.error().message.find("cannot listen on 127.0.0.1:"), std::string::npos)
      << second.error().message;
}

} // namespace
} // namespace corral::metrics

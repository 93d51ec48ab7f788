// The real `corral run` scraped by the real tools: promtool lints a live scrape, and a real
// Prometheus scraping corral under light traffic evaluates every query of grafana/corral.json.

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/metrics/child_process.h"
#include "tests/integration/metrics/dashboard_queries.h"
#include "tests/integration/metrics/http_get.h"
#include "tests/integration/metrics/prometheus_server.h"
#include "tests/support/corral_process.h"
#include "tests/support/fake_backend.h"
#include "tests/support/tcp_client.h"

namespace corral::test {
namespace {

// Two fake servers behind one frontend, and a backend of spawned instances so that the
// instance-restart series exist too (spawn ports: ten from a port that was free just now).
constexpr std::string_view kConfig = R"(
workers: 2
access_log: "off"
metrics: {listen: "127.0.0.1:0"}
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app}
  - {name: demo, listen: "127.0.0.1:0", backend: demo}
backends:
  - name: app
    servers: [{address: "${s1}", name: s1}, {address: "${s2}", name: s2}]
  - name: demo
    spawn: {command: ["${demo}"], instances: 2, ports: "${ports}"}
)";

struct RunningCorral {
  FakeBackend s1{"s1"}, s2{"s2"};
  CorralProcess corral{kConfig, substitutions()};

  Substitutions substitutions() const {
    Substitutions values = addressesOf({s1, s2});
    const uint16_t first = freeLoopbackPort();
    values["ports"] = fmt::format("{}-{}", first, first + 9);
    values["demo"] = DEMO_BACKEND_BINARY;
    return values;
  }

  // `--ready-file` holds {"metrics": "127.0.0.1:PORT"} once the endpoint is bound; the file sits
  // beside the configuration in the process's folder.
  std::string metricsAddress() const {
    std::ifstream in(corral.configPath().parent_path() / "ready.json");
    const auto ready = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    return ready.is_object() ? ready.value("metrics", "") : "";
  }

  void sendTraffic(int connections) {
    for (int i = 0; i < connections; ++i) {
      TcpClient client(corral.listenAddress("web"));
      EXPECT_TRUE(client.connected()) << client.error();
      const std::string reply = client.readAll(5s);
      EXPECT_TRUE(reply == "s1" || reply == "s2") << reply;
    }
  }
};

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(CorralMetricsTest, PromtoolFindsNothingToReportInALiveScrape) {
  ASSERT_FALSE(promtoolBinary().empty()) << "promtool is not installed (Debian package prometheus)";
  RunningCorral running;
  ASSERT_TRUE(running.corral.ready());
  const std::string metrics = running.metricsAddress();
  ASSERT_FALSE(metrics.empty()) << "the ready file names no \"metrics\" address";
  running.sendTraffic(4);
  const HttpResponse scrape = httpGet(metrics, "/metrics");
  ASSERT_EQ(scrape.status, 200) << scrape.body;
  EXPECT_NE(scrape.body.find(R"(corral_frontend_connections_total{frontend="web"})"),
            std::string::npos) << scrape.body;
  const ToolResult lint = runTool({promtoolBinary(), "check", "metrics"}, scrape.body);
  EXPECT_EQ(lint.exit_code, 0);
  EXPECT_EQ(lint.output, "") << "scrape:\n" << scrape.body;
}

// Every panel query is valid PromQL and finds series: a misspelt metric or label, or a metric
// that corral does not export from startup, leaves a panel empty.
TEST(CorralMetricsTest, EveryDashboardQueryReturnsSeriesFromARealPrometheus) {
  const auto dashboard = nlohmann::json::parse(readFile(CORRAL_DASHBOARD), nullptr, false);
  ASSERT_TRUE(dashboard.is_object()) << CORRAL_DASHBOARD << " is not JSON";
  const std::vector<DashboardQuery> queries = dashboardQueries(dashboard);
  ASSERT_GE(queries.size(), 10u);
  RunningCorral running;
  ASSERT_TRUE(running.corral.ready());
  ASSERT_FALSE(running.metricsAddress().empty()) << "the ready file names no \"metrics\" address";
  const PrometheusServer prometheus(running.metricsAddress());
  ASSERT_TRUE(prometheus.ready());
  running.sendTraffic(6);
  // rate() over 1m needs two samples; wait for three scrapes after the traffic.
  ASSERT_TRUE(prometheus.waitForValue(R"(count_over_time(up{job="corral"}[1m]))", 3, 30s))
      << prometheus.log();
  ASSERT_TRUE(prometheus.waitForValue(R"(sum(corral_frontend_connections_total))", 6, 10s));
  for (const DashboardQuery& query : queries) {
    EXPECT_EQ(query.expr.find('$'), std::string::npos)
        << query.panel << ": a variable was left in " << query.expr;
    const nlohmann::json response = prometheus.query(query.expr);
    if (response.value("status", "") != "success") {
      ADD_FAILURE() << query.panel << ": " << query.expr << "\n" << response.dump();
      continue;
    }
    EXPECT_FALSE(response["data"]["result"].empty())
        << query.panel << ": no series for " << query.expr;
  }
}

} // namespace
} // namespace corral::test

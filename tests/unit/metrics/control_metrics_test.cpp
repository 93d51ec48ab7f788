#include "corral/metrics/control_metrics.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "tests/unit/metrics/metrics_test_support.h"

namespace corral::metrics {
namespace {

using namespace testing;
using runtime::SnapshotPtr;

// Backend "app" with s1 and s2, and backend "demo" whose `instances` instances corral spawns.
config::Config spawnedConfig(uint32_t instances) {
  config::Config config = webConfig({server("s1", 9001), server("s2", 9002)});
  config::BackendConfig demo{.name = "demo"};
  demo.spawn = config::SpawnConfig{
      .command = {"demo"}, .instances = instances, .port_first = 9100, .port_last = 9199};
  config.backends.push_back(std::move(demo));
  return config;
}

// Without health checks (no state provider) every server counts as up.
TEST(ControlMetricsTest, EveryServerIsUpWithoutHealthChecks) {
  const SnapshotPtr snapshot = build(webConfig({server("s1", 9001), server("s2", 9002)}));
  const ControlMetrics metrics([&] { return snapshot; });
  const auto families = metrics.Collect();
  EXPECT_EQ(valueOf(families, "corral_server_up", {{"backend", "app"}, {"server", "s1"}}), 1);
  EXPECT_EQ(valueOf(families, "corral_server_up", {{"backend", "app"}, {"server", "s2"}}), 1);
}

TEST(ControlMetricsTest, ServerUpFollowsTheStateProvider) {
  const SnapshotPtr snapshot = build(webConfig({server("s1", 9001), server("s2", 9002)}));
  const ControlMetrics metrics([&] { return snapshot; },
                               [](std::string_view backend, std::string_view server) {
                                 return !(backend == "app" && server == "s2");
                               });
  const auto families = metrics.Collect();
  EXPECT_EQ(valueOf(families, "corral_server_up", {{"backend", "app"}, {"server", "s1"}}), 1);
  EXPECT_EQ(valueOf(families, "corral_server_up", {{"backend", "app"}, {"server", "s2"}}), 0);
}

// Every result of every configured server is there at 0, so a rate() of failures works before
// the first failure; counting moves only the one series.
TEST(ControlMetricsTest, CountsHealthChecksPerServerAndResult) {
  const SnapshotPtr snapshot = build(webConfig({server("s1", 9001), server("s2", 9002)}));
  ControlMetrics metrics([&] { return snapshot; });
  EXPECT_EQ(labelSets(metrics.Collect(), "corral_health_checks_total").size(), 2 * 5);
  metrics.countHealthCheck("app", "s2", HealthCheckResult::Timeout);
  metrics.countHealthCheck("app", "s2", HealthCheckResult::Timeout);
  metrics.countHealthCheck("app", "s1", HealthCheckResult::Success);
  const auto families = metrics.Collect();
  auto checks = [&](const char* server, const char* result) {
    return valueOf(families, "corral_health_checks_total",
                   {{"backend", "app"}, {"server", server}, {"result", result}});
  };
  EXPECT_EQ(checks("s2", "timeout"), 2);
  EXPECT_EQ(checks("s1", "success"), 1);
  EXPECT_EQ(checks("s1", "timeout"), 0);
  for (const char* result : {"refused", "bad_status", "error"}) {
    EXPECT_EQ(checks("s1", result), 0) << result;
  }
}

// Spawned instances are demo#0 .. demo#N-1 from startup; a restart counts on its instance.
TEST(ControlMetricsTest, CountsRestartsPerSpawnedInstance) {
  const SnapshotPtr snapshot = build(spawnedConfig(3));
  ControlMetrics metrics([&] { return snapshot; });
  metrics.countInstanceRestart("demo", "demo#1");
  const auto families = metrics.Collect();
  EXPECT_EQ(labelSets(families, "corral_instance_restarts_total"),
            (std::vector<LabelMap>{{{"backend", "demo"}, {"server", "demo#0"}},
                                   {{"backend", "demo"}, {"server", "demo#1"}},
                                   {{"backend", "demo"}, {"server", "demo#2"}}}));
  EXPECT_EQ(valueOf(families, "corral_instance_restarts_total",
                    {{"backend", "demo"}, {"server", "demo#1"}}), 1);
}

// Prometheus sets `instance` on every scraped series to the target's address and renames an
// exported `instance` to `exported_instance`; so the slot goes in `server`. Its values are the
// spawned servers' names, so each restart series matches one corral_server_up series exactly
// and the two join on (backend, server).
TEST(ControlMetricsTest, RestartSeriesUseTheServerLabelOfTheSpawnedServers) {
  const SnapshotPtr snapshot = build(spawnedConfig(2));
  ControlMetrics metrics([&] { return snapshot; });
  const auto families = metrics.Collect();
  const std::vector<LabelMap> restarts = labelSets(families, "corral_instance_restarts_total");
  const std::vector<LabelMap> up = labelSets(families, "corral_server_up");
  ASSERT_EQ(restarts.size(), 2u);
  for (const LabelMap& labels : restarts) {
    EXPECT_FALSE(labels.contains("instance"));
    EXPECT_NE(std::find(up.begin(), up.end(), labels), up.end()) << labels.at("server");
  }
}

// `instances: auto` reaches here as a count: the loader resolves it (LoaderTest).
TEST(ControlMetricsTest, NamesOneSeriesPerInstance) {
  config::BackendConfig backend = spawnedConfig(4).backends[1];
  EXPECT_EQ(instanceNames(backend),
            (std::vector<std::string>{"demo#0", "demo#1", "demo#2", "demo#3"}));
  backend.spawn.reset();
  EXPECT_TRUE(instanceNames(backend).empty());
}

// A reload that removes s2 and shrinks the instances takes their series away; when s2 comes
// back, it starts again from 0 (Prometheus reads that as a counter reset).
TEST(ControlMetricsTest, RemovedServersAndInstancesDisappearAfterAReload) {
  SnapshotPtr current = build(spawnedConfig(3));
  ControlMetrics metrics([&] { return current; });
  metrics.countHealthCheck("app", "s2", HealthCheckResult::Refused);
  metrics.countInstanceRestart("demo", "demo#2");
  config::Config smaller = spawnedConfig(2);
  smaller.backends[0].servers.pop_back();
  current = build(std::move(smaller), current.get());
  const auto families = metrics.Collect();
  for (const char* name : {"corral_server_up", "corral_health_checks_total"}) {
    for (const LabelMap& labels : labelSets(families, name)) {
      if (labels.at("backend") == "app") {
        EXPECT_EQ(labels.at("server"), "s1") << name;
      }
    }
  }
  EXPECT_EQ(labelSets(families, "corral_instance_restarts_total").size(), 2);
  current = build(spawnedConfig(3), current.get());
  const auto again = metrics.Collect();
  EXPECT_EQ(valueOf(again, "corral_health_checks_total",
                    {{"backend", "app"}, {"server", "s2"}, {"result", "refused"}}), 0);
  EXPECT_EQ(valueOf(again, "corral_instance_restarts_total",
                    {{"backend", "demo"}, {"server", "demo#2"}}), 0);
}

TEST(ControlMetricsTest, CountsReloadsBySuccessAndFailureFromZero) {
  ControlMetrics metrics([] { return SnapshotPtr(); });
  const auto at_start = metrics.Collect();
  EXPECT_EQ(valueOf(at_start, "corral_config_reloads_total", {{"result", "success"}}), 0);
  EXPECT_EQ(valueOf(at_start, "corral_config_reloads_total", {{"result", "failure"}}), 0);
  metrics.countConfigReload(ReloadResult::Failure);
  const auto families = metrics.Collect();
  EXPECT_EQ(valueOf(families, "corral_config_reloads_total", {{"result", "success"}}), 0);
  EXPECT_EQ(valueOf(families, "corral_config_reloads_total", {{"result", "failure"}}), 1);
}

// corral_build_info is 1 with the version of this build (PROJECT_VERSION in CMake).
TEST(ControlMetricsTest, ExportsBuildInfoWithTheVersion) {
  const ControlMetrics metrics([] { return SnapshotPtr(); });
  const auto sets = labelSets(metrics.Collect(), "corral_build_info");
  ASSERT_EQ(sets.size(), 1);
  EXPECT_EQ(sets[0].size(), 1);
  EXPECT_FALSE(sets[0].at("version").empty());
  EXPECT_EQ(valueOf(metrics.Collect(), "corral_build_info", sets[0]), 1);
}

} // namespace
} // namespace corral::metrics

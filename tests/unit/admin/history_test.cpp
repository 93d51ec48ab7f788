// The history behind GET /api/v1/history: rates from counter differences, a bounded ring per
// server, servers that leave the status leave the history.

#include <chrono>

#include <nlohmann/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "admin/history.h"

namespace corral::admin {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

Status statusWith(uint64_t total, uint64_t bytes_in, const std::string& state = "up",
                  bool second_server = false) {
  BackendStatus backend{.name = "app", .balance = "round_robin", .servers = {}};
  backend.servers.push_back(ServerStatus{.name = "s1", .address = "127.0.0.1:9001", .state = state,
                                         .active = 3, .total = total, .bytes_in = bytes_in});
  if (second_server) {
    backend.servers.push_back(ServerStatus{.name = "s2", .address = "127.0.0.1:9002"});
  }
  return Status{.version = "test", .uptime_s = 1, .frontends = {}, .backends = {backend}};
}

TEST(HistoryTest, RatesAreCounterDifferencesOverTheTimeBetweenSamples) {
  History history(5min, 1s);
  history.record(statusWith(100, 1000), 10.0); // primes: no rate yet
  history.record(statusWith(110, 3000), 12.0);
  const json out = history.toJson();
  ASSERT_EQ(out["servers"].size(), 1u);
  const json& server = out["servers"][0];
  EXPECT_EQ(server["backend"], "app");
  EXPECT_EQ(server["server"], "s1");
  EXPECT_THAT(server["connections_per_s"].get<std::vector<double>>(), testing::ElementsAre(5.0));
  EXPECT_THAT(server["bytes_in_per_s"].get<std::vector<double>>(), testing::ElementsAre(1000.0));
  EXPECT_THAT(server["active"].get<std::vector<int>>(), testing::ElementsAre(3));
  EXPECT_THAT(server["state"].get<std::vector<std::string>>(), testing::ElementsAre("up"));
  EXPECT_THAT(out["t"].get<std::vector<double>>(), testing::ElementsAre(10.0, 12.0));
  EXPECT_EQ(out["window_s"], 300.0);
  EXPECT_EQ(out["interval_s"], 1.0);
}

TEST(HistoryTest, KeepsAtMostTheWindowAndTheNewestSamples) {
  History history(10s, 1s);
  for (int i = 0; i < 1000; ++i) {
    history.record(statusWith(static_cast<uint64_t>(i) * 2, 0, i % 2 == 0 ? "up" : "down", true),
                   100.0 + i);
  }
  EXPECT_EQ(history.capacity(), 10u);
  EXPECT_EQ(history.sampleCount(), 20u); // two servers, ten samples each
  const json out = history.toJson();
  EXPECT_EQ(out["t"].size(), 10u);
  EXPECT_EQ(out["t"].back(), 1099.0);
  EXPECT_EQ(out["t"].front(), 1090.0);
  const auto states = out["servers"][0]["state"].get<std::vector<std::string>>();
  ASSERT_EQ(states.size(), 10u);
  EXPECT_EQ(states.back(), "down"); // i = 999
  EXPECT_EQ(states.front(), "up");  // i = 990
  EXPECT_EQ(out["servers"][0]["connections_per_s"].back(), 2.0);
}

TEST(HistoryTest, AServerThatLeavesTheStatusLeavesTheHistory) {
  History history(1min, 1s);
  history.record(statusWith(0, 0, "up", true), 1.0);
  history.record(statusWith(1, 0, "up", true), 2.0);
  EXPECT_EQ(history.toJson()["servers"].size(), 2u);
  history.record(statusWith(2, 0), 3.0); // a reload removed s2
  EXPECT_EQ(history.toJson()["servers"].size(), 1u);
  EXPECT_EQ(history.sampleCount(), 2u);
}

TEST(HistoryTest, ACounterThatWentBackwardsIsARateOfZeroNotAHugeNumber) {
  History history(1min, 1s);
  history.record(statusWith(500, 0), 1.0);
  history.record(statusWith(10, 0), 2.0);
  EXPECT_EQ(history.toJson()["servers"][0]["connections_per_s"][0], 0.0);
}

TEST(HistoryTest, AClockThatDidNotMoveAddsNoSample) {
  History history(1min, 1s);
  history.record(statusWith(1, 0), 5.0);
  history.record(statusWith(2, 0), 5.0);
  EXPECT_EQ(history.sampleCount(), 0u);
}

} // namespace
} // namespace corral::admin

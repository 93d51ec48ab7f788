// Server::effectiveWeight: the weight every balancer and every Maglev table uses (a `ctl weight`
// override, ramped by slow start from 10% to 100%).
#include <gtest/gtest.h>

#include "tests/unit/runtime/runtime_test_support.h"

namespace corral::runtime {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kUpAt = 1'000'000; // steady-clock milliseconds when the server came up

Server serverOfWeight(uint32_t weight) {
  Server server{
      .name = "s", .address = {}, .weight = weight, .stats = std::make_shared<ServerStats>(1)};
  server.stats->up_since_ms.store(kUpAt);
  return server;
}

TEST(EffectiveWeightTest, IsTheConfiguredWeightWithoutSlowStart) {
  const Server server = serverOfWeight(5);
  EXPECT_EQ(server.effectiveWeight(0ms, kUpAt), 5u);
  EXPECT_EQ(server.effectiveWeight(0ms, kUpAt + 1), 5u);
}

// The ramp of DESIGN.md's slow_start: 10% at first, linear to 100% at slow_start, whole from
// then on. Weight 100 over 10 s: 10 at 0 s, 55 at 5 s, 91 at 9 s, 100 at 10 s and after.
TEST(EffectiveWeightTest, RampsLinearlyFromATenthToTheWholeWeightOverSlowStart) {
  const Server server = serverOfWeight(100);
  EXPECT_EQ(server.effectiveWeight(10s, kUpAt), 10u);
  EXPECT_EQ(server.effectiveWeight(10s, kUpAt + 5'000), 55u);
  EXPECT_EQ(server.effectiveWeight(10s, kUpAt + 9'000), 91u);
  EXPECT_EQ(server.effectiveWeight(10s, kUpAt + 10'000), 100u);
  EXPECT_EQ(server.effectiveWeight(10s, kUpAt + 3'600'000), 100u);
}

// The ramp never decreases, and never gives a server that is up a weight of 0: a light server
// still gets a little traffic while it warms up.
TEST(EffectiveWeightTest, NeverDecreasesAndNeverDropsToZeroDuringTheRamp) {
  for (uint32_t weight : {1u, 2u, 7u, 256u}) {
    const Server server = serverOfWeight(weight);
    uint32_t previous = 0;
    for (int64_t t = 0; t <= 2'000; t += 50) {
      const uint32_t now = server.effectiveWeight(2s, kUpAt + t);
      EXPECT_GE(now, 1u) << weight << " at " << t;
      EXPECT_GE(now, previous) << weight << " at " << t;
      EXPECT_LE(now, weight) << weight << " at " << t;
      previous = now;
    }
    EXPECT_EQ(previous, weight);
  }
}

// A clock read before the server came up (another thread stored up_since_ms after this one read
// the time) counts as the start of the ramp, not as a negative elapsed time.
TEST(EffectiveWeightTest, AReadingBeforeTheServerCameUpIsTheStartOfTheRamp) {
  const Server server = serverOfWeight(100);
  EXPECT_EQ(server.effectiveWeight(10s, kUpAt - 500), 10u);
}

// `ctl weight` replaces the configured weight, and the ramp applies to the new weight; weight 0
// (an operator's "no new clients by weight") stays 0 rather than being lifted to 1.
TEST(EffectiveWeightTest, TheOperatorsWeightReplacesTheConfiguredOneAndIsRamped) {
  const Server server = serverOfWeight(4);
  server.stats->weight_override.store(40);
  EXPECT_EQ(server.effectiveWeight(0ms, kUpAt), 40u);
  EXPECT_EQ(server.effectiveWeight(10s, kUpAt + 5'000), 22u);
  server.stats->weight_override.store(0);
  EXPECT_EQ(server.effectiveWeight(10s, kUpAt + 5'000), 0u);
  server.stats->weight_override.store(-1); // back to the configuration
  EXPECT_EQ(server.effectiveWeight(0ms, kUpAt), 4u);
}

} // namespace
} // namespace corral::runtime

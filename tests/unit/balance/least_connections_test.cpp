#include <vector>

#include <gtest/gtest.h>

#include "corral/balance/balancer.h"

namespace corral::balance {
namespace {

struct Load {
  uint32_t weight;
  uint32_t active;
};

std::vector<Candidate> withLoads(std::vector<Load> loads) {
  std::vector<Candidate> candidates;
  for (const Load& load : loads) {
    candidates.push_back({.weight = load.weight, .active = load.active});
  }
  return candidates;
}

// Picks `count` times, opening a connection on each server picked (none closes).
std::vector<size_t> pickAndConnect(Balancer& balancer, std::vector<Candidate>& servers, int count) {
  std::vector<size_t> picks;
  for (int i = 0; i < count; ++i) {
    const size_t pick = balancer.pick(servers, 0).value();
    ++servers[pick].active;
    picks.push_back(pick);
  }
  return picks;
}

TEST(LeastConnectionsTest, PicksTheServerWithFewestActiveConnections) {
  const auto servers = withLoads({{1, 4}, {1, 1}, {1, 3}});
  auto balancer = makeLeastConnections(servers.size());
  EXPECT_EQ(balancer->pick(servers, 0), 1U);
}

// 3 connections on weight 4 (0.75 each) is less loaded than 1 on weight 1.
TEST(LeastConnectionsTest, DividesActiveConnectionsByWeight) {
  const auto servers = withLoads({{1, 1}, {4, 3}});
  auto balancer = makeLeastConnections(servers.size());
  EXPECT_EQ(balancer->pick(servers, 0), 1U);
}

// 1/3 and 2/6 are the same load, compared exactly (1*6 == 2*3), and a tie rotates, so both
// servers get a turn.
TEST(LeastConnectionsTest, TreatsEqualRatiosAsATie) {
  const auto servers = withLoads({{3, 1}, {6, 2}});
  auto balancer = makeLeastConnections(servers.size());
  EXPECT_EQ(balancer->pick(servers, 0), 0U);
  EXPECT_EQ(balancer->pick(servers, 0), 1U);
  EXPECT_EQ(balancer->pick(servers, 0), 0U);
}

// Idle servers of equal weight take turns rather than the first taking every connection.
TEST(LeastConnectionsTest, EqualServersTakeTurns) {
  const auto servers = withLoads({{1, 0}, {1, 0}, {1, 0}});
  auto balancer = makeLeastConnections(servers.size());
  std::vector<size_t> picks;
  for (int i = 0; i < 6; ++i) {
    picks.push_back(balancer->pick(servers, 0).value());
  }
  EXPECT_EQ(picks, (std::vector<size_t>{0, 1, 2, 0, 1, 2}));
}

// Only the least loaded servers share the turns: the busy one in the middle is never picked.
TEST(LeastConnectionsTest, TiesAlternateBetweenTheLeastLoadedOnly) {
  const auto servers = withLoads({{1, 2}, {1, 9}, {1, 2}});
  auto balancer = makeLeastConnections(servers.size());
  std::vector<size_t> picks;
  for (int i = 0; i < 4; ++i) {
    picks.push_back(balancer->pick(servers, 0).value());
  }
  EXPECT_EQ(picks, (std::vector<size_t>{0, 2, 0, 2}));
}

// Worked by hand: loads (active/weight) before each pick, and the pick; a tie goes to the first
// server at or after the one following the last pick.
//   0/2 = 0/1 -> 0 | 1/2 > 0/1 -> 1 | 1/2 < 1/1 -> 0 | 2/2 = 1/1 -> 1 (after 0)
//   2/2 < 2/1 -> 0 | 3/2 < 2/1 -> 0 | 4/2 = 2/1 -> 1 (after 0)
// and from there on two connections to server 0 for each one to server 1.
TEST(LeastConnectionsTest, ConnectionsThatStayOpenFollowTheWeights) {
  auto servers = withLoads({{2, 0}, {1, 0}});
  auto balancer = makeLeastConnections(servers.size());
  EXPECT_EQ(pickAndConnect(*balancer, servers, 7), (std::vector<size_t>{0, 1, 0, 1, 0, 0, 1}));
  pickAndConnect(*balancer, servers, 293);
  EXPECT_EQ(servers[0].active, 200U);
  EXPECT_EQ(servers[1].active, 100U);
}

TEST(LeastConnectionsTest, SkipsIneligibleAndZeroWeightServers) {
  auto servers = withLoads({{1, 5}, {0, 0}, {1, 0}});
  servers[2].eligible = false;
  auto balancer = makeLeastConnections(servers.size());
  EXPECT_EQ(balancer->pick(servers, 0), 0U);
  servers[0].eligible = false;
  EXPECT_EQ(balancer->pick(servers, 0), std::nullopt);
}

// Products of two 32-bit values need 64 bits: 4e9 * 4e9 must not wrap and reverse the order.
TEST(LeastConnectionsTest, LargeCountsAndWeightsDoNotOverflow) {
  const auto servers =
      withLoads({{4'000'000'000U, 4'000'000'000U}, {3'999'999'999U, 4'000'000'000U}});
  auto balancer = makeLeastConnections(servers.size());
  EXPECT_EQ(balancer->pick(servers, 0), 0U);
}

} // namespace
} // namespace corral::balance

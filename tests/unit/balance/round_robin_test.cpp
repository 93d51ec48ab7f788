#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "corral/balance/balancer.h"

namespace corral::balance {
namespace {

std::vector<Candidate> withWeights(std::vector<uint32_t> weights) {
  std::vector<Candidate> candidates;
  for (uint32_t weight : weights) {
    candidates.push_back({.weight = weight});
  }
  return candidates;
}

std::vector<size_t> pickMany(Balancer& balancer, std::span<const Candidate> servers, int count) {
  std::vector<size_t> picks;
  for (int i = 0; i < count; ++i) {
    picks.push_back(balancer.pick(servers, 0).value());
  }
  return picks;
}

// The example of NGINX's smooth weighted round robin: weights 5,1,1 give a a b a c a a, the heavy
// server interleaved with the light ones rather than five times in a row.
TEST(RoundRobinTest, WeightsFiveOneOneGiveTheNginxSequence) {
  const auto servers = withWeights({5, 1, 1});
  auto balancer = makeRoundRobin(servers.size());
  EXPECT_EQ(pickMany(*balancer, servers, 14),
            (std::vector<size_t>{0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0}));
}

// Equal weights visit the servers in configuration order, over and over.
TEST(RoundRobinTest, EqualWeightsRotateInOrder) {
  const auto servers = withWeights({1, 1, 1});
  auto balancer = makeRoundRobin(servers.size());
  EXPECT_EQ(pickMany(*balancer, servers, 7), (std::vector<size_t>{0, 1, 2, 0, 1, 2, 0}));
}

// Over any whole number of cycles (the sum of the weights), each server is picked exactly its
// weight times per cycle: not about, exactly.
TEST(RoundRobinTest, PicksMatchTheWeightsExactlyOverWholeCycles) {
  const auto servers = withWeights({3, 7, 2, 1});
  auto balancer = makeRoundRobin(servers.size());
  std::map<size_t, int> counts;
  for (size_t pick : pickMany(*balancer, servers, 13 * 100)) {
    ++counts[pick];
  }
  EXPECT_EQ(counts, (std::map<size_t, int>{{0, 300}, {1, 700}, {2, 200}, {3, 100}}));
}

// An ineligible server (down, or already tried by this session) is passed over and the others keep
// rotating between themselves.
TEST(RoundRobinTest, SkipsAnIneligibleServer) {
  auto servers = withWeights({1, 1, 1});
  servers[1].eligible = false;
  auto balancer = makeRoundRobin(servers.size());
  EXPECT_EQ(pickMany(*balancer, servers, 4), (std::vector<size_t>{0, 2, 0, 2}));
}

// A server that comes back joins the rotation at once, and one taken out mid-cycle stops being
// picked at once.
TEST(RoundRobinTest, FollowsEligibilityChangesBetweenPicks) {
  auto servers = withWeights({1, 1});
  auto balancer = makeRoundRobin(servers.size());
  servers[0].eligible = false;
  EXPECT_EQ(pickMany(*balancer, servers, 2), (std::vector<size_t>{1, 1}));
  servers[0].eligible = true;
  const auto picks = pickMany(*balancer, servers, 4);
  EXPECT_EQ(std::count(picks.begin(), picks.end(), 0), 2);
}

// Weight 0 means "never pick", even when it is the only eligible server left.
TEST(RoundRobinTest, NeverPicksAServerOfWeightZero) {
  auto servers = withWeights({0, 2});
  auto balancer = makeRoundRobin(servers.size());
  EXPECT_EQ(pickMany(*balancer, servers, 3), (std::vector<size_t>{1, 1, 1}));
  servers[1].eligible = false;
  EXPECT_EQ(balancer->pick(servers, 0), std::nullopt);
}

TEST(RoundRobinTest, ReturnsNothingWhenNoServerIsEligible) {
  auto servers = withWeights({1, 1});
  servers[0].eligible = servers[1].eligible = false;
  auto balancer = makeRoundRobin(servers.size());
  EXPECT_EQ(balancer->pick(servers, 0), std::nullopt);
}

} // namespace
} // namespace corral::balance

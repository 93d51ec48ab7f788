#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "corral/balance/balancer.h"

namespace corral::balance {
namespace {

constexpr uint32_t kSmallTableSize = 1009; // prime, > 100 x 10 servers; small keeps the tests fast

std::shared_ptr<const MaglevTable> tableOf(std::vector<uint32_t> weights) {
  std::vector<MaglevServer> servers;
  for (size_t i = 0; i < weights.size(); ++i) {
    servers.push_back({.name = "s" + std::to_string(i), .weight = weights[i]});
  }
  return MaglevTable::create(servers, kSmallTableSize).value();
}

std::shared_ptr<const MaglevTable> tenEqualServers() {
  return tableOf(std::vector<uint32_t>(10, 1));
}

TEST(IpHashTest, PicksTheTableServerWhenItIsEligible) {
  const auto table = tenEqualServers();
  auto balancer = makeIpHash(table);
  const std::vector<Candidate> servers(10);
  for (uint64_t key = 0; key < kSmallTableSize; ++key) {
    ASSERT_EQ(balancer->pick(servers, key), table->lookup(key)) << key;
  }
}

// While server 3 is down its clients are shared out among the other nine (each gets about a
// ninth of them), and no other client moves.
TEST(IpHashTest, AnIneligibleServersClientsSpreadAndNoOtherClientMoves) {
  const auto table = tenEqualServers();
  auto balancer = makeIpHash(table);
  std::vector<Candidate> servers(10);
  servers[3].eligible = false;
  std::map<size_t, int> took_over;
  int displaced = 0;
  for (uint64_t key = 0; key < kSmallTableSize; ++key) {
    const size_t home = table->lookup(key).value();
    const size_t pick = balancer->pick(servers, key).value();
    if (home == 3) {
      ++displaced;
      ++took_over[pick];
    } else {
      ASSERT_EQ(pick, home) << key;
    }
  }
  EXPECT_EQ(took_over.count(3), 0U);
  EXPECT_EQ(took_over.size(), 9U);
  for (const auto& [server, count] : took_over) {
    EXPECT_GT(count, displaced / 9 / 2) << server;
    EXPECT_LT(count, displaced / 9 * 2) << server;
  }
}

// A failed connect is retried with the first server marked as tried: the retry gets another
// server, and the same one every time for that client.
TEST(IpHashTest, ARetryGoesToAnotherServerTheSameForEveryRetry) {
  auto balancer = makeIpHash(tenEqualServers());
  std::vector<Candidate> servers(10);
  const uint64_t key = 0x5eed;
  const size_t first = balancer->pick(servers, key).value();
  servers[first].eligible = false;
  const auto second = balancer->pick(servers, key);
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(*second, first);
  EXPECT_EQ(makeIpHash(tenEqualServers())->pick(servers, key), second);
}

// A candidate weight of 0 (slow start at its very start, or `ctl weight ... 0`) means "never".
TEST(IpHashTest, SkipsACandidateOfWeightZero) {
  const auto table = tenEqualServers();
  auto balancer = makeIpHash(table);
  std::vector<Candidate> servers(10);
  const size_t home = table->lookup(77).value();
  servers[home].weight = 0;
  EXPECT_NE(balancer->pick(servers, 77), home);
}

// The probe walks the table until it meets the one server left, however rare its slots.
TEST(IpHashTest, FindsTheOnlyEligibleServer) {
  auto balancer = makeIpHash(tableOf({1, 1, 1, 1, 1, 1, 1, 1, 1, 1}));
  std::vector<Candidate> servers(10, Candidate{.eligible = false});
  servers[6].eligible = true;
  for (uint64_t key = 0; key < kSmallTableSize; ++key) {
    ASSERT_EQ(balancer->pick(servers, key), 6U) << key;
  }
}

TEST(IpHashTest, ReturnsNothingWhenNoServerIsEligible) {
  auto balancer = makeIpHash(tenEqualServers());
  const std::vector<Candidate> servers(10, Candidate{.eligible = false});
  EXPECT_EQ(balancer->pick(servers, 1), std::nullopt);
}

// A server left out of the table (configured weight 0) is never chosen, even when it is the only
// eligible candidate.
TEST(IpHashTest, NeverPicksAServerLeftOutOfTheTable) {
  auto balancer = makeIpHash(tableOf({1, 0}));
  std::vector<Candidate> servers(2);
  servers[0].eligible = false;
  EXPECT_EQ(balancer->pick(servers, 1), std::nullopt);
}

TEST(IpHashTest, ReturnsNothingFromAnEmptyTable) {
  auto balancer = makeIpHash(tableOf({0, 0}));
  const std::vector<Candidate> servers(2);
  EXPECT_EQ(balancer->pick(servers, 1), std::nullopt);
}

} // namespace
} // namespace corral::balance

// peek() says what pick() will return and leaves the balancer where it was, for every balancer:
// `ctl route` relies on it to name the server of a worker's next connection.
#include <vector>

#include <gtest/gtest.h>

#include "corral/balance/balancer.h"

namespace corral::balance {
namespace {

// Twenty picks, each announced by a peek (asked twice: a peek moves nothing), over weights,
// loads and eligibility that change as the picks go.
void expectPeekAnnouncesEveryPick(Balancer& balancer, uint64_t key) {
  std::vector<Candidate> servers = {{.weight = 5, .active = 0},
                                    {.weight = 1, .active = 0},
                                    {.weight = 2, .active = 0}};
  for (int round = 0; round < 20; ++round) {
    servers[1].eligible = round % 7 != 3;
    servers[2].weight = 2 + round % 3;
    const auto announced = balancer.peek(servers, key);
    EXPECT_EQ(balancer.peek(servers, key), announced) << "round " << round;
    const auto picked = balancer.pick(servers, key);
    EXPECT_EQ(picked, announced) << "round " << round;
    if (picked) {
      ++servers[*picked].active;
    }
  }
}

TEST(PeekTest, RoundRobinPeekAnnouncesTheNextPick) {
  auto balancer = makeRoundRobin(3);
  expectPeekAnnouncesEveryPick(*balancer, 0);
}

TEST(PeekTest, LeastConnectionsPeekAnnouncesTheNextPick) {
  auto balancer = makeLeastConnections(3);
  expectPeekAnnouncesEveryPick(*balancer, 0);
}

TEST(PeekTest, IpHashPeekAnnouncesTheNextPick) {
  const std::vector<MaglevServer> servers = {
      {.name = "a", .weight = 5}, {.name = "b", .weight = 1}, {.name = "c", .weight = 2}};
  auto table = MaglevTable::create(servers, 1009);
  ASSERT_TRUE(table);
  auto balancer = makeIpHash(std::shared_ptr<const MaglevTable>(std::move(*table)));
  for (uint64_t key : {1ull, 77ull, 123456789ull}) {
    expectPeekAnnouncesEveryPick(*balancer, key);
  }
}

TEST(PeekTest, NothingEligibleIsNothingToPeek) {
  auto balancer = makeRoundRobin(2);
  const std::vector<Candidate> servers = {{.eligible = false}, {.weight = 0}};
  EXPECT_EQ(balancer->peek(servers, 0), std::nullopt);
}

} // namespace
} // namespace corral::balance

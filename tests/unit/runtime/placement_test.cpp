// runtime/placement.h: the one place that says what a balancer sees of a backend, which Maglev
// table an ip_hash backend routes with, and which balancer a placement gets.
#include <array>
#include <vector>

#include <gtest/gtest.h>

#include "corral/config/loader.h"
#include "corral/runtime/placement.h"

#include "tests/unit/runtime/runtime_test_support.h"

namespace corral::runtime {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kNow = 5'000'000;
constexpr uint32_t kSmallTableSize = 1009; // prime, > 100 x the servers here

config::BackendConfig backendConfig(config::Balance balance) {
  config::BackendConfig config;
  config.name = "app";
  config.balance = balance;
  config.ip_hash.table_size = kSmallTableSize;
  return config;
}

TEST(FillCandidatesTest, GivesEachServerItsWeightConnectionsAndEligibilityInOrder) {
  const auto config = backendConfig(config::Balance::RoundRobin);
  const Backend backend = backendOf(config, {1, 2, 3});
  backend.servers[1].stats->active.store(7);
  std::vector<balance::Candidate> out(5); // the worker's scratch: cleared first
  fillCandidates(backend, {}, kNow, out);
  ASSERT_EQ(out.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].weight, i + 1) << i;
    EXPECT_TRUE(out[i].eligible) << i;
  }
  EXPECT_EQ(out[1].active, 7u);
}

// A server the session already tried, and one that cannot take new clients (down, draining,
// disabled, ejected), is not eligible; the rest are.
TEST(FillCandidatesTest, LeavesOutTriedDownDrainingDisabledAndEjectedServers) {
  const auto config = backendConfig(config::Balance::RoundRobin);
  const Backend backend = backendOf(config, {1, 1, 1, 1, 1, 1});
  backend.servers[1].stats->health.store(Health::Down);
  backend.servers[2].stats->admin.store(AdminState::Drain);
  backend.servers[3].stats->admin.store(AdminState::Disabled);
  backend.servers[4].stats->ejected_until_ms.store(kNow + 1);
  const std::array<uint32_t, 1> tried{5};
  std::vector<balance::Candidate> out;
  fillCandidates(backend, tried, kNow, out);
  ASSERT_EQ(out.size(), 6u);
  EXPECT_TRUE(out[0].eligible);
  for (size_t i = 1; i < 6; ++i) {
    EXPECT_FALSE(out[i].eligible) << i;
  }
}

// Candidates carry the effective weight: an operator's weight and the slow-start ramp.
TEST(FillCandidatesTest, UsesTheEffectiveWeight) {
  auto config = backendConfig(config::Balance::RoundRobin);
  config.slow_start = 10s;
  const Backend backend = backendOf(config, {100, 100});
  backend.servers[0].stats->weight_override.store(30);
  backend.servers[1].stats->up_since_ms.store(kNow - 5'000); // half way up the ramp
  std::vector<balance::Candidate> out;
  fillCandidates(backend, {}, kNow, out);
  EXPECT_EQ(out[0].weight, 30u);
  EXPECT_EQ(out[1].weight, 55u);
}

// The Maglev server list carries the effective weight too (the snapshot build once used the
// configured weight, so a reload lost a `ctl weight` override on ip_hash backends).
TEST(MaglevServersTest, NamesEachServerWithItsEffectiveWeight) {
  auto config = backendConfig(config::Balance::IpHash);
  config.slow_start = 10s;
  const Backend backend = backendOf(config, {2, 100, 3});
  backend.servers[0].stats->weight_override.store(9);
  backend.servers[1].stats->up_since_ms.store(kNow); // just came up
  const auto servers = maglevServers(backend, kNow);
  ASSERT_EQ(servers.size(), 3u);
  EXPECT_EQ(servers[0].name, "s0");
  EXPECT_EQ(servers[0].weight, 9u);
  EXPECT_EQ(servers[1].weight, 10u);
  EXPECT_EQ(servers[2].weight, 3u);
}

// A weight override moves the server's share of the table: weight 3 of 3+1 owns about 3/4.
TEST(BuildMaglevTableTest, GivesEachServerSlotsInProportionToItsEffectiveWeight) {
  const auto config = backendConfig(config::Balance::IpHash);
  const Backend backend = backendOf(config, {1, 1});
  backend.servers[0].stats->weight_override.store(3);
  const auto table = buildMaglevTable(backend, kNow);
  ASSERT_TRUE(table);
  EXPECT_EQ((*table)->tableSize(), kSmallTableSize);
  EXPECT_NEAR((*table)->slotCount(0) / double(kSmallTableSize), 0.75, 0.01);
}

TEST(BuildMaglevTableTest, FailsOnATableSizeThatIsNotPrime) {
  auto config = backendConfig(config::Balance::IpHash);
  config.ip_hash.table_size = 1000;
  EXPECT_FALSE(buildMaglevTable(backendOf(config, {1, 1}), kNow));
}

// Each placement gets its balancer; sticky_cookie places clients without a valid cookie by its
// fallback. Told apart by behaviour: round robin alternates, least connections follows the
// counts, ip_hash follows the table.
TEST(MakeBalancerTest, GivesEachPlacementItsBalancer) {
  std::vector<balance::Candidate> two(2);
  auto round_robin = makeBalancer(backendOf(backendConfig(config::Balance::RoundRobin), {1, 1}));
  EXPECT_NE(round_robin->pick(two, 0), round_robin->pick(two, 0));

  auto sticky = backendConfig(config::Balance::StickyCookie);
  sticky.sticky_cookie.fallback = config::Balance::LeastConnections;
  auto least = makeBalancer(backendOf(sticky, {1, 1}));
  two[0].active = 5;
  EXPECT_EQ(least->pick(two, 0), 1u);
  EXPECT_EQ(least->pick(two, 0), 1u);
  two[0].active = 0;

  const auto ip_config = backendConfig(config::Balance::IpHash);
  const Backend ip_backend = backendOf(ip_config, {1, 1});
  const auto table = buildMaglevTable(ip_backend, kNow).value();
  auto ip_hash = makeBalancer(ip_backend, table);
  for (uint64_t key = 0; key < kSmallTableSize; key += 97) {
    EXPECT_EQ(ip_hash->pick(two, key), table->lookup(key)) << key;
  }
}

// Without a table given, an ip_hash balancer routes with the snapshot's own table.
TEST(MakeBalancerTest, UsesTheSnapshotsTableByDefault) {
  const auto config = backendConfig(config::Balance::IpHash);
  Backend backend = backendOf(config, {1, 1, 1});
  backend.maglev = buildMaglevTable(backend, kNow).value();
  auto balancer = makeBalancer(backend);
  const std::vector<balance::Candidate> three(3);
  for (uint64_t key = 0; key < kSmallTableSize; key += 31) {
    EXPECT_EQ(balancer->pick(three, key), backend.maglev->lookup(key)) << key;
  }
}

} // namespace
} // namespace corral::runtime

namespace corral::runtime {
namespace {

// A reload builds the new snapshot's Maglev table from the effective weights its servers carry
// over, as the control plane's rebuilds do. It once used the configured weights, so after
// `ctl weight` and a reload the ip_hash table ignored the operator's weight until the next event.
TEST(SnapshotMaglevTest, AReloadKeepsAnOperatorsWeightInTheTable) {
  auto loaded = config::loadString(R"(
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    balance: ip_hash
    ip_hash: {table_size: 1009}
    servers: [{address: "127.0.0.1:9001", name: a}, {address: "127.0.0.1:9002", name: b}]
)",
                                   "corral.yaml");
  ASSERT_TRUE(loaded);
  auto first = Snapshot::build(loaded->config, nullptr, {});
  ASSERT_TRUE(first) << first.error().message;
  const Backend& before = (*first)->backends.at(0);
  EXPECT_NEAR(before.maglev->slotCount(0) / 1009.0, 0.5, 0.01);
  before.servers[0].stats->weight_override.store(3); // ctl weight app/a 3
  auto second = Snapshot::build(loaded->config, first->get(), {});
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_NEAR((*second)->backends.at(0).maglev->slotCount(0) / 1009.0, 0.75, 0.01);
}

} // namespace
} // namespace corral::runtime

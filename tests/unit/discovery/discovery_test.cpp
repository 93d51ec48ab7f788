// DNS discovery against the machine's own resolver: "localhost" is in /etc/hosts, so the tests
// stay offline.
#include "corral/discovery/discovery.h"

#include <event2/event.h>

#include <gtest/gtest.h>

namespace corral::discovery {
namespace {

config::Config withServers(std::vector<HostPort> addresses) {
  config::BackendConfig backend;
  backend.name = "app";
  backend.resolve_interval = std::chrono::milliseconds(50);
  for (HostPort& address : addresses) {
    backend.servers.push_back({.address = address, .weight = 2, .name = address.host, .tls = {}});
  }
  config::Config config;
  config.backends.push_back(std::move(backend));
  return config;
}

struct EventBaseFree {
  void operator()(event_base* base) const { event_base_free(base); }
};

TEST(DiscoveryTest, ExpandsANameIntoOneServerPerRecordAndLeavesNumericAddresses) {
  std::unique_ptr<event_base, EventBaseFree> base(event_base_new());
  Discovery discovery(base.get(), [] {});
  const config::Config config =
      withServers({{.host = "localhost", .port = 8080}, {.host = "10.0.0.1", .port = 81}});
  discovery.resolveNow(config);
  const config::Config expanded = discovery.expand(config);
  const auto& servers = expanded.backends.at(0).servers;
  ASSERT_GE(servers.size(), 2u);
  EXPECT_EQ(servers.front().name, "127.0.0.1:8080"); // sorted: IPv4 before IPv6
  EXPECT_EQ(servers.front().address.host, "127.0.0.1");
  EXPECT_EQ(servers.front().weight, 2u);               // the name's settings carry over
  EXPECT_EQ(servers.back().name, "10.0.0.1");          // numeric: as configured
  EXPECT_EQ(config.backends.at(0).servers.at(0).address.host, "localhost"); // a copy was expanded
}

TEST(DiscoveryTest, ANameNotYetResolvedStandsForNoServer) {
  std::unique_ptr<event_base, EventBaseFree> base(event_base_new());
  Discovery discovery(base.get(), [] {});
  const config::Config config = withServers({{.host = "localhost", .port = 8080}});
  EXPECT_TRUE(discovery.expand(config).backends.at(0).servers.empty());
  EXPECT_TRUE(isName(config.backends.at(0).servers.at(0).address));
  EXPECT_FALSE(isName({.host = "::1", .port = 1}));
}

// The periodic lookup runs on the loop (evdns), and a changed record set calls back once; the
// same answer again does not.
TEST(DiscoveryTest, AWatchedNameCallsBackWhenItsRecordsChange) {
  std::unique_ptr<event_base, EventBaseFree> base(event_base_new());
  int changes = 0;
  Discovery discovery(base.get(), [&] {
    ++changes;
  });
  const config::Config config = withServers({{.host = "localhost", .port = 8080}});
  discovery.watch(config); // never resolved: the first answer is a change
  for (int turn = 0; turn < 400 && changes == 0; ++turn) {
    event_base_loop(base.get(), EVLOOP_ONCE);
  }
  ASSERT_EQ(changes, 1);
  EXPECT_FALSE(discovery.expand(config).backends.at(0).servers.empty());
  for (int lookups = 0; lookups < 5; ++lookups) { // five more lookups, all the same records
    event_base_loop(base.get(), EVLOOP_ONCE);
  }
  EXPECT_EQ(changes, 1);
}

} // namespace
} // namespace corral::discovery

// The frontend's source rules and edge limits (issue 15): each bad value is reported at its
// file:line:col, and the defaults are what DESIGN.md says.
#include "tests/unit/config/bad_config.h"

namespace corral::config {
namespace {

std::vector<BadConfig> badEdgeKeys() {
  return {
      {"AnAllowEntryThatIsNoAddress", frontendWith("    allow: [10.0.0.0/8, intranet]"), "6:25",
       "frontends[0].allow[1]", "\"intranet\" is not an IPv4 or IPv6 address"},
      {"ADenyPrefixTooLong", frontendWith("    deny:\n      - 10.0.0.0/33"), "7:9",
       "frontends[0].deny[0]", "the prefix length must be 0 to 32"},
      {"AnIpv6PrefixTooLong", frontendWith("    deny: [\"::/129\"]"), "6:12",
       "frontends[0].deny[0]", "the prefix length must be 0 to 128"},
      {"HostBitsBelowThePrefix", frontendWith("    trusted_proxies: [10.0.0.1/8]"), "6:23",
       "frontends[0].trusted_proxies[0]", "has host bits set below its /8 prefix"},
      {"AnAllowThatIsNotAList", frontendWith("    allow: {a: 1}"), "6:12", "frontends[0].allow",
       "expected a list"},
      {"ProxyProtocolOffLoopbackWithoutSenders",
       frontendOn("0.0.0.0:8080", "    accept_proxy_protocol: true"), "6:28",
       "frontends[0].accept_proxy_protocol", "needs trusted_proxies"},
      {"ProxyProtocolOnIpv6WithAnEmptySenderList",
       frontendOn("[::]:8080", "    accept_proxy_protocol: true\n    trusted_proxies: []"), "6:28",
       "frontends[0].accept_proxy_protocol", "needs trusted_proxies"},
      {"ANegativeClientLimit", frontendWith("    max_connections_per_client: -1"), "6:33",
       "frontends[0].max_connections_per_client", "expected an integer from 0 to"},
      {"ARateAboveTheTableRange", frontendWith("    connection_rate_per_client: 2000000"), "6:33",
       "frontends[0].connection_rate_per_client", "expected an integer from 0 to 1000000"},
      {"AZeroTunnelTimeout", frontendWith("    tunnel_timeout: 0s"), "6:21",
       "frontends[0].tunnel_timeout", "must be more than 0"},
      {"AMaxLifetimeWithoutUnit", frontendWith("    max_lifetime: 3600"), "6:19",
       "frontends[0].max_lifetime", "got \"3600\""},
      {"AKeepaliveIdleInMilliseconds", frontendWith("    tcp_keepalive: {idle: 1500ms}"), "6:27",
       "frontends[0].tcp_keepalive.idle", "must be a whole number of seconds"},
      {"AKeepaliveIntervalAboveTheKernelLimit",
       frontendWith("    tcp_keepalive: {interval: 10h}"), "6:31",
       "frontends[0].tcp_keepalive.interval", "at most 32767s"},
      {"AKeepaliveCountOfZero", frontendWith("    tcp_keepalive:\n      count: 0"), "7:14",
       "frontends[0].tcp_keepalive.count", "expected an integer from 1 to 127"},
      {"AMisspelledKeepaliveKey", frontendWith("    tcp_keepalive: {idel: 5s}"), "6:21",
       "frontends[0].tcp_keepalive.idel", "did you mean 'idle'?"},
      {"ABackendKeepaliveThatIsNotAMap",
       "frontends: [{name: web, listen: \"127.0.0.1:8080\", backend: app}]\n"
       "backends:\n  - name: app\n    servers: [{address: \"127.0.0.1:9001\"}]\n"
       "    tcp_keepalive: on\n",
       "5:20", "backends[0].tcp_keepalive", "expected a map"},
      {"AHeaderSizeBeyondTheParser",
       "frontends: [{name: web, listen: \"127.0.0.1:8080\", backend: app}]\n"
       "backends:\n  - name: app\n    servers: [{address: \"127.0.0.1:9001\"}]\n"
       "    sticky_cookie: {max_header_size: 90KiB}\n",
       "5:38", "backends[0].sticky_cookie.max_header_size", "must be from 1KiB to 64KiB"},
  };
}

class EdgeKeyTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(EdgeKeyTest, IsReportedAtItsLineColumnAndKey) { expectReported(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Loader, EdgeKeyTest, ::testing::ValuesIn(badEdgeKeys()),
                         [](const auto& info) { return info.param.name; });

TEST(EdgeKeysTest, ProxyProtocolIsFineOnLoopbackOrWithSenders) {
  EXPECT_TRUE(loadString(frontendWith("    accept_proxy_protocol: true"), "c.yaml"));
  EXPECT_TRUE(loadString(frontendOn("0.0.0.0:8080", "    accept_proxy_protocol: true\n"
                                                    "    trusted_proxies: [10.0.0.0/8]"),
                         "c.yaml"));
}

TEST(EdgeKeysTest, SourceRulesDefaultToEveryone) {
  const auto config = loadString(frontendWith(""), "c.yaml");
  ASSERT_TRUE(config);
  const FrontendConfig& web = config->config.frontends[0];
  EXPECT_TRUE(web.allow.empty());
  EXPECT_TRUE(web.deny.empty());
  EXPECT_TRUE(web.trusted_proxies.empty());
  EXPECT_EQ(web.max_connections_per_client, 0u);
  EXPECT_EQ(web.connection_rate_per_client, 0u);
  EXPECT_EQ(web.tunnel_timeout, std::chrono::hours(1));
  EXPECT_EQ(web.max_lifetime, Duration(0));
  EXPECT_FALSE(web.tcp_keepalive);
  EXPECT_FALSE(config->config.backends[0].tcp_keepalive);
}

TEST(EdgeKeysTest, KeepaliveTakesItsDefaultsForKeysLeftOut) {
  const auto config = loadString(frontendWith("    tcp_keepalive: {idle: 30s}"), "c.yaml");
  ASSERT_TRUE(config);
  const auto& keepalive = config->config.frontends[0].tcp_keepalive;
  ASSERT_TRUE(keepalive);
  EXPECT_EQ(keepalive->idle, std::chrono::seconds(30));
  EXPECT_EQ(keepalive->interval, std::chrono::seconds(10));
  EXPECT_EQ(keepalive->count, 6u);
}

} // namespace
} // namespace corral::config

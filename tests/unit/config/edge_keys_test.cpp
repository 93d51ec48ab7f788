// The frontend's source rules and edge limits (issue 15): each bad value is reported at its
// file:line:col, and the defaults are what DESIGN.md says.
#include "tests/unit/config/bad_config.h"

namespace corral::config {
namespace {

// A valid file with `extra` lines appended inside frontends[0], from line 6 on, indented by 4.
std::string edgeFrontendOn(std::string_view listen, std::string_view extra) {
  return fmt::format(R"(backends: [{{name: app, servers: [{{address: "127.0.0.1:9001"}}]}}]
frontends:
  - name: web
    listen: "{}"
    backend: app
{}
)",
                     listen, extra);
}

std::string edgeFrontend(std::string_view extra) { return edgeFrontendOn("127.0.0.1:8080", extra); }

std::vector<BadConfig> badEdgeKeys() {
  return {
      {"AnAllowEntryThatIsNoAddress", edgeFrontend("    allow: [10.0.0.0/8, intranet]"), "6:25",
       "frontends[0].allow[1]", "\"intranet\" is not an IPv4 or IPv6 address"},
      {"ADenyPrefixTooLong", edgeFrontend("    deny:\n      - 10.0.0.0/33"), "7:9",
       "frontends[0].deny[0]", "the prefix length must be 0 to 32"},
      {"AnIpv6PrefixTooLong", edgeFrontend("    deny: [\"::/129\"]"), "6:12",
       "frontends[0].deny[0]", "the prefix length must be 0 to 128"},
      {"HostBitsBelowThePrefix", edgeFrontend("    trusted_proxies: [10.0.0.1/8]"), "6:23",
       "frontends[0].trusted_proxies[0]", "has host bits set below its /8 prefix"},
      {"AnAllowThatIsNotAList", edgeFrontend("    allow: {a: 1}"), "6:12", "frontends[0].allow",
       "expected a list"},
      {"ProxyProtocolOffLoopbackWithoutSenders",
       edgeFrontendOn("0.0.0.0:8080", "    accept_proxy_protocol: true"), "6:28",
       "frontends[0].accept_proxy_protocol", "needs trusted_proxies"},
      {"ProxyProtocolOnIpv6WithAnEmptySenderList",
       edgeFrontendOn("[::]:8080", "    accept_proxy_protocol: true\n    trusted_proxies: []"), "6:28",
       "frontends[0].accept_proxy_protocol", "needs trusted_proxies"},
      {"ANegativeClientLimit", edgeFrontend("    max_connections_per_client: -1"), "6:33",
       "frontends[0].max_connections_per_client", "expected an integer from 0 to"},
      {"ARateAboveTheTableRange", edgeFrontend("    connection_rate_per_client: 2000000"), "6:33",
       "frontends[0].connection_rate_per_client", "expected an integer from 0 to 1000000"},
  };
}

class EdgeKeyTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(EdgeKeyTest, IsReportedAtItsLineColumnAndKey) { expectReported(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Loader, EdgeKeyTest, ::testing::ValuesIn(badEdgeKeys()),
                         [](const auto& info) { return info.param.name; });

TEST(EdgeKeysTest, ProxyProtocolIsFineOnLoopbackOrWithSenders) {
  EXPECT_TRUE(loadString(edgeFrontend("    accept_proxy_protocol: true"), "c.yaml"));
  EXPECT_TRUE(loadString(edgeFrontendOn("0.0.0.0:8080", "    accept_proxy_protocol: true\n"
                                                    "    trusted_proxies: [10.0.0.0/8]"),
                         "c.yaml"));
}

TEST(EdgeKeysTest, SourceRulesDefaultToEveryone) {
  const auto config = loadString(edgeFrontend(""), "c.yaml");
  ASSERT_TRUE(config);
  const FrontendConfig& web = config->config.frontends[0];
  EXPECT_TRUE(web.allow.empty());
  EXPECT_TRUE(web.deny.empty());
  EXPECT_TRUE(web.trusted_proxies.empty());
  EXPECT_EQ(web.max_connections_per_client, 0u);
  EXPECT_EQ(web.connection_rate_per_client, 0u);
}

} // namespace
} // namespace corral::config

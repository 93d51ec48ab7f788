// Checks across sections: names that refer to each other, repeated names, addresses bound twice.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/config/bad_config.h"

namespace corral::config {
namespace {

using ::testing::HasSubstr;

std::vector<BadConfig> badReferences() {
  return {
      {"AFrontendNamingAnUnknownBackend",
       R"(backends: [{name: app, servers: [{address: "127.0.0.1:9001"}]}]
frontends: [{name: web, listen: "127.0.0.1:8080", backend: apps}]
)",
       "2:60", "frontends[0].backend", "unknown backend \"apps\"; did you mean 'app'?"},
      {"AnSniRouteNamingAnUnknownBackend",
       R"(backends: [{name: app, servers: [{address: "127.0.0.1:9001"}]}]
frontends:
  - name: edge
    listen: 127.0.0.1:8443
    tls_passthrough:
      routes: [{sni: a.example.com, backend: app}, {sni: b.example.com, backend: other}]
      default_backend: app
)",
       "6:82", "frontends[0].tls_passthrough.routes[1].backend", "unknown backend \"other\""},
      {"ADefaultBackendThatIsUnknown",
       R"(backends: [{name: app, servers: [{address: "127.0.0.1:9001"}]}]
frontends:
  - {name: edge, listen: "127.0.0.1:8443", tls_passthrough: {default_backend: nope}}
)",
       "3:79", "frontends[0].tls_passthrough.default_backend", "unknown backend \"nope\""},
      {"PassthroughToAStickyCookieBackend",
       R"(backends: [{name: app, balance: sticky_cookie, servers: [{address: "127.0.0.1:1"}]}]
frontends:
  - {name: edge, listen: "127.0.0.1:8443", tls_passthrough: {default_backend: app}}
)",
       "3:79", "frontends[0].tls_passthrough.default_backend",
       "tls_passthrough keeps it encrypted"},
      {"PassthroughToAHashBackendKeyedByAHeader",
       R"(backends: [{name: app, balance: hash, hash: {key: "header:X-T"}, servers: [{address: "127.0.0.1:1"}]}]
frontends:
  - {name: edge, listen: "127.0.0.1:8443", tls_passthrough: {default_backend: app}}
)",
       "3:79", "frontends[0].tls_passthrough.default_backend", "use key: sni"},
      {"TwoFrontendsWithOneName",
       R"(backends: [{name: app, servers: [{address: "127.0.0.1:9001"}]}]
frontends:
  - {name: web, listen: "127.0.0.1:8080", backend: app}
  - {name: web, listen: "127.0.0.1:8081", backend: app}
)",
       "4:12", "frontends[1].name", "frontend name \"web\" is already used by frontends[0].name"},
      {"TwoBackendsWithOneName",
       R"(frontends: [{name: web, listen: "127.0.0.1:8080", backend: app}]
backends:
  - {name: app, servers: [{address: "127.0.0.1:9001"}]}
  - {name: app, servers: [{address: "127.0.0.1:9002"}]}
)",
       "4:12", "backends[1].name", "backend name \"app\" is already used by backends[0].name"},
      {"OneServerAddressListedTwice",
       R"(frontends: [{name: web, listen: "127.0.0.1:8080", backend: app}]
backends:
  - name: app
    servers:
      - {address: "127.0.0.1:9001"}
      - {address: "127.0.0.1:9001"}
)",
       "6:9", "backends[0].servers[1].name", "server name \"127.0.0.1:9001\" is already used"},
      {"TwoServersWithOneName",
       R"(frontends: [{name: web, listen: "127.0.0.1:8080", backend: app}]
backends:
  - name: app
    servers:
      - {address: "127.0.0.1:9001", name: s1}
      - {address: "127.0.0.1:9002", name: s1}
)",
       "6:43", "backends[0].servers[1].name", "server name \"s1\" is already used"},
      {"MetricsOnAFrontendAddress",
       R"(metrics: {listen: "127.0.0.1:8080"}
frontends: [{name: web, listen: "127.0.0.1:8080", backend: app}]
backends: [{name: app, servers: [{address: "127.0.0.1:9001"}]}]
)",
       "1:19", "metrics.listen", "127.0.0.1:8080 is already bound by frontends[0].listen"},
      {"TwoSpawnsOnOverlappingPorts",
       R"(frontends: [{name: web, listen: "127.0.0.1:8080", backend: a}]
backends:
  - {name: a, spawn: {command: [app], instances: 2, ports: 9000-9010}}
  - {name: b, spawn: {command: [app], instances: 2, ports: 9010-9020}}
)",
       "4:60", "backends[1].spawn.ports", "overlaps the ports of backends[0].spawn"},
      {"NoFrontends", R"(backends: [{name: app, servers: [{address: "127.0.0.1:9001"}]}]
frontends: []
)",
       "2:12", "frontends", "at least one frontend is required"},
  };
}

class BadReferenceTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadReferenceTest, IsReportedAtItsLineColumnAndKey) {
  expectReported(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Validate, BadReferenceTest, ::testing::ValuesIn(badReferences()),
                         [](const auto& info) { return info.param.name; });

// `corral check` prints every problem at once, in file order, not just the first.
TEST(ValidateTest, ReportsEveryErrorOfAFileInFileOrder) {
  auto loaded = loadString(R"(workers: lots
frontends:
  - {name: web, listen: "127.0.0.1:8080", backend: ghost}
backends:
  - name: app
    balanse: round_robin
    servers: [{address: "127.0.0.1:9001", weight: 0}]
)",
                           "corral.yaml");
  ASSERT_FALSE(loaded);
  std::vector<std::string> printed;
  for (const Diagnostic& d : loaded.error()) {
    printed.push_back(d.toString());
  }
  EXPECT_THAT(printed,
              ::testing::ElementsAre(
                  HasSubstr("corral.yaml:1:10: workers: expected auto"),
                  HasSubstr("corral.yaml:3:52: frontends[0].backend: unknown backend \"ghost\""),
                  // the unused backend is a warning, printed among the errors
                  HasSubstr("corral.yaml:5:11: warning: backends[0].name: no frontend uses"),
                  HasSubstr("corral.yaml:6:5: backends[0].balanse: unknown key; did you mean "
                            "'balance'?"),
                  HasSubstr("corral.yaml:7:51: backends[0].servers[0].weight: expected an "
                            "integer from 1 to 256")));
}

} // namespace
} // namespace corral::config

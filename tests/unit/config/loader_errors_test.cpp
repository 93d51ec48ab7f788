// Bad configurations, each with the position, key and message that `corral check` prints.
#include <gtest/gtest.h>

#include "tests/unit/config/bad_config.h"

namespace corral::config {
namespace {

// A valid file with `extra` lines appended inside backends[0], from line 5 on, indented by 4.
std::string backendWith(std::string_view extra) {
  return std::string(R"(frontends: [{name: web, listen: "127.0.0.1:8080", backend: app}]
backends:
  - name: app
    servers: [{address: "127.0.0.1:9001"}]
)") + std::string(extra) +
         "\n";
}

// A valid file whose backends[0].servers[0] is `server`, written on line 5 from column 9.
std::string serverIs(std::string_view server) {
  return std::string(R"(frontends: [{name: web, listen: "127.0.0.1:8080", backend: app}]
backends:
  - name: app
    servers:
      - )") +
         std::string(server) + "\n";
}

constexpr std::string_view kValidTail = R"(
frontends: [{name: web, listen: "127.0.0.1:8080", backend: app}]
backends: [{name: app, servers: [{address: "127.0.0.1:9001"}]}]
)";

std::string topLevel(std::string_view first_line) {
  return std::string(first_line) + std::string(kValidTail);
}

std::vector<BadConfig> badValues() {
  return {
      // Types and ranges.
      {"WorkersOfZero", topLevel("workers: 0"), "1:10", "workers",
       "expected auto or an integer from 1 to 1024, got \"0\""},
      {"AListWhereAStringIsExpected", topLevel("access_log: [a]"), "1:13", "access_log",
       "expected a string, got a list"},
      {"AMapWhereAListIsExpected", "frontends: {name: web}\n", "1:12", "frontends",
       "expected a list, got a map"},
      {"RetriesAboveTen", backendWith("    retries: 11"), "5:14", "backends[0].retries",
       "expected an integer from 0 to 10, got \"11\""},
      {"NegativeRetries", backendWith("    retries: -1"), "5:14", "backends[0].retries",
       "expected an integer from 0 to 10, got \"-1\""},
      {"AMapWhereAnIntegerIsExpected", backendWith("    retries: {a: 1}"), "5:14",
       "backends[0].retries", "expected an integer from 0 to 10, got a map"},
      {"ABadDuration", backendWith("    health_check: {interval: 5x}"), "5:30",
       "backends[0].health_check.interval", "expected a duration such as 250ms, 5s or 1m"},
      {"ADurationWithoutUnit", frontendWith("    client_timeout: 60"), "6:21",
       "frontends[0].client_timeout", "got \"60\""},
      {"AZeroConnectTimeout", backendWith("    connect_timeout: 0s"), "5:22",
       "backends[0].connect_timeout", "must be more than 0"},
      {"AHeaderSizeAboveTheRelayBuffer", backendWith("    sticky_cookie: {max_header_size: 65KiB}"), "5:38",
       "backends[0].sticky_cookie.max_header_size", "must be from 1KiB to 64KiB"},
      {"ABadSize", backendWith("    sticky_cookie: {max_header_size: lots}"), "5:38",
       "backends[0].sticky_cookie.max_header_size", "expected a size such as 512, 16KiB"},
      {"ANonBoolean", frontendWith("    accept_proxy_protocol: maybe"), "6:28",
       "frontends[0].accept_proxy_protocol", "expected true or false, got \"maybe\""},
      {"ABadSpliceMode", frontendWith("    splice: sometimes"), "6:13", "frontends[0].splice",
       "expected one of auto, on, off, got \"sometimes\""},
      {"ZeroMaxConnections", frontendWith("    max_connections: 0"), "6:22",
       "frontends[0].max_connections", "expected an integer from 1 to"},
      {"ARiseOfZero", backendWith("    health_check: {rise: 0}"), "5:26",
       "backends[0].health_check.rise", "expected an integer from 1 to 100"},
      {"AnIpv4PrefixAbove32", backendWith("    ip_hash: {ipv4_prefix: 33}"), "5:28",
       "backends[0].ip_hash.ipv4_prefix", "expected an integer from 0 to 32"},
      {"AnIpv6PrefixAbove128", backendWith("    ip_hash: {ipv6_prefix: 129}"), "5:28",
       "backends[0].ip_hash.ipv6_prefix", "expected an integer from 0 to 128"},
      {"ATableSizeThatIsNotPrime", backendWith("    ip_hash: {table_size: 65536}"), "5:27",
       "backends[0].ip_hash.table_size", "65536 is not prime"},
      {"AnUnknownHashKeySource", backendWith("    hash: {key: \"body:x\"}"), "5:17",
       "backends[0].hash.key", "\"body:x\" is not a key source; use header:NAME"},
      {"AHashHeaderWithoutName", backendWith("    hash: {key: \"header:\"}"), "5:17",
       "backends[0].hash.key", "header:NAME needs a name"},
      {"AHashPathOfZeroSegments", backendWith("    hash: {key: \"path:0\"}"), "5:17",
       "backends[0].hash.key", "path:N needs N from 1 to 64"},
      {"ABoundedLoadOfOne", backendWith("    hash: {key: sni, bounded_load: 1}"), "5:36",
       "backends[0].hash.bounded_load", "0 (off) or a factor above 1"},
      {"AHashFallbackThatIsSticky", backendWith("    hash: {key: sni, fallback: sticky_cookie}"),
       "5:32", "backends[0].hash.fallback", "round_robin or ip_hash"},
      {"AHashSectionWithoutKey", backendWith("    hash: {fallback: ip_hash}"), "5:11",
       "backends[0].hash.key", "required key is missing"},
      {"AStatusOutsideHttp", backendWith("    health_check: {expect_status: 200-600}"), "5:35",
       "backends[0].health_check.expect_status", "within 100-599, got \"200-600\""},
      {"AHealthPathWithoutSlash", backendWith("    health_check: {type: http, path: healthz}"),
       "5:38", "backends[0].health_check.path", "expected an absolute request path"},
      {"AServerLimitAboveAMillion", serverIs("{address: \"127.0.0.1:1\", max_connections: 2000000}"),
       "5:51", "backends[0].servers[0].max_connections", "expected an integer from 0 to 1000000"},
      {"ANegativeServerMaxConnections", backendWith("    server_max_connections: -1"), "5:29",
       "backends[0].server_max_connections", "expected an integer from 0 to 1000000"},
      {"AQueueOfWords", backendWith("    queue: {max: many}"), "5:18", "backends[0].queue.max",
       "expected an integer from 0 to 1000000, got \"many\""},
      {"AZeroQueueTimeout", backendWith("    queue: {timeout: 0s}"), "5:22",
       "backends[0].queue.timeout", "must be more than 0"},
      {"AMisspelledQueueKey", backendWith("    queue: {tmeout: 1s}"), "5:13",
       "backends[0].queue.tmeout", "did you mean 'timeout'?"},
      {"ABackupThatIsNotABoolean", serverIs("{address: \"127.0.0.1:1\", backup: maybe}"), "5:42",
       "backends[0].servers[0].backup", "expected true or false, got \"maybe\""},
      {"AHealthHostWithASpace", backendWith("    health_check: {type: http, host: \"a b\"}"), "5:38",
       "backends[0].health_check.host", "spaces and control characters"},
      {"AHealthTlsThatIsNotABoolean", backendWith("    health_check: {tls: yes please}"), "5:25",
       "backends[0].health_check.tls", "expected true or false"},
      // Enumerations.
      {"AnUnknownBalance", backendWith("    balance: leastconn"), "5:14", "backends[0].balance",
       "expected one of round_robin, least_connections, ip_hash, sticky_cookie, hash, got "
       "\"leastconn\""},
      {"AMisspelledBalance", backendWith("    balance: round_robn"), "5:14", "backends[0].balance",
       "did you mean 'round_robin'?"},
      {"AnUnknownProxyProtocolVersion", backendWith("    send_proxy_protocol: v3"), "5:26",
       "backends[0].send_proxy_protocol", "expected one of off, v1, v2, got \"v3\""},
      {"AStickyFallbackThatIsSticky", backendWith("    sticky_cookie: {fallback: sticky_cookie}"),
       "5:31", "backends[0].sticky_cookie.fallback", "cannot be sticky_cookie"},
      {"ACookieNameWithASeparator", backendWith("    sticky_cookie: {name: \"a;b\"}"), "5:27",
       "backends[0].sticky_cookie.name", "not a valid cookie name"},
      // Unknown and repeated keys.
      {"AMisspelledKey", backendWith("    helth_check: {}"), "5:5", "backends[0].helth_check",
       "unknown key; did you mean 'health_check'?"},
      {"AMisspelledNestedKey", frontendWith("    max_connection: 10"), "6:5",
       "frontends[0].max_connection", "did you mean 'max_connections'?"},
      {"AnUnknownKeyFarFromAnyKnownOne", topLevel("colour: blue"), "1:1", "colour",
       "unknown key; expected one of: workers, admin, metrics, access_log, frontends, backends"},
      {"ARepeatedKey", backendWith("    retries: 1\n    retries: 2"), "6:5", "backends[0].retries",
       "repeated key; it is already set on line 5"},
      // Required keys.
      {"AFrontendWithoutListen",
       "backends: [{name: app, servers: [{address: \"127.0.0.1:1\"}]}]\n"
       "frontends: [{name: web, backend: app}]\n",
       "2:13", "frontends[0].listen", "required key is missing"},
      {"AFrontendWithoutBackend", "frontends: [{name: web, listen: \"127.0.0.1:8080\"}]\n", "1:13",
       "frontends[0].backend", "required key is missing"},
      {"AServerWithoutAddress", serverIs("{weight: 2}"), "5:9", "backends[0].servers[0].address",
       "required key is missing"},
      {"ABackendWithoutServersOrSpawn",
       "frontends: [{name: web, listen: \"127.0.0.1:8080\", backend: app}]\n"
       "backends: [{name: app}]\n",
       "2:12", "backends[0].servers", "a backend needs servers or spawn"},
      {"ServersAndSpawnTogether",
       backendWith("    spawn: {command: [app], instances: 1, ports: 9100-9101}"), "5:12",
       "backends[0].spawn", "servers and spawn exclude each other"},
      {"ASpawnWithoutCommand", backendWith("    spawn: {ports: 9100-9200}"), "5:12",
       "backends[0].spawn.command", "required key is missing"},
      {"TlsWithoutCertificates", frontendWith("    tls: {certificates: []}"), "6:25",
       "frontends[0].tls.certificates", "at least one certificate is required"},
      {"ACertificateWithoutKey", frontendWith("    tls: {certificates: [{cert: a.pem}]}"), "6:26",
       "frontends[0].tls.certificates[0].key", "required key is missing"},
      {"AnEmptyFile", "", "1:1", "frontends", "at least one frontend is required"},
      // Values that parse but cannot work.
      {"AListenAddressThatIsAName",
       "backends: [{name: app, servers: [{address: \"127.0.0.1:1\"}]}]\n"
       "frontends: [{name: web, listen: \"localhost:8080\", backend: app}]\n",
       "2:33", "frontends[0].listen", "\"localhost\" is not a numeric IPv4 or IPv6 address"},
      {"AServerAddressWithoutPort", serverIs("{address: localhost}"), "5:19",
       "backends[0].servers[0].address", "no port"},
      {"AnIpv4AddressOutOfRange", serverIs("{address: \"256.256.256.256:80\"}"), "5:19",
       "backends[0].servers[0].address",
       "\"256.256.256.256\" is not a valid IPv4 address (four numbers from 0 to 255)"},
      {"ADottedNumberThatIsNoAddress", serverIs("{address: \"10.1.2:80\"}"), "5:19",
       "backends[0].servers[0].address", "a DNS name cannot end in a number"},
      {"AServerHostThatIsNoDnsName", serverIs("{address: \"my app:80\"}"), "5:19",
       "backends[0].servers[0].address",
       "\"my app\" is neither a numeric IP address nor a DNS name"},
      {"AServerHostWithAnEmptyLabel", serverIs("{address: \"web..local:80\"}"), "5:19",
       "backends[0].servers[0].address", "is neither a numeric IP address nor a DNS name"},
      {"ASecondYamlDocument", std::string(kValidTail) + "---\nworkers: 2\n", "4:1", "",
       "a second YAML document; corral reads one document per file"},
      {"AServerOnPortZero", serverIs("{address: \"web:0\"}"), "5:19",
       "backends[0].servers[0].address", "port must be from 1 to 65535"},
      {"AWeightOfZero", serverIs("{address: \"127.0.0.1:9001\", weight: 0}"), "5:45",
       "backends[0].servers[0].weight", "expected an integer from 1 to 256, got \"0\""},
      {"AServerNameWithASlash", serverIs("{address: \"127.0.0.1:9001\", name: a/b}"), "5:43",
       "backends[0].servers[0].name", "'/' separates backend and server"},
      {"AServerThatIsNotAMap", serverIs("\"127.0.0.1:9001\""), "5:9", "backends[0].servers[0]",
       "expected a map, got \"127.0.0.1:9001\""},
      {"AFrontendNameWithASpace",
       "backends: [{name: app, servers: [{address: \"127.0.0.1:1\"}]}]\n"
       "frontends: [{name: \"my web\", listen: \"127.0.0.1:8080\", backend: app}]\n",
       "2:20", "frontends[0].name", "\"my web\" is not a valid name"},
      {"TooFewSpawnPorts",
       backendWith("    spawn: {command: [node], instances: 4, ports: 9001-9004}"), "5:51",
       "backends[0].spawn.ports", "holds 4 ports; 4 instances need 5"},
      {"ABackwardsPortRange",
       backendWith("    spawn: {command: [node], instances: 2, ports: 9005-9001}"), "5:51",
       "backends[0].spawn.ports", "the range 9005-9001 is backwards"},
      {"AnEmptySpawnCommand", backendWith("    spawn: {command: [], ports: 9001-9010}"), "5:22",
       "backends[0].spawn.command", "needs at least a program"},
      {"AnEnvironmentNameWithAnEqualsSign",
       backendWith("    spawn: {command: [app], ports: 9001-9500, env: {\"A=B\": x}}"), "5:60",
       "backends[0].spawn.env.A=B", "cannot hold '='"},
      {"TlsAndTlsPassthroughTogether",
       frontendWith("    tls: {certificates: [{cert: a, key: b}]}\n"
                    "    tls_passthrough: {default_backend: app}"),
       "7:22", "frontends[0].tls_passthrough", "tls and tls_passthrough exclude each other"},
      {"AnSniPatternWithAnInnerWildcard",
       frontendWith("    tls_passthrough: {routes: [{sni: \"a.*.com\", backend: app}]}"), "6:38",
       "frontends[0].tls_passthrough.routes[0].sni", "not a server name or a wildcard"},
      {"APublicAdminWithoutToken", topLevel("admin: {listen: \"0.0.0.0:9900\"}"), "1:17",
       "admin.listen", "needs token_file"},
      {"AHistoryLongerThanAnHour", topLevel("admin: {history: 2h}"), "1:18", "admin.history",
       "at most 1h"},
      {"AHistoryShorterThanTenSeconds", topLevel("admin: {history: 5s}"), "1:18",
       "admin.history", "at least 10s"},
  };
}

class BadValueTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadValueTest, IsReportedAtItsLineColumnAndKey) {
  expectReported(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Loader, BadValueTest, ::testing::ValuesIn(badValues()),
                         [](const auto& info) { return info.param.name; });

} // namespace
} // namespace corral::config

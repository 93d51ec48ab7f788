#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "corral/config/loader.h"

namespace corral::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Every key of DESIGN.md's YAML block, with values that differ from the defaults so that a key
// read into the wrong field shows. `tls` and `tls_passthrough` exclude each other, so they sit on
// two frontends; the sticky_cookie and ip_hash sections sit on two backends for the same reason.
constexpr std::string_view kFullConfig = R"(
workers: 4
admin:
  listen: 127.0.0.1:9901
  token_file: secrets/admin.token
metrics:
  listen: "[::1]:9101"
access_log: logs/access.json
frontends:
  - name: web
    listen: 0.0.0.0:8080
    backend: app
    tls:
      certificates:
        - {cert: certs/site.pem, key: certs/site.key}
        - {cert: /etc/certs/other.pem, key: /etc/certs/other.key}
      alpn: [h2, http/1.1]
      min_version: TLSv1.3
    accept_proxy_protocol: true
    trusted_proxies: [10.0.0.0/8, "2001:db8::/32"]
    allow: [10.0.0.0/8]
    deny: [10.9.0.0/16, "::1"]
    max_connections: 5000
    client_timeout: 90s
    splice: off
    drain_timeout: 0
  - name: edge
    listen: "[::]:8443"
    tls_passthrough:
      routes:
        - {sni: "*.example.com", backend: api}
        - {sni: api.example.org, backend: api}
      default_backend: api
backends:
  - name: app
    balance: sticky_cookie
    sticky_cookie:
      name: SERVERID
      fallback: least_connections
      max_age: 90m
      secret_file: cookie.key
      max_header_size: 32KiB
      header_timeout: 1500ms
    servers:
      - {address: 127.0.0.1:9001, weight: 3, name: s1, max_connections: 2}
      - {address: web:8080, backup: true}
      - {address: secure-app:8443, tls: {verify: false, ca_file: ca.pem, sni: app.internal}}
    resolve_interval: 10s
    health_check:
      type: http
      path: /ready
      host: app.internal
      tls: true
      sni: check.internal
      expect_status: 204
      interval: 3s
      timeout: 500ms
      rise: 4
      fall: 5
    passive:
      consecutive_failures: 7
      ejection_time: 1m
    slow_start: 10s
    server_max_connections: 50
    queue: {max: 20, timeout: 250ms}
    connect_timeout: 2s
    server_timeout: 2m
    retries: 0
    send_proxy_protocol: v2
  - name: api
    balance: ip_hash
    ip_hash: {ipv4_prefix: 24, ipv6_prefix: 48, table_size: 1009}
    servers: [{address: "[::1]:7000"}]
  - name: jobs
    spawn:
      command: [node, app.js]
      instances: 3
      ports: 9101-9199
      cwd: examples/node-app
      env: {NODE_ENV: production, WORKERS: 2}
      stop_timeout: 20s
)";

Config loadValid(std::string_view yaml) {
  auto loaded = loadString(yaml, "corral.yaml");
  if (!loaded) {
    for (const Diagnostic& d : loaded.error()) {
      ADD_FAILURE() << d.toString();
    }
    return {};
  }
  return std::move(loaded->config);
}

TEST(LoaderTest, ReadsEveryTopLevelKey) {
  const Config config = loadValid(kFullConfig);
  EXPECT_EQ(config.source, "corral.yaml");
  EXPECT_EQ(config.workers, 4u);
  ASSERT_TRUE(config.admin);
  EXPECT_EQ(config.admin->listen.host, "127.0.0.1");
  EXPECT_EQ(config.admin->listen.port, 9901);
  EXPECT_EQ(config.admin->token_file, "secrets/admin.token"); // loadString: as written
  ASSERT_TRUE(config.metrics);
  EXPECT_EQ(config.metrics->listen.host, "::1");
  EXPECT_EQ(config.metrics->listen.port, 9101);
  EXPECT_EQ(config.access_log, "logs/access.json");
}

TEST(LoaderTest, ReadsAFrontendThatTerminatesTls) {
  const FrontendConfig web = loadValid(kFullConfig).frontends.at(0);
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.listen.host, "0.0.0.0");
  EXPECT_EQ(web.listen.port, 8080);
  EXPECT_EQ(web.backend, "app");
  ASSERT_TRUE(web.tls);
  ASSERT_EQ(web.tls->certificates.size(), 2u);
  EXPECT_EQ(web.tls->certificates[0].cert, "certs/site.pem");
  EXPECT_EQ(web.tls->certificates[1].key, "/etc/certs/other.key");
  EXPECT_EQ(web.tls->alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(web.tls->min_version, "TLSv1.3");
  EXPECT_FALSE(web.tls_passthrough);
  EXPECT_TRUE(web.accept_proxy_protocol);
  ASSERT_EQ(web.trusted_proxies.size(), 2u);
  EXPECT_EQ(web.trusted_proxies[1].toString(), "2001:db8::/32");
  ASSERT_EQ(web.deny.size(), 2u);
  EXPECT_EQ(web.deny[1].toString(), "::1/128");
  EXPECT_EQ(web.allow.size(), 1u);
  EXPECT_EQ(web.max_connections, 5000u);
  EXPECT_EQ(web.client_timeout, 90s);
  EXPECT_EQ(web.splice, Splice::Off);
  EXPECT_EQ(web.drain_timeout, 0s);
}

TEST(LoaderTest, ReadsAFrontendThatRoutesBySni) {
  const FrontendConfig edge = loadValid(kFullConfig).frontends.at(1);
  EXPECT_EQ(edge.listen.host, "::");
  EXPECT_EQ(edge.listen.port, 8443);
  EXPECT_EQ(edge.splice, Splice::Auto); // the default
  EXPECT_TRUE(edge.backend.empty());
  ASSERT_TRUE(edge.tls_passthrough);
  ASSERT_EQ(edge.tls_passthrough->routes.size(), 2u);
  EXPECT_EQ(edge.tls_passthrough->routes[0].sni, "*.example.com");
  EXPECT_EQ(edge.tls_passthrough->routes[1].sni, "api.example.org");
  EXPECT_EQ(edge.tls_passthrough->routes[1].backend, "api");
  EXPECT_EQ(edge.tls_passthrough->default_backend, "api");
}

TEST(LoaderTest, ReadsServersAndNamesUnnamedOnesByTheirAddressAsWritten) {
  const BackendConfig app = loadValid(kFullConfig).backends.at(0);
  ASSERT_EQ(app.servers.size(), 3u);
  EXPECT_EQ(app.servers[0].name, "s1");
  EXPECT_EQ(app.servers[0].weight, 3u);
  EXPECT_EQ(app.servers[1].name, "web:8080");
  EXPECT_EQ(app.servers[1].address.host, "web");
  EXPECT_EQ(app.servers[1].weight, 1u);
  EXPECT_FALSE(app.servers[1].tls);
  ASSERT_TRUE(app.servers[2].tls);
  EXPECT_FALSE(app.servers[2].tls->verify);
  EXPECT_EQ(app.servers[2].tls->ca_file, "ca.pem");
  EXPECT_EQ(app.servers[2].tls->sni, "app.internal");
}

TEST(LoaderTest, ReadsStickyCookieDurationsAndSizes) {
  const BackendConfig app = loadValid(kFullConfig).backends.at(0);
  EXPECT_EQ(app.balance, Balance::StickyCookie);
  EXPECT_EQ(app.sticky_cookie.name, "SERVERID");
  EXPECT_EQ(app.sticky_cookie.fallback, Balance::LeastConnections);
  EXPECT_EQ(app.sticky_cookie.max_age, 90min);
  EXPECT_EQ(app.sticky_cookie.secret_file, "cookie.key");
  EXPECT_EQ(app.sticky_cookie.max_header_size, 32u * 1024);
  EXPECT_EQ(app.sticky_cookie.header_timeout, 1500ms);
}

TEST(LoaderTest, ReadsSpawnHealthCheckAndPassiveSections) {
  const BackendConfig app = loadValid(kFullConfig).backends.at(0);
  const BackendConfig jobs = loadValid(kFullConfig).backends.at(2);
  ASSERT_TRUE(jobs.spawn);
  EXPECT_EQ(jobs.spawn->command, (std::vector<std::string>{"node", "app.js"}));
  EXPECT_EQ(jobs.spawn->instances, 3u);
  EXPECT_FALSE(jobs.spawn->instances_auto);
  EXPECT_EQ(jobs.spawn->port_first, 9101);
  EXPECT_EQ(jobs.spawn->port_last, 9199);
  EXPECT_EQ(jobs.spawn->cwd, "examples/node-app");
  EXPECT_EQ(jobs.spawn->env,
            (std::map<std::string, std::string>{{"NODE_ENV", "production"}, {"WORKERS", "2"}}));
  EXPECT_EQ(jobs.spawn->stop_timeout, 20s);
  ASSERT_TRUE(app.health_check);
  EXPECT_EQ(app.health_check->type, HealthCheckType::Http);
  EXPECT_EQ(app.health_check->path, "/ready");
  EXPECT_EQ(app.health_check->host, "app.internal");
  EXPECT_TRUE(app.health_check->tls);
  EXPECT_EQ(app.health_check->sni, "check.internal");
  EXPECT_EQ(app.health_check->expect_status_min, 204);
  EXPECT_EQ(app.health_check->expect_status_max, 204);
  EXPECT_EQ(app.health_check->interval, 3s);
  EXPECT_EQ(app.health_check->timeout, 500ms);
  EXPECT_EQ(app.health_check->rise, 4u);
  EXPECT_EQ(app.health_check->fall, 5u);
  EXPECT_EQ(app.passive.consecutive_failures, 7u);
  EXPECT_EQ(app.passive.ejection_time, 1min);
}

TEST(LoaderTest, ReadsTimeoutsRetriesAndProxyProtocol) {
  const BackendConfig app = loadValid(kFullConfig).backends.at(0);
  EXPECT_EQ(app.resolve_interval, 10s);
  EXPECT_EQ(app.slow_start, 10s);
  EXPECT_EQ(app.connect_timeout, 2s);
  EXPECT_EQ(app.server_max_connections, 50u);
  EXPECT_EQ(app.queue.max, 20u);
  EXPECT_EQ(app.queue.timeout, 250ms);
  EXPECT_EQ(app.servers.at(0).max_connections, 2u);
  EXPECT_EQ(app.servers.at(1).max_connections, 0u);
  EXPECT_FALSE(app.servers.at(0).backup);
  EXPECT_TRUE(app.servers.at(1).backup);
  EXPECT_EQ(app.server_timeout, 2min);
  EXPECT_EQ(app.retries, 0u);
  EXPECT_EQ(app.send_proxy_protocol, ProxyProtocol::V2);
}

TEST(LoaderTest, ReadsHashSettings) {
  const auto read = [](std::string_view hash) {
    return loadValid(fmt::format(R"(
frontends: [{{name: web, listen: "127.0.0.1:8080", backend: app}}]
backends:
  - name: app
    balance: hash
    hash: {}
    servers: [{{address: "127.0.0.1:9001"}}]
)",
                                 hash))
        .backends.at(0)
        .hash;
  };
  const HashConfig header =
      read("{key: \"header:X-Tenant\", fallback: ip_hash, bounded_load: 1.25, table_size: 1009}");
  EXPECT_EQ(header.source, HashSource::Header);
  EXPECT_EQ(header.name, "X-Tenant");
  EXPECT_EQ(header.fallback, Balance::IpHash);
  EXPECT_DOUBLE_EQ(header.bounded_load, 1.25);
  EXPECT_EQ(header.table_size, 1009u);
  EXPECT_TRUE(header.needsRequestHead());
  EXPECT_EQ(read("{key: \"cookie:sid\"}").source, HashSource::Cookie);
  EXPECT_EQ(read("{key: \"query:room\"}").name, "room");
  const HashConfig path = read("{key: \"path:2\"}");
  EXPECT_EQ(path.source, HashSource::Path);
  EXPECT_EQ(path.path_segments, 2u);
  const HashConfig sni = read("{key: sni}");
  EXPECT_EQ(sni.source, HashSource::Sni);
  EXPECT_FALSE(sni.needsRequestHead());
  EXPECT_DOUBLE_EQ(sni.bounded_load, 0);
  EXPECT_EQ(sni.fallback, Balance::RoundRobin);
  EXPECT_EQ(read("{key: client_ip}").source, HashSource::ClientIp);
}

TEST(LoaderTest, ReadsIpHashSettings) {
  const BackendConfig api = loadValid(kFullConfig).backends.at(1);
  EXPECT_EQ(api.balance, Balance::IpHash);
  EXPECT_EQ(api.ip_hash.ipv4_prefix, 24u);
  EXPECT_EQ(api.ip_hash.ipv6_prefix, 48u);
  EXPECT_EQ(api.ip_hash.table_size, 1009u);
  EXPECT_EQ(api.servers.at(0).name, "[::1]:7000");
  EXPECT_EQ(api.servers.at(0).address.host, "::1");
}

TEST(LoaderTest, LeavesEveryAbsentKeyAtItsDocumentedDefault) {
  const Config config = loadValid(R"(
frontends: [{name: web, listen: "127.0.0.1:8080", backend: app}]
backends: [{name: app, servers: [{address: "127.0.0.1:9001"}]}]
)");
  EXPECT_EQ(config.workers, 0u);
  EXPECT_FALSE(config.admin);
  EXPECT_FALSE(config.metrics);
  EXPECT_EQ(config.access_log, "stdout");
  const FrontendConfig& web = config.frontends.at(0);
  EXPECT_FALSE(web.tls);
  EXPECT_FALSE(web.accept_proxy_protocol);
  EXPECT_EQ(web.max_connections, 100000u);
  EXPECT_EQ(web.client_timeout, 60s);
  EXPECT_EQ(web.drain_timeout, 30s);
  const BackendConfig& app = config.backends.at(0);
  EXPECT_EQ(app.balance, Balance::RoundRobin);
  EXPECT_EQ(app.sticky_cookie.name, "CORRAL");
  EXPECT_EQ(app.ip_hash.table_size, 65537u);
  EXPECT_FALSE(app.spawn);
  EXPECT_FALSE(app.health_check);
  EXPECT_EQ(app.passive.consecutive_failures, 5u);
  EXPECT_EQ(app.slow_start, 0s);
  EXPECT_EQ(app.server_max_connections, 0u);
  EXPECT_EQ(app.queue.max, 1000u);
  EXPECT_EQ(app.queue.timeout, 5s);
  EXPECT_EQ(app.connect_timeout, 3s);
  EXPECT_EQ(app.server_timeout, 60s);
  EXPECT_EQ(app.retries, 2u);
  EXPECT_EQ(app.send_proxy_protocol, ProxyProtocol::Off);
}

TEST(LoaderTest, FillsTheDefaultsOfASectionWrittenWithoutKeys) {
  const Config config = loadValid(R"(
workers: auto
admin:
metrics: {}
frontends: [{name: web, listen: "127.0.0.1:8080", backend: app}]
backends: [{name: app, servers: [{address: "127.0.0.1:9001"}], health_check: {}}]
)");
  EXPECT_EQ(config.workers, 0u);
  ASSERT_TRUE(config.admin);
  EXPECT_EQ(config.admin->listen.port, 9900);
  ASSERT_TRUE(config.metrics);
  EXPECT_EQ(config.metrics->listen.port, 9100);
  ASSERT_TRUE(config.backends.at(0).health_check);
  EXPECT_EQ(config.backends.at(0).health_check->expect_status_min, 200);
  EXPECT_EQ(config.backends.at(0).health_check->expect_status_max, 399);
}

TEST(LoaderTest, AcceptsOffAndStdoutAsAccessLogWords) {
  EXPECT_EQ(loadValid(R"(
access_log: off
frontends: [{name: web, listen: "127.0.0.1:8080", backend: app}]
backends: [{name: app, servers: [{address: "127.0.0.1:9001"}]}]
)")
                .access_log,
            "off");
}

TEST(LoaderTest, WarnsAboutABackendThatNoFrontendUses) {
  auto loaded = loadString(R"(
frontends: [{name: web, listen: "127.0.0.1:8080", backend: app}]
backends:
  - {name: app, servers: [{address: "127.0.0.1:9001"}]}
  - {name: spare, servers: [{address: "127.0.0.1:9002"}]}
)",
                           "corral.yaml");
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->warnings.size(), 1u);
  EXPECT_EQ(loaded->warnings[0].toString(),
            "corral.yaml:5:12: warning: backends[1].name: no frontend uses this backend");
}

// Keys that their sibling settings make pointless load, but each one is pointed out.
// A hash key in the request head is read with sticky_cookie's max_header_size and header_timeout.
TEST(LoaderTest, AHashKeyInTheRequestHeadUsesTheStickyCookieLimitsWithoutAWarning) {
  auto loaded = loadString(R"(
frontends: [{name: web, listen: "127.0.0.1:8080", backend: app}]
backends:
  - name: app
    balance: hash
    hash: {key: "query:room"}
    sticky_cookie: {max_header_size: 8KiB, header_timeout: 2s}
    servers: [{address: "127.0.0.1:9001"}]
)",
                           "corral.yaml");
  ASSERT_TRUE(loaded) << loaded.error().at(0).toString();
  EXPECT_TRUE(loaded->warnings.empty()) << loaded->warnings.at(0).toString();
  EXPECT_EQ(loaded->config.backends.at(0).sticky_cookie.max_header_size, 8u * 1024);
}

TEST(LoaderTest, WarnsAboutKeysThatOtherSettingsIgnore) {
  auto loaded = loadString(R"(
frontends:
  - {name: web, listen: "127.0.0.1:8080", backend: app}
  - {name: edge, listen: "127.0.0.1:8443", backend: app, tls_passthrough: {default_backend: app}}
backends:
  - name: app
    balance: ip_hash
    ip_hash: {table_size: 101}
    sticky_cookie: {name: S}
    servers: [{address: "127.0.0.1:9001"}, {address: "127.0.0.1:9002"}]
    health_check: {type: tcp, path: /healthz}
  - name: jobs
    spawn: {command: [app], instances: 1, ports: 9100-9101, env: {PORT: "80"}}
)",
                           "corral.yaml");
  ASSERT_TRUE(loaded) << loaded.error().at(0).toString();
  std::vector<std::string> keys;
  for (const Diagnostic& warning : loaded->warnings) {
    EXPECT_TRUE(warning.warning);
    keys.push_back(warning.key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "frontends[1].backend",           // tls_passthrough routes instead
                      "backends[0].ip_hash.table_size", // 101 slots for 2 servers
                      "backends[0].sticky_cookie",      // balance is not sticky_cookie
                      "backends[0].health_check.path",  // a tcp check sends no request
                      "backends[1].name",               // no frontend uses jobs
                      "backends[1].spawn.env.PORT",     // corral sets PORT itself
                  }));
}

// Settings that load but cannot do what they say: a client that picks h2 never shows the
// sticky cookie, and a plain-HTTP check cannot pass against a server reached over TLS.
TEST(LoaderTest, WarnsAboutSettingsThatCannotWorkTogether) {
  auto loaded = loadString(R"(
frontends:
  - name: web
    listen: 127.0.0.1:8443
    backend: app
    tls: {certificates: [{cert: a.pem, key: a.key}], alpn: [http/1.1, h2]}
backends:
  - name: app
    balance: sticky_cookie
    servers: [{address: "127.0.0.1:9001"}, {address: "127.0.0.1:9002", tls: {verify: false}}]
    health_check: {type: http}
)",
                           "corral.yaml");
  ASSERT_TRUE(loaded) << loaded.error().at(0).toString();
  ASSERT_EQ(loaded->warnings.size(), 2u);
  EXPECT_THAT(loaded->warnings[0].toString(),
              HasSubstr("corral.yaml:6:71: warning: frontends[0].tls.alpn[1]: offers h2, but "
                        "backend \"app\" balances by sticky_cookie"));
  EXPECT_THAT(loaded->warnings[1].toString(),
              HasSubstr("corral.yaml:11:26: warning: backends[0].health_check.type: an http check "
                        "speaks plain HTTP, but servers[1] is reached over TLS"));
}

// The same settings each alone are fine: h2 before a round-robin backend, an http check of plain
// servers, a tcp check of a TLS server.
TEST(LoaderTest, DoesNotWarnAboutH2OrHttpChecksWhereTheyWork) {
  auto loaded = loadString(R"(
frontends:
  - name: web
    listen: 127.0.0.1:8443
    backend: app
    tls: {certificates: [{cert: a.pem, key: a.key}], alpn: [h2, http/1.1]}
  - {name: plain, listen: 127.0.0.1:8080, backend: sticky}
backends:
  - {name: app, servers: [{address: "127.0.0.1:9001"}], health_check: {type: http}}
  - name: sticky
    balance: sticky_cookie
    servers: [{address: "127.0.0.1:9002", tls: {verify: false}}]
    health_check: {type: tcp}
)",
                           "corral.yaml");
  ASSERT_TRUE(loaded) << loaded.error().at(0).toString();
  EXPECT_TRUE(loaded->warnings.empty()) << loaded->warnings.at(0).toString();
}

// `instances: auto` and a missing `instances` are one instance per core, resolved by the loader
// so that the supervisor, the snapshot and the metrics count the same instances.
TEST(LoaderTest, ResolvesAutoInstancesToOnePerCore) {
  const uint32_t cores = std::max(1u, std::thread::hardware_concurrency());
  for (std::string_view instances : {"instances: auto, ", ""}) {
    const Config config = loadValid(fmt::format(
        R"(
frontends: [{{name: web, listen: "127.0.0.1:8080", backend: app}}]
backends: [{{name: app, spawn: {{command: [app], {}ports: 9000-11000}}}}]
)",
        instances));
    ASSERT_TRUE(config.backends.at(0).spawn) << instances;
    EXPECT_EQ(config.backends[0].spawn->instances, cores) << instances;
    EXPECT_TRUE(config.backends[0].spawn->instances_auto) << instances;
  }
}

TEST(LoaderTest, FindsABackendByName) {
  const Config config = loadValid(kFullConfig);
  ASSERT_NE(config.findBackend("api"), nullptr);
  EXPECT_EQ(config.findBackend("api")->balance, Balance::IpHash);
  EXPECT_EQ(config.findBackend("nope"), nullptr);
}

// yaml-cpp stops at the first syntax error, so malformed YAML gives exactly one diagnostic, at
// the position yaml-cpp names: here the start of line 2, where it found `backends` instead of
// the `]` that ends the list.
TEST(LoaderTest, ReportsMalformedYamlOnceWithItsPosition) {
  auto loaded = loadString("frontends: [{name: web}\nbackends: []\n", "corral.yaml");
  ASSERT_FALSE(loaded);
  ASSERT_EQ(loaded.error().size(), 1u);
  EXPECT_EQ(loaded.error()[0].toString(), "corral.yaml:2:1: end of sequence flow not found");
}

TEST(LoaderTest, ReportsATabIndentationAsMalformedYaml) {
  auto loaded = loadString("backends:\n\t- name: app\n", "corral.yaml");
  ASSERT_FALSE(loaded);
  ASSERT_EQ(loaded.error().size(), 1u);
  EXPECT_EQ(loaded.error()[0].line, 2);
}

// yaml-cpp guards its recursive parser with a depth limit; the loader says what it means rather
// than passing on yaml-cpp's "bad file".
TEST(LoaderTest, ReportsYamlNestedTooDeeplyInsteadOfOverflowingTheStack) {
  const std::string deep = "frontends: " + std::string(100000, '[') + "\n";
  auto loaded = loadString(deep, "corral.yaml");
  ASSERT_FALSE(loaded);
  ASSERT_EQ(loaded.error().size(), 1u);
  EXPECT_THAT(loaded.error()[0].message, HasSubstr("levels deep"));
}

// yaml-cpp 0.7's LoadAll never returned on these (found by tests/fuzz/fuzz_config.cpp): it kept
// adding empty documents at a token that it could not place, until memory ran out.
TEST(LoaderTest, ReportsATokenYamlCannotPlaceInsteadOfReadingForever) {
  for (const std::string yaml : {",: a", ",", "[a]\n,\n"}) {
    auto loaded = loadString(yaml, "corral.yaml");
    ASSERT_FALSE(loaded) << yaml;
    ASSERT_EQ(loaded.error().size(), 1u) << yaml;
    EXPECT_EQ(loaded.error()[0].message, "unexpected character: not YAML") << yaml;
  }
  auto comma = loadString("[a]\n,\n", "corral.yaml");
  ASSERT_FALSE(comma);
  EXPECT_EQ(comma.error()[0].toString(), "corral.yaml:2:1: unexpected character: not YAML");
}

// Peak resident memory of this process so far, in bytes (Linux reports KiB).
size_t peakResidentBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<size_t>(usage.ru_maxrss) * 1024;
}

// A value or key megabytes long is no typo: it gets no "did you mean", which once cost a table
// row per character (13 s and 1.9 GB for 10 MB), and its message quotes only its beginning. The
// bound is on memory rather than time: loading 1 MB twice took 8 MB more (release build; more
// under AddressSanitizer, whose quarantine keeps freed blocks), the old suggestion 189 MB (a
// 24-byte vector and a heap row per character).
TEST(LoaderTest, ReportsAHugeInvalidValueAndKeyInLittleMemoryAndFewWords) {
  const std::string huge(1 << 20, 'x');
  // `? key` because YAML allows an implicit key of at most 1024 characters (YAML 1.2 §7.4.2).
  const std::string yaml = fmt::format("workers: 1\n? {}\n: 1\nfrontends: []\nbackends:\n"
                                       "  - {{name: app, balance: {}}}\n",
                                       huge, huge);
  const size_t peak_before = peakResidentBytes();
  auto loaded = loadString(yaml, "corral.yaml");
  const size_t grown = peakResidentBytes() - peak_before;
  EXPECT_LT(grown, size_t{128} << 20);
  std::printf("peak resident memory grew by %zu KiB\n", grown >> 10);
  ASSERT_FALSE(loaded);
  for (const Diagnostic& d : loaded.error()) {
    EXPECT_LT(d.toString().size(), 2200u) << d.toString().substr(0, 200);
    EXPECT_THAT(d.message, Not(HasSubstr("did you mean"))) << d.message.substr(0, 200);
  }
  const auto balance =
      std::find_if(loaded.error().begin(), loaded.error().end(),
                   [](const Diagnostic& d) { return d.key == "backends[0].balance"; });
  ASSERT_NE(balance, loaded.error().end());
  EXPECT_THAT(balance->message, HasSubstr("got \"xxxxxxxx"));
  EXPECT_THAT(balance->message, HasSubstr("more bytes)"));
}

TEST(DiagnosticTest, PrintsFileLineColumnKeyAndMessage) {
  const Diagnostic diagnostic{.file = "corral.yaml",
                              .line = 14,
                              .column = 17,
                              .key = "backends[0].health_check.interval",
                              .message = "must be more than 0"};
  EXPECT_EQ(diagnostic.toString(),
            "corral.yaml:14:17: backends[0].health_check.interval: must be more than 0");
}

TEST(DiagnosticTest, LeavesOutThePositionAndKeyOfAProblemWithTheWholeFile) {
  const Diagnostic diagnostic{.file = "corral.yaml", .message = "cannot read"};
  EXPECT_EQ(diagnostic.toString(), "corral.yaml: cannot read");
}

// loadFile resolves relative paths against the file's folder, so the config means the same
// whatever directory corral is started from.
class LoadFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    // One folder per test and process: ctest may run these tests side by side.
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    folder_ = std::filesystem::path(::testing::TempDir()) /
              fmt::format("corral_{}_{}", test->name(), getpid());
    std::filesystem::create_directories(folder_);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  std::string write(std::string_view text) {
    const auto path = folder_ / "corral.yaml";
    std::ofstream(path) << text;
    return path.string();
  }

  std::filesystem::path folder_;
};

TEST_F(LoadFileTest, ResolvesRelativePathsAgainstTheConfigFolder) {
  auto loaded = loadFile(write(kFullConfig));
  ASSERT_TRUE(loaded) << loaded.error().at(0).toString();
  const Config& config = loaded->config;
  const auto folder = std::filesystem::absolute(folder_);
  EXPECT_EQ(config.admin->token_file, (folder / "secrets/admin.token").string());
  EXPECT_EQ(config.access_log, (folder / "logs/access.json").string());
  EXPECT_EQ(config.frontends[0].tls->certificates[0].cert, (folder / "certs/site.pem").string());
  EXPECT_EQ(config.frontends[0].tls->certificates[1].cert, "/etc/certs/other.pem");
  EXPECT_EQ(config.backends[0].sticky_cookie.secret_file, (folder / "cookie.key").string());
  EXPECT_EQ(config.backends[0].servers[2].tls->ca_file, (folder / "ca.pem").string());
  EXPECT_EQ(config.backends[2].spawn->cwd, (folder / "examples/node-app").string());
}

TEST_F(LoadFileTest, NamesTheFileInEveryDiagnostic) {
  const std::string path = write(R"(workers: none
frontends: [{name: web, listen: "127.0.0.1:8080", backend: app}]
backends: [{name: app, servers: [{address: "127.0.0.1:9001"}]}]
)");
  auto loaded = loadFile(path);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().at(0).toString(),
            path + ":1:10: workers: expected auto or an integer from 1 to 1024, got \"none\"");
}

TEST_F(LoadFileTest, ReportsAFileThatCannotBeRead) {
  const std::string path = (folder_ / "missing.yaml").string();
  auto loaded = loadFile(path);
  ASSERT_FALSE(loaded);
  ASSERT_EQ(loaded.error().size(), 1u);
  EXPECT_EQ(loaded.error()[0].file, path);
  EXPECT_THAT(loaded.error()[0].message, HasSubstr("No such file or directory"));
}

} // namespace
} // namespace corral::config

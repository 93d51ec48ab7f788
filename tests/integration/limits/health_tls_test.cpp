// Health checks that match the server: a server that speaks only TLS is up for a check with
// `tls: true` (which sends the configured SNI) and down for a plaintext one.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "control_harness.h"

#include "corral/tls/server_context.h"
#include "tests/certs/test_certificates.h"
#include "tests/integration/tls/tls_test_server.h"
#include "tests/support/corral_process.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

std::shared_ptr<tls::ServerContext> tlsOnly(TestCertificates& folder) {
  auto context = tls::ServerContext::create(
      {.certificates = {folder.issue({.file_stem = "app", .dns_names = {"app.internal"}})}});
  if (!context) {
    throw std::runtime_error(context.error().message);
  }
  return *context;
}

std::string configWith(std::string_view check) {
  return fmt::format(R"(
workers: 1
admin: {{listen: "127.0.0.1:0"}}
frontends: [{{name: web, listen: "127.0.0.1:0", backend: app}}]
backends:
  - name: app
    health_check: {{type: http, {}, interval: 100ms, timeout: 1s, rise: 1, fall: 1}}
    servers: [{{address: "${{server}}", name: s1}}]
)", check);
}

TEST(HealthCheckTlsTest, ATlsCheckMarksATlsOnlyServerUpAndSendsItsSni) {
  TestCertificates folder;
  TlsTestServer server(tlsOnly(folder));
  const std::string address = fmt::format("127.0.0.1:{}", server.port());
  CorralProcess corral(configWith("tls: true, sni: app.internal, host: app.internal"),
                       {{"server", address}});
  ASSERT_TRUE(corral.ready());
  const std::string admin = adminAddress(corral);
  EXPECT_TRUE(pollUntil([&] { return serverState(admin, "app", "s1") == "up"; }, 10s))
      << serverIn(adminStatus(admin), "app", "s1");
  const HandshakeOutcome first = server.outcome(0);
  ASSERT_TRUE(first.info);
  EXPECT_EQ(first.info->server_name, "app.internal");
}

TEST(HealthCheckTlsTest, APlaintextCheckMarksATlsOnlyServerDown) {
  TestCertificates folder;
  TlsTestServer server(tlsOnly(folder));
  CorralProcess corral(configWith("path: /healthz"),
                       {{"server", fmt::format("127.0.0.1:{}", server.port())}});
  ASSERT_TRUE(corral.ready());
  const std::string admin = adminAddress(corral);
  EXPECT_TRUE(pollUntil([&] { return serverState(admin, "app", "s1") == "down"; }, 10s))
      << serverIn(adminStatus(admin), "app", "s1");
}

} // namespace
} // namespace corral::test

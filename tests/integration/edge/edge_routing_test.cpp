// TLS to servers (re-encryption), tls_passthrough routing by SNI, and the PROXY protocol between
// two corral processes: real TLS servers (tls::ServerContext) and real clients on 127.0.0.x.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "corral/tls/server_context.h"
#include "tests/integration/edge/edge_support.h"
#include "tests/integration/tls/tls_test_server.h"
#include "tests/support/fake_backend.h"

namespace corral::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::shared_ptr<tls::ServerContext> serverContext(const config::CertificateConfig& certificate) {
  auto context = tls::ServerContext::create({.certificates = {certificate}, .alpn = {}});
  if (!context) {
    throw std::runtime_error(context.error().message);
  }
  return *context;
}

std::string localAddress(const TlsTestServer& server) {
  return fmt::format("127.0.0.1:{}", server.port());
}

// A plain frontend in front of a TLS server: corral verifies the server's certificate against the
// CA under the configured SNI name; a server whose certificate does not carry the expected name
// is a failed connect, and the client gets nothing.
TEST(ReencryptionTest, SpeaksVerifiedTlsToServersWithServersTls) {
  TlsTestServer secure(serverContext(edgeCertificates().backend));
  Substitutions substitutions = certificateSubstitutions();
  substitutions["secure"] = localAddress(secure);
  CorralProcess corral(R"(
workers: 1
frontends:
  - {name: good, listen: "127.0.0.1:0", backend: good}
  - {name: wrong, listen: "127.0.0.1:0", backend: wrong}
backends:
  - {name: good, servers: [{address: "${secure}", tls: {ca_file: "${ca}", sni: backend.internal}}]}
  - {name: wrong, retries: 0,
     servers: [{address: "${secure}", tls: {ca_file: "${ca}", sni: other.internal}}]}
)", substitutions);
  ASSERT_TRUE(corral.ready());
  const std::string reply = httpGet(corral.listenAddress("good"), "/").raw;
  EXPECT_THAT(reply, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(reply, HasSubstr("sni=backend.internal"));
  EXPECT_EQ(secure.outcome(0).info->server_name, "backend.internal");

  EXPECT_EQ(httpGet(corral.listenAddress("wrong"), "/").raw, "");
  const auto log = corral.waitForAccessLog(2, 5s);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].value("termination", ""), "server_closed") << log[0];
  EXPECT_EQ(log[1].value("termination", ""), "connect_failed") << log[1];
}

// Passthrough: the ClientHello's server name picks the backend (an exact name and a wildcard), the
// client's TLS session ends at that backend's own certificate, and a name without a route (and no
// default_backend) is closed.
TEST(PassthroughTest, RoutesTwoServerNamesToTwoBackendsEndToEnd) {
  TlsTestServer server_a(serverContext(edgeCertificates().a));
  TlsTestServer server_b(serverContext(edgeCertificates().b));
  CorralProcess corral(R"(
workers: 1
frontends:
  - name: sni
    listen: "127.0.0.1:0"
    tls_passthrough:
      routes: [{sni: a.example.com, backend: a}, {sni: "*.b.example.com", backend: b}]
backends:
  - {name: a, servers: [{address: "${a}"}]}
  - {name: b, servers: [{address: "${b}"}]}
)", {{"a", localAddress(server_a)}, {"b", localAddress(server_b)}});
  ASSERT_TRUE(corral.ready());
  const std::string address = corral.listenAddress("sni");
  constexpr const char* kRequest = "GET / HTTP/1.0\r\n\r\n"; // TlsTestServer answers one
  const auto a = sClient(address, "a.example.com", {"-verify_return_error"}, kRequest);
  EXPECT_EQ(a.exit_code, 0) << a.out;
  EXPECT_THAT(a.out, HasSubstr("subject=CN = edge-a"));
  EXPECT_THAT(a.out, HasSubstr("sni=a.example.com")); // the body from server_a
  const auto b = sClient(address, "x.b.example.com", {"-verify_return_error"}, kRequest);
  EXPECT_EQ(b.exit_code, 0) << b.out;
  EXPECT_THAT(b.out, HasSubstr("subject=CN = edge-b"));
  EXPECT_EQ(server_b.outcome(0).info->server_name, "x.b.example.com");
  const auto unknown = sClient(address, "c.example.com", {}, kRequest);
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.out, Not(HasSubstr("subject=CN")));
  const auto log = corral.waitForAccessLog(3, 5s);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].value("backend", ""), "a") << log[0];
  EXPECT_EQ(log[0].value("sni", ""), "a.example.com") << log[0];
  EXPECT_EQ(log[1].value("backend", ""), "b") << log[1];
  EXPECT_EQ(log[2].value("termination", ""), "no_server") << log[2];
}

// `front` sends a PROXY header to `back`, which accepts one: the client's own address (a
// 127.0.0.x of its choice) is what `back` logs, not front's. The clients send nothing but their
// FIN: a name-then-close server that closes with unread bytes would reset the connection.
constexpr const char* kFront = R"(
workers: 1
frontends: [{name: front, listen: "127.0.0.1:0", backend: back}]
backends:
  - {name: back, send_proxy_protocol: ${version}, servers: [{address: "${back}"${tls}}]}
)";

TEST(ProxyProtocolTest, VersionOneCarriesTheClientAddressAcrossTwoCorrals) {
  FakeBackend s1("s1");
  CorralProcess back(R"(
workers: 1
frontends: [{name: back, listen: "127.0.0.1:0", backend: app, accept_proxy_protocol: true}]
backends: [{name: app, balance: ip_hash, servers: [{address: "${s1}"}]}]
)", {{"s1", s1.address()}});
  ASSERT_TRUE(back.ready());
  CorralProcess front(kFront, {{"version", "v1"}, {"back", back.listenAddress("back")}, {"tls", ""}});
  ASSERT_TRUE(front.ready());
  EXPECT_EQ(exchangeFrom("127.0.0.7", front.listenAddress("front"), ""), "s1");
  const auto log = back.waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_THAT(log[0].value("client", ""), StartsWith("127.0.0.7:")) << log[0];
  EXPECT_EQ(log[0].value("chosen_by", ""), "ip_hash") << log[0];
}

// v2, and TLS on top: `front` writes the PROXY header in the clear, then re-encrypts to `back`,
// which reads the header before its TLS handshake.
TEST(ProxyProtocolTest, VersionTwoWorksInFrontOfATlsFrontend) {
  FakeBackend s1("s1");
  Substitutions substitutions = certificateSubstitutions();
  substitutions["s1"] = s1.address();
  CorralProcess back(R"(
workers: 1
frontends:
  - {name: back, listen: "127.0.0.1:0", backend: app, accept_proxy_protocol: true,
     tls: {certificates: [{cert: "${a_cert}", key: "${a_key}"}]}}
backends: [{name: app, servers: [{address: "${s1}"}]}]
)", substitutions);
  ASSERT_TRUE(back.ready());
  CorralProcess front(kFront, {{"version", "v2"},
                               {"back", back.listenAddress("back")},
                               {"tls", fmt::format(", tls: {{ca_file: \"{}\", sni: a.example.com}}",
                                                   caFile())}});
  ASSERT_TRUE(front.ready());
  EXPECT_EQ(exchangeFrom("127.0.0.9", front.listenAddress("front"), ""), "s1");
  const auto log = back.waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_THAT(log[0].value("client", ""), StartsWith("127.0.0.9:")) << log[0];
  EXPECT_EQ(log[0].value("sni", ""), "a.example.com") << log[0];
}

// A frontend that expects a PROXY header closes a client that sends anything else, counts it and
// never contacts a server; a hand-written v1 header is honoured, its source address logged.
TEST(ProxyProtocolTest, AMissingHeaderIsClosedAndCounted) {
  FakeBackend s1("s1");
  CorralProcess back(R"(
workers: 1
metrics: {listen: "127.0.0.1:0"}
frontends: [{name: back, listen: "127.0.0.1:0", backend: app, accept_proxy_protocol: true}]
backends: [{name: app, servers: [{address: "${s1}"}]}]
)", {{"s1", s1.address()}});
  ASSERT_TRUE(back.ready());
  EXPECT_EQ(exchangeFrom("127.0.0.1", back.listenAddress("back"), "GET / HTTP/1.0\r\n\r\n"), "");
  EXPECT_EQ(exchangeFrom("127.0.0.1", back.listenAddress("back"),
                         "PROXY TCP4 192.0.2.1 198.51.100.2 5555 443\r\n"),
            "s1");
  const auto log = back.waitForAccessLog(2, 5s);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].value("termination", ""), "bad_proxy_header") << log[0];
  EXPECT_EQ(log[1].value("client", ""), "192.0.2.1:5555") << log[1];
  EXPECT_EQ(scrape(back, "corral_frontend_rejected_connections_total",
                   {{"frontend", "back"}, {"reason", "proxy_protocol"}}),
            1);
  EXPECT_EQ(s1.acceptedConnections(), 1);
}

} // namespace
} // namespace corral::test

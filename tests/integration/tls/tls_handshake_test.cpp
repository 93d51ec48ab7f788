// Real TLS clients (openssl s_client, curl) against a ServerContext on 127.0.0.1.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "corral/tls/server_context.h"

#include "tests/certs/test_certificates.h"
#include "tests/integration/tls/tls_test_server.h"
#include "tests/support/child_process.h"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kRequest = "GET / HTTP/1.0\r\nHost: test\r\n\r\n";

struct Certificates {
  TestCertificates folder;
  config::CertificateConfig a_ecdsa = folder.issue(
      {.file_stem = "a-ecdsa", .dns_names = {"a.example.com"}, .common_name = "a-ecdsa"});
  config::CertificateConfig a_rsa = folder.issue({.file_stem = "a-rsa",
                                                  .dns_names = {"a.example.com"},
                                                  .common_name = "a-rsa",
                                                  .key_type = KeyType::Rsa});
  config::CertificateConfig b_wildcard = folder.issue(
      {.file_stem = "b", .dns_names = {"*.b.example.com"}, .common_name = "b-wildcard"});
};

const Certificates& certificates() {
  static const Certificates made;
  return made;
}

class TlsHandshakeTest : public ::testing::Test {
protected:
  std::shared_ptr<tls::ServerContext> makeContext(std::vector<std::string> alpn = {"http/1.1"}) {
    const auto& c = certificates();
    auto context = tls::ServerContext::create(
        {.certificates = {c.a_ecdsa, c.a_rsa, c.b_wildcard}, .alpn = std::move(alpn)});
    if (!context) {
      throw std::runtime_error(context.error().message);
    }
    return *context;
  }

  CommandResult sClient(const TlsTestServer& server, std::vector<std::string> extra) {
    std::vector<std::string> argv = {"openssl", "s_client", "-connect",
                                     fmt::format("127.0.0.1:{}", server.port()), "-CAfile",
                                     certificates().folder.caFile(), "-ign_eof"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return runCommand(argv, {.input = kRequest, .timeout = 10s, .merge_output = true});
  }

  std::string sessionFile(const std::string& name) { return certificates().folder.folder() + "/" + name; }
};

// SNI picks the certificate: the wildcard one for a name under b.example.com, the default for a
// name no certificate covers; the client verifies the chain and the name against the test CA.
TEST_F(TlsHandshakeTest, SniSelectsTheCertificateForEachName) {
  TlsTestServer server(makeContext());
  const auto wildcard = sClient(server, {"-servername", "x.b.example.com", "-verify_hostname",
                                         "x.b.example.com", "-verify_return_error"});
  EXPECT_EQ(wildcard.exit_code, 0) << wildcard.out;
  EXPECT_THAT(wildcard.out, HasSubstr("subject=CN = b-wildcard"));
  EXPECT_THAT(wildcard.out, HasSubstr("Verify return code: 0 (ok)"));
  EXPECT_EQ(server.outcome(0).info->server_name, "x.b.example.com");

  const auto exact = sClient(server, {"-servername", "a.example.com", "-verify_hostname",
                                      "a.example.com", "-verify_return_error"});
  EXPECT_EQ(exact.exit_code, 0) << exact.out;
  EXPECT_THAT(exact.out, HasSubstr("subject=CN = a-ecdsa"));

  const auto unknown = sClient(server, {"-servername", "unknown.example.org"});
  EXPECT_THAT(unknown.out, HasSubstr("subject=CN = a-ecdsa")); // the default
}

// Two certificates for the same name, one ECDSA and one RSA: a client that only accepts RSA
// suites gets the RSA one, every other client the ECDSA one.
TEST_F(TlsHandshakeTest, AnRsaOnlyClientGetsTheRsaCertificateOfADualPair) {
  TlsTestServer server(makeContext());
  const auto rsa = sClient(server, {"-servername", "a.example.com", "-tls1_2", "-cipher",
                                    "ECDHE-RSA-AES128-GCM-SHA256", "-verify_return_error"});
  EXPECT_EQ(rsa.exit_code, 0) << rsa.out;
  EXPECT_THAT(rsa.out, HasSubstr("subject=CN = a-rsa"));
  const auto ecdsa = sClient(server, {"-servername", "a.example.com", "-tls1_2"});
  EXPECT_THAT(ecdsa.out, HasSubstr("subject=CN = a-ecdsa"));
}

TEST_F(TlsHandshakeTest, NegotiatesTheFirstConfiguredAlpnProtocolTheClientOffers) {
  TlsTestServer server(makeContext({"http/1.1", "h2"}));
  const auto both = sClient(server, {"-servername", "a.example.com", "-alpn", "h2,http/1.1"});
  EXPECT_THAT(both.out, HasSubstr("ALPN protocol: http/1.1"));
  EXPECT_EQ(server.outcome(0).info->alpn, "http/1.1");
  // No protocol in common: the handshake goes on without ALPN rather than failing.
  const auto none = sClient(server, {"-servername", "a.example.com", "-alpn", "spdy/3"});
  EXPECT_EQ(none.exit_code, 0) << none.out;
  EXPECT_THAT(none.out, HasSubstr("No ALPN negotiated"));
  EXPECT_EQ(server.outcome(1).info->alpn, "");
}

// A session saved by one connection resumes on the next: with a TLS 1.3 ticket, with a TLS 1.2
// ticket, and with the TLS 1.2 session cache when the client refuses tickets.
TEST_F(TlsHandshakeTest, ASavedSessionIsResumed) {
  TlsTestServer server(makeContext());
  size_t handshakes = 0;
  for (const std::vector<std::string>& flags : std::vector<std::vector<std::string>>{
           {"-tls1_3"}, {"-tls1_2"}, {"-tls1_2", "-no_ticket"}}) {
    const std::string session = sessionFile(fmt::format("session-{}", handshakes));
    auto first = flags, second = flags;
    first.insert(first.end(), {"-servername", "a.example.com", "-sess_out", session});
    second.insert(second.end(), {"-servername", "a.example.com", "-sess_in", session});
    const auto full = sClient(server, first);
    EXPECT_THAT(full.out, HasSubstr("New, TLSv1.")) << flags.back();
    const auto resumed = sClient(server, second);
    EXPECT_THAT(resumed.out, HasSubstr("Reused, TLSv1.")) << flags.back();
    EXPECT_FALSE(server.outcome(handshakes++).info->resumed);
    EXPECT_TRUE(server.outcome(handshakes++).info->resumed) << flags.back();
  }
}

// TLS 1.3 clients use a ticket once, so a resumed connection must bring the next ticket: a chain
// of connections, each resuming with the ticket the one before received, stays resumed (wrk and
// browsers reconnect that way; without fresh tickets every second connection was a full one).
TEST_F(TlsHandshakeTest, EveryTlsOneThreeResumptionBringsTheNextTicket) {
  TlsTestServer server(makeContext());
  std::string previous;
  for (int connection = 0; connection < 4; ++connection) {
    const std::string session = sessionFile(fmt::format("chain-{}", connection));
    std::vector<std::string> flags = {"-tls1_3", "-servername", "a.example.com", "-sess_out",
                                      session};
    if (!previous.empty()) {
      flags.insert(flags.end(), {"-sess_in", previous});
    }
    const auto result = sClient(server, flags);
    EXPECT_THAT(result.out, HasSubstr("Post-Handshake New Session Ticket arrived"))
        << "connection " << connection;
    EXPECT_EQ(server.outcome(connection).info->resumed, connection > 0) << connection;
    previous = session;
  }
}

// A ticket survives one key rotation (the previous key still decrypts it) but not two.
TEST_F(TlsHandshakeTest, ATicketOutlivesOneKeyRotationButNotTwo) {
  const auto context = makeContext();
  TlsTestServer server(context);
  const std::string session = sessionFile("rotation");
  sClient(server, {"-servername", "a.example.com", "-sess_out", session});
  context->rotateTicketKeys();
  EXPECT_THAT(sClient(server, {"-servername", "a.example.com", "-sess_in", session}).out,
              HasSubstr("Reused"));
  context->rotateTicketKeys();
  context->rotateTicketKeys();
  EXPECT_THAT(sClient(server, {"-servername", "a.example.com", "-sess_in", session}).out,
              HasSubstr("New, TLSv1.3"));
  EXPECT_FALSE(server.outcome(2).info->resumed);
}

// SECLEVEL=0 lets this OpenSSL send a TLS 1.1 ClientHello at all; the server must refuse it.
TEST_F(TlsHandshakeTest, TlsOneOneIsRefused) {
  TlsTestServer server(makeContext());
  const auto old = sClient(server, {"-servername", "a.example.com", "-tls1_1", "-cipher",
                                    "DEFAULT@SECLEVEL=0"});
  EXPECT_NE(old.exit_code, 0);
  EXPECT_THAT(old.out, Not(HasSubstr("subject=CN")));
  const auto outcome = server.outcome(0);
  EXPECT_FALSE(outcome.info);
  EXPECT_EQ(outcome.failure, tls::HandshakeFailure::UnsupportedProtocol);
}

TEST_F(TlsHandshakeTest, CurlFetchesOverTlsWithTheCertificateVerified) {
  TlsTestServer server(makeContext());
  const std::string url = fmt::format("https://a.example.com:{}/", server.port());
  const auto fetched = runCommand({"curl", "--silent", "--show-error", "--http1.1", "--cacert",
                                   certificates().folder.caFile(), "--resolve",
                                   fmt::format("a.example.com:{}:127.0.0.1", server.port()), url},
                                  {.timeout = 10s, .merge_output = true});
  EXPECT_EQ(fetched.exit_code, 0) << fetched.out;
  EXPECT_THAT(fetched.out, HasSubstr("sni=a.example.com alpn=http/1.1 version=TLSv1.3"));
}

// Plain HTTP sent to a TLS port is a common mistake; it is told apart from other garbage.
TEST_F(TlsHandshakeTest, PlainHttpToTheTlsPortFailsAsAnHttpRequest) {
  TlsTestServer server(makeContext());
  runCommand(
      {"curl", "--silent", "--max-time", "5", fmt::format("http://127.0.0.1:{}/", server.port())},
      {.timeout = 10s, .merge_output = true});
  const auto outcome = server.outcome(0);
  EXPECT_FALSE(outcome.info);
  EXPECT_EQ(outcome.failure, tls::HandshakeFailure::HttpRequest);
}

} // namespace
} // namespace corral::test

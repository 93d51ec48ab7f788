// TLS termination on a frontend with `tls`: real clients (openssl s_client, curl, an OpenSSL
// client of our own) against the corral binary, plaintext fake servers behind it.
#include <csignal>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/edge/edge_support.h"
#include "tests/integration/sticky/demo_backend.h"
#include "tests/support/child_process.h"
#include "tests/support/fake_backend.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint64_t kMiB = 1024 * 1024;

// One TLS frontend with a certificate for a.example.com (the default) and one for b.example.com.
constexpr const char* kTlsFrontend = R"(
workers: 1
metrics: {listen: "127.0.0.1:0"}
frontends:
  - name: web
    listen: "127.0.0.1:0"
    backend: app
    client_timeout: 3s
    tls:
      certificates: [{cert: "${a_cert}", key: "${a_key}"}, {cert: "${b_cert}", key: "${b_key}"}]
      alpn: [http/1.1]
backends: [{name: app, servers: [{address: "${s1}", name: s1}]}]
)";

Substitutions tlsFrontend(const std::string& server) {
  Substitutions substitutions = certificateSubstitutions();
  substitutions["s1"] = server;
  return substitutions;
}

TEST(TlsFrontendTest, PresentsTheCertificateOfEachServerNameAndRelaysPlaintext) {
  FakeBackend s1("s1");
  CorralProcess corral(kTlsFrontend, tlsFrontend(s1.address()));
  ASSERT_TRUE(corral.ready());
  const auto a = sClient(corral.listenAddress("web"), "a.example.com", {"-alpn", "h2,http/1.1"});
  EXPECT_EQ(a.exit_code, 0) << a.out;
  EXPECT_THAT(a.out, HasSubstr("subject=CN = edge-a"));
  EXPECT_THAT(a.out, HasSubstr("Verify return code: 0 (ok)"));
  EXPECT_THAT(a.out, HasSubstr("ALPN protocol: http/1.1"));
  EXPECT_THAT(a.out, HasSubstr("\ns1")); // the backend's reply, decrypted by s_client
  const auto b = sClient(corral.listenAddress("web"), "b.example.com", {});
  EXPECT_EQ(b.exit_code, 0) << b.out;
  EXPECT_THAT(b.out, HasSubstr("subject=CN = edge-b"));
  const auto log = corral.waitForAccessLog(2, 5s);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].value("sni", ""), "a.example.com") << log[0];
  EXPECT_EQ(log[0].value("tls_version", ""), "TLSv1.3") << log[0];
  EXPECT_EQ(log[1].value("sni", ""), "b.example.com") << log[1];
  EXPECT_EQ(log[1].value("server", ""), "s1") << log[1];
}

TEST(TlsFrontendTest, ASavedSessionIsResumedAndCountedAsResumed) {
  FakeBackend s1("s1");
  CorralProcess corral(kTlsFrontend, tlsFrontend(s1.address()));
  ASSERT_TRUE(corral.ready());
  const std::string session = (corral.configPath().parent_path() / "session.pem").string();
  const auto full = sClient(corral.listenAddress("web"), "a.example.com", {"-sess_out", session});
  EXPECT_THAT(full.out, HasSubstr("New, TLSv1.3"));
  const auto again = sClient(corral.listenAddress("web"), "a.example.com", {"-sess_in", session});
  EXPECT_THAT(again.out, HasSubstr("Reused, TLSv1.3"));
  EXPECT_THAT(again.out, HasSubstr("\ns1"));
  const std::map<std::string, std::string> success = {{"frontend", "web"}, {"result", "success"}};
  auto with = [](auto labels, const char* resumed) {
    labels["resumed"] = resumed;
    return labels;
  };
  EXPECT_EQ(scrape(corral, "corral_tls_handshakes_total", with(success, "false")), 1);
  EXPECT_EQ(scrape(corral, "corral_tls_handshakes_total", with(success, "true")), 1);
}

// A reload that leaves the certificate files alone keeps the frontend's TLS context, and with it
// the session ticket keys: a session saved before SIGHUP still resumes after it.
TEST(TlsFrontendTest, ASessionSavedBeforeAReloadResumesAfterIt) {
  FakeBackend s1("s1");
  CorralProcess corral(kTlsFrontend, tlsFrontend(s1.address()));
  ASSERT_TRUE(corral.ready());
  const std::string session = (corral.configPath().parent_path() / "session.pem").string();
  const auto full = sClient(corral.listenAddress("web"), "a.example.com", {"-sess_out", session});
  EXPECT_THAT(full.out, HasSubstr("New, TLSv1.3"));
  corral.sendSignal(SIGHUP);
  ASSERT_TRUE(pollUntil([&] { return corral.stderrText().find("reloaded") != std::string::npos; },
                        10s))
      << corral.stderrText();
  const auto again = sClient(corral.listenAddress("web"), "a.example.com", {"-sess_in", session});
  EXPECT_THAT(again.out, HasSubstr("Reused, TLSv1.3"));
}

// A TLS 1.1 client (SECLEVEL=0 lets this OpenSSL offer it at all) and a plain-HTTP client are
// refused before any server is contacted, each counted as a failed handshake and a tls rejection.
TEST(TlsFrontendTest, RefusesTlsOneOneAndPlainHttpWithoutReachingAServer) {
  FakeBackend s1("s1");
  CorralProcess corral(kTlsFrontend, tlsFrontend(s1.address()));
  ASSERT_TRUE(corral.ready());
  const auto old = sClient(corral.listenAddress("web"), "a.example.com",
                           {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"});
  EXPECT_NE(old.exit_code, 0);
  EXPECT_THAT(old.out, Not(HasSubstr("subject=CN")));
  EXPECT_EQ(httpGet(corral.listenAddress("web"), "/").raw, "") << "plain HTTP got a reply";
  const auto log = corral.waitForAccessLog(2, 5s);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].value("termination", ""), "tls_handshake_failed") << log[0];
  EXPECT_EQ(log[1].value("termination", ""), "tls_handshake_failed") << log[1];
  EXPECT_EQ(scrape(corral, "corral_frontend_rejected_connections_total",
                   {{"frontend", "web"}, {"reason", "tls"}}),
            2);
  EXPECT_EQ(scrape(corral, "corral_tls_handshakes_total", {{"frontend", "web"}, {"result", "failure"}}),
            2);
  EXPECT_EQ(s1.acceptedConnections(), 0);
  // The frontend still serves good clients.
  EXPECT_EQ(sClient(corral.listenAddress("web"), "a.example.com", {}).exit_code, 0);
}

TEST(TlsFrontendTest, AClientThatNeverHandshakesIsClosedAtTheHandshakeTimeout) {
  FakeBackend s1("s1");
  CorralProcess corral(kTlsFrontend, tlsFrontend(s1.address())); // client_timeout: 3s
  ASSERT_TRUE(corral.ready());
  TcpClient silent(corral.listenAddress("web"));
  ASSERT_TRUE(silent.connected());
  const auto started = Clock::now();
  EXPECT_EQ(silent.readAll(15s), "");
  EXPECT_EQ(silent.closure(), Closure::Eof);
  EXPECT_GE(Clock::now() - started, 2500ms);
  EXPECT_EQ(scrape(corral, "corral_tls_handshakes_total", {{"frontend", "web"}, {"result", "failure"}}),
            1);
}

// Two frontends: `up` in front of a server that checksums what it receives, `down` in front of a
// server that sends a pattern. 50 MiB cross corral's TLS each way intact, and the client's
// half-close (close_notify + FIN) reaches the server through the relay.
TEST(TlsFrontendTest, FiftyMebibytesCrossTlsIntactBothWays) {
  FakeBackend sink("sink", {.mode = BackendMode::Sink});
  FakeBackend source("source", {.mode = BackendMode::Source, .source_bytes = 50 * kMiB, .seed = 5});
  Substitutions substitutions = certificateSubstitutions();
  substitutions["sink"] = sink.address();
  substitutions["source"] = source.address();
  CorralProcess corral(R"(
workers: 1
frontends:
  - {name: up, listen: "127.0.0.1:0", backend: sink,
     tls: {certificates: [{cert: "${a_cert}", key: "${a_key}"}]}}
  - {name: down, listen: "127.0.0.1:0", backend: source,
     tls: {certificates: [{cert: "${a_cert}", key: "${a_key}"}]}}
backends:
  - {name: sink, servers: [{address: "${sink}"}]}
  - {name: source, servers: [{address: "${source}"}]}
)", substitutions);
  ASSERT_TRUE(corral.ready());
  TlsClient up(corral.listenAddress("up"), "a.example.com", caFile());
  ASSERT_TRUE(up.ok()) << up.error();
  ASSERT_TRUE(up.writePattern(3, 50 * kMiB)) << up.error();
  up.shutdownWrite();
  const Digest sent = patternDigest(3, 50 * kMiB);
  EXPECT_EQ(up.readAll(), fmt::format("{} {:x}\n", sent.count, sent.fnv));

  TlsClient down(corral.listenAddress("down"), "a.example.com", caFile());
  ASSERT_TRUE(down.ok()) << down.error();
  EXPECT_EQ(down.readDigest(), patternDigest(5, 50 * kMiB));
  down.shutdownWrite(); // Source reads until our FIN
  const auto log = corral.waitForAccessLog(2, 10s);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].value("bytes_in", uint64_t{0}), 50 * kMiB) << log[0];
  EXPECT_EQ(log[1].value("bytes_out", uint64_t{0}), 50 * kMiB) << log[1];
}

// curl verifies the chain and the name for each of the two names, over HTTP/1.1 (the only ALPN
// protocol offered); the sticky cookie set over TLS carries Secure and routes the next request.
TEST(TlsFrontendTest, CurlGetsSecureStickyCookiesForBothNames) {
  DemoBackend d1("d1"), d2("d2");
  ASSERT_TRUE(d1.ready() && d2.ready());
  Substitutions substitutions = certificateSubstitutions();
  substitutions["d1"] = d1.address();
  substitutions["d2"] = d2.address();
  CorralProcess corral(R"(
workers: 1
frontends:
  - name: web
    listen: "127.0.0.1:0"
    backend: app
    tls:
      certificates: [{cert: "${a_cert}", key: "${a_key}"}, {cert: "${b_cert}", key: "${b_key}"}]
      alpn: [http/1.1]
backends:
  - {name: app, balance: sticky_cookie,
     servers: [{address: "${d1}", name: d1}, {address: "${d2}", name: d2}]}
)", substitutions);
  ASSERT_TRUE(corral.ready());
  const std::string port = corral.listenAddress("web").substr(10); // after "127.0.0.1:"
  const std::string jar = (corral.configPath().parent_path() / "jar.txt").string();
  for (const std::string name : {"a.example.com", "b.example.com"}) {
    const auto first = curl(name, port, {"-i", "-c", jar});
    EXPECT_EQ(first.exit_code, 0) << first.out;
    EXPECT_THAT(first.out, HasSubstr("HTTP/1.1 200"));
    EXPECT_THAT(first.out, ::testing::ContainsRegex("Set-Cookie: CORRAL=[^\r\n]*; Secure"));
    const std::string server = first.out.substr(first.out.rfind("\r\n\r\n") + 4, 2);
    for (int i = 0; i < 3; ++i) {
      const auto next = curl(name, port, {"-b", jar});
      EXPECT_EQ(next.out.substr(0, 2), server) << next.out;
    }
  }
}

} // namespace
} // namespace corral::test

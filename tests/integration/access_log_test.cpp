// The access log end to end: one session per termination cause of issue 8, each line checked
// field by field (time, frontend, client address and port, backend, server, chosen_by, bytes each
// way, connect time, duration, termination, and the TLS fields on a TLS frontend), and a log
// file that logrotate moves away and SIGUSR1 reopens.
#include <cmath>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/edge/edge_support.h"
#include "tests/support/corral_process.h"
#include "tests/support/dead_address.h"
#include "tests/support/fake_backend.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

using ::testing::MatchesRegex;
using json = nlohmann::json;

// Seconds between a logged "2024-05-01T12:34:56.789Z" and now; a huge value if it does not parse.
double secondsAgo(const std::string& time) {
  std::tm calendar{};
  const char* rest = strptime(time.c_str(), "%Y-%m-%dT%H:%M:%S", &calendar);
  if (rest == nullptr || std::string_view(rest).size() != 5 || rest[4] != 'Z') {
    return 1e9;
  }
  return std::difftime(std::time(nullptr), timegm(&calendar));
}

// What every line has, whatever ended the session: a UTC time of just now (the line is written
// at close), a session id, the frontend, the client's address and port, and timings that add up.
void expectCommonFields(const json& line, const std::string& termination) {
  EXPECT_EQ(line.value("termination", ""), termination) << line;
  EXPECT_LT(std::abs(secondsAgo(line.value("time", ""))), 60) << line;
  EXPECT_THAT(line.value("id", ""), MatchesRegex("[0-9a-f]+")) << line;
  EXPECT_EQ(line.value("frontend", ""), "web") << line;
  EXPECT_THAT(line.value("client", ""), MatchesRegex(R"(127\.0\.0\.1:[1-9][0-9]*)")) << line;
  const double connect_ms = line.value("connect_ms", -1.0);
  EXPECT_GE(connect_ms, 0) << line;
  EXPECT_GE(line.value("duration_ms", -1.0), connect_ms) << line;
}

// Fields of a session that reached server s1 of backend app by round robin.
void expectRelayedTo(const json& line, const std::string& server, uint64_t in, uint64_t out) {
  EXPECT_EQ(line.value("backend", ""), "app") << line;
  EXPECT_EQ(line.value("server", ""), server) << line;
  EXPECT_EQ(line.value("chosen_by", ""), "round_robin") << line;
  EXPECT_EQ(line.value("bytes_in", uint64_t{99}), in) << line;
  EXPECT_EQ(line.value("bytes_out", uint64_t{99}), out) << line;
  EXPECT_GT(line.value("connect_ms", 0.0), 0) << line;
  for (const char* tls_key : {"tls_version", "sni", "tls_error"}) {
    EXPECT_FALSE(line.contains(tls_key)) << tls_key << " on a plain TCP frontend: " << line;
  }
}

// The one line of a test that ran one session.
json onlyLine(const CorralProcess& corral) {
  const auto log = corral.waitForAccessLog(1, 5s);
  EXPECT_EQ(log.size(), 1u);
  return log.empty() ? json::object() : log[0];
}

constexpr const char* kEchoConfig = R"(
workers: 1
frontends: [{name: web, listen: "127.0.0.1:0", backend: app, client_timeout: ${client_timeout}}]
backends: [{name: app, server_timeout: ${server_timeout}, servers: [{address: "${s1}", name: s1}]}]
)";

Substitutions echoConfig(const FakeBackend& s1, const std::string& client_timeout = "1m",
                         const std::string& server_timeout = "1m") {
  return {
      {"s1", s1.address()}, {"client_timeout", client_timeout}, {"server_timeout", server_timeout}};
}

// The client half-closes first; the echo server answers with its own FIN after the echo.
TEST(AccessLogTest, ClientClosed) {
  FakeBackend s1("s1", {.mode = BackendMode::Echo});
  CorralProcess corral(kEchoConfig, echoConfig(s1));
  ASSERT_TRUE(corral.ready());
  TcpClient client(corral.listenAddress("web"));
  ASSERT_TRUE(echoes(client, "hello"));
  client.shutdownWrite();
  EXPECT_EQ(client.readAll(5s), "");
  const json line = onlyLine(corral);
  expectCommonFields(line, "client_closed");
  expectRelayedTo(line, "s1", 5, 5);
}

// The server sends its name and closes before the client has said anything.
TEST(AccessLogTest, ServerClosed) {
  FakeBackend s1("s1");
  CorralProcess corral(kEchoConfig, echoConfig(s1));
  ASSERT_TRUE(corral.ready());
  // The server's FIN only half-closes the session; it ends when the client closes too.
  EXPECT_EQ(TcpClient(corral.listenAddress("web")).readAll(5s), "s1");
  const json line = onlyLine(corral);
  expectCommonFields(line, "server_closed");
  expectRelayedTo(line, "s1", 0, 2);
}

TEST(AccessLogTest, ClientTimeout) {
  FakeBackend s1("s1", {.mode = BackendMode::Echo});
  CorralProcess corral(kEchoConfig, echoConfig(s1, "300ms"));
  ASSERT_TRUE(corral.ready());
  TcpClient client(corral.listenAddress("web"));
  // An HTTP exchange: a non-HTTP one would make the session a tunnel (tunnel_timeout, 1h).
  ASSERT_TRUE(echoes(client, "GET / HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(client.readAll(5s), ""); // idle from here until corral closes
  const json line = onlyLine(corral);
  expectCommonFields(line, "client_timeout");
  expectRelayedTo(line, "s1", 18, 18);
  EXPECT_GE(line.value("duration_ms", 0.0), 250) << line;
}

// The server reads and never answers: server_timeout (shorter than client_timeout) ends it.
TEST(AccessLogTest, ServerTimeout) {
  FakeBackend s1("s1", {.mode = BackendMode::Silent});
  CorralProcess corral(kEchoConfig, echoConfig(s1, "1m", "300ms"));
  ASSERT_TRUE(corral.ready());
  TcpClient client(corral.listenAddress("web"));
  ASSERT_TRUE(client.writeAll("anyone?"));
  EXPECT_EQ(client.readAll(5s), "");
  EXPECT_NE(client.closure(), Closure::Open);
  const json line = onlyLine(corral);
  expectCommonFields(line, "server_timeout");
  expectRelayedTo(line, "s1", 7, 0);
  EXPECT_GE(line.value("duration_ms", 0.0), 250) << line;
}

// No retry: the one server refuses. The line names the server that was tried; nothing connected.
TEST(AccessLogTest, ConnectFailed) {
  RefusingAddress dead;
  CorralProcess corral(R"(
workers: 1
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends: [{name: app, retries: 0, servers: [{address: "${dead}", name: dead}]}]
)",
                       {{"dead", dead.address()}});
  ASSERT_TRUE(corral.ready());
  TcpClient client(corral.listenAddress("web"));
  EXPECT_EQ(client.readAll(5s), "");
  const json line = onlyLine(corral);
  expectCommonFields(line, "connect_failed");
  EXPECT_EQ(line.value("backend", ""), "app") << line;
  EXPECT_EQ(line.value("server", ""), "dead") << line;
  EXPECT_EQ(line.value("chosen_by", ""), "round_robin") << line;
  EXPECT_EQ(line.value("connect_ms", -1.0), 0) << line;
  EXPECT_EQ(line.value("bytes_in", uint64_t{99}), 0u) << line;
  EXPECT_EQ(line.value("bytes_out", uint64_t{99}), 0u) << line;
}

// The only server fails its health check: the client is routed to the backend, but no server
// takes it, so the line has a backend and no server.
TEST(AccessLogTest, NoServerUp) {
  RefusingAddress dead;
  CorralProcess corral(R"(
workers: 1
metrics: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    health_check: {type: tcp, interval: 100ms, timeout: 100ms, rise: 1, fall: 1}
    servers: [{address: "${dead}", name: dead}]
)",
                       {{"dead", dead.address()}});
  ASSERT_TRUE(corral.ready());
  ASSERT_TRUE(pollUntil(
      [&] {
        return scrape(corral, "corral_server_up", {{"server", "dead"}}) == 0;
      },
      5s, 50ms));
  TcpClient client(corral.listenAddress("web"));
  EXPECT_EQ(client.readAll(5s), "");
  const json line = onlyLine(corral);
  expectCommonFields(line, "no_server");
  EXPECT_EQ(line.value("backend", ""), "app") << line;
  EXPECT_EQ(line.value("server", "?"), "") << line;
  EXPECT_EQ(line.value("chosen_by", "?"), "") << line;
  EXPECT_EQ(line.value("connect_ms", -1.0), 0) << line;
}

// One connection fills max_connections; the second is closed at accept, before any routing.
TEST(AccessLogTest, LimitReached) {
  FakeBackend s1("s1", {.mode = BackendMode::Echo});
  CorralProcess corral(R"(
workers: 1
frontends: [{name: web, listen: "127.0.0.1:0", backend: app, max_connections: 1}]
backends: [{name: app, servers: [{address: "${s1}", name: s1}]}]
)",
                       {{"s1", s1.address()}});
  ASSERT_TRUE(corral.ready());
  TcpClient first(corral.listenAddress("web"));
  ASSERT_TRUE(echoes(first, "one"));
  TcpClient second(corral.listenAddress("web"));
  EXPECT_EQ(second.readAll(5s), "");
  const json line = onlyLine(corral); // the first session is still open
  expectCommonFields(line, "limit_reached");
  EXPECT_EQ(line.value("backend", "?"), "") << line;
  EXPECT_EQ(line.value("server", "?"), "") << line;
  EXPECT_EQ(line.value("bytes_in", uint64_t{99}), 0u) << line;
}

constexpr const char* kTlsConfig = R"(
workers: 1
metrics: {listen: "127.0.0.1:0"}
frontends:
  - name: web
    listen: "127.0.0.1:0"
    backend: app
    tls: {certificates: [{cert: "${a_cert}", key: "${a_key}"}]}
backends: [{name: app, servers: [{address: "${s1}", name: s1}]}]
)";

// Plain HTTP to a TLS port: the handshake fails, the line says why, and so does the metric.
TEST(AccessLogTest, TlsError) {
  FakeBackend s1("s1");
  Substitutions substitutions = certificateSubstitutions();
  substitutions["s1"] = s1.address();
  CorralProcess corral(kTlsConfig, substitutions);
  ASSERT_TRUE(corral.ready());
  TcpClient client(corral.listenAddress("web"));
  ASSERT_TRUE(client.writeAll("GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n"));
  client.readAll(5s); // whatever alert OpenSSL sends, then the close
  EXPECT_NE(client.closure(), Closure::Open);
  const json line = onlyLine(corral);
  expectCommonFields(line, "tls_handshake_failed");
  EXPECT_EQ(line.value("tls_error", ""), "http_request") << line;
  EXPECT_FALSE(line.contains("tls_version")) << line;
  EXPECT_EQ(line.value("server", "?"), "") << line;
  EXPECT_EQ(scrape(corral, "corral_tls_handshake_failures_total",
                   {{"frontend", "web"}, {"reason", "http_request"}}),
            1);
  EXPECT_EQ(s1.acceptedConnections(), 0);
}

// A terminated TLS session logs the protocol version and the name the client asked for.
TEST(AccessLogTest, TlsTerminatedSessionHasVersionAndSni) {
  FakeBackend s1("s1");
  Substitutions substitutions = certificateSubstitutions();
  substitutions["s1"] = s1.address();
  CorralProcess corral(kTlsConfig, substitutions);
  ASSERT_TRUE(corral.ready());
  {
    TlsClient client(corral.listenAddress("web"), "a.example.com", caFile());
    ASSERT_TRUE(client.ok()) << client.error();
    EXPECT_EQ(client.readAll(), "s1");
  } // closed: the session ends once both sides have
  const json line = onlyLine(corral);
  expectCommonFields(line, "server_closed");
  EXPECT_EQ(line.value("tls_version", ""), "TLSv1.3") << line;
  EXPECT_EQ(line.value("sni", ""), "a.example.com") << line;
  EXPECT_FALSE(line.contains("tls_error")) << line;
  EXPECT_EQ(line.value("server", ""), "s1") << line;
  EXPECT_EQ(line.value("bytes_out", uint64_t{0}), 2u) << line; // plaintext bytes, not records
}

std::vector<json> linesOf(const std::filesystem::path& path) {
  std::vector<json> lines;
  std::ifstream in(path);
  std::string text;
  while (std::getline(in, text)) {
    lines.push_back(json::parse(text, nullptr, /*allow_exceptions=*/false));
  }
  return lines;
}

// What logrotate does: move the file away, then SIGUSR1. Lines before the signal stay in the
// moved file; corral creates the file again (the sign that it reopened) and logs there.
TEST(AccessLogFileTest, SigusrOneReopensTheFileThatLogrotateMovedAway) {
  FakeBackend s1("s1");
  CorralProcess corral(R"(
workers: 2
access_log: "${dir}/access.log"
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends: [{name: app, servers: [{address: "${s1}", name: s1}]}]
)",
                       {{"s1", s1.address()}});
  ASSERT_TRUE(corral.ready());
  const auto log = corral.configPath().parent_path() / "access.log";
  const auto rotated = corral.configPath().parent_path() / "access.log.1";
  EXPECT_EQ(TcpClient(corral.listenAddress("web")).readAll(5s), "s1");
  ASSERT_TRUE(pollUntil([&] { return linesOf(log).size() == 1; }, 5s));
  std::filesystem::rename(log, rotated);
  corral.sendSignal(SIGUSR1);
  ASSERT_TRUE(pollUntil([&] { return std::filesystem::exists(log); }, 5s))
      << "no new file after SIGUSR1\n"
      << corral.stderrText();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(TcpClient(corral.listenAddress("web")).readAll(5s), "s1");
  }
  ASSERT_TRUE(pollUntil([&] { return linesOf(log).size() == 3; }, 5s)) << linesOf(log).size();
  for (const json& line : linesOf(log)) {
    EXPECT_EQ(line.value("termination", ""), "server_closed") << line;
  }
  EXPECT_EQ(linesOf(rotated).size(), 1u);
  EXPECT_TRUE(corral.accessLog().empty()) << "a file target writes nothing to stdout";
}

} // namespace
} // namespace corral::test

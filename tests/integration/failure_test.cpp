// Servers that are down, clients that go idle, and a frontend at its connection limit: each is
// handled for the connection concerned, promptly, and logged with the reason.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/corral_process.h"
#include "tests/support/dead_address.h"
#include "tests/support/fake_backend.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

std::string terminationOf(const nlohmann::json& line) { return line.value("termination", ""); }

// Echoes `text` through the client; true when it comes back.
bool echoes(TcpClient& client, const std::string& text) {
  return client.writeAll(text) && client.readExactly(text.size(), 5s) == text;
}

// Round robin would send every other connection to the refusing server; the retry moves each of
// those to the live one.
TEST(RetryTest, ConnectionsSkipARefusingServer) {
  RefusingAddress dead;
  FakeBackend live("live");
  CorralProcess corral(R"(
workers: 1
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends: [{name: app, balance: round_robin, retries: 2, connect_timeout: 1s,
            servers: [{address: "${dead}", name: dead}, {address: "${live}", name: live}]}]
)",
                       {{"dead", dead.address()}, {"live", live.address()}});
  ASSERT_TRUE(corral.ready());
  for (int i = 0; i < 6; ++i) {
    TcpClient client(corral.listenAddress("web"));
    EXPECT_EQ(client.readAll(3s), "live") << "connection " << i;
  }
  EXPECT_EQ(live.acceptedConnections(), 6);
  for (const auto& line : corral.waitForAccessLog(6, 5s)) {
    EXPECT_EQ(line.value("server", ""), "live") << line;
  }
}

// Every server refuses: after its retries corral closes the client at once, and says why.
TEST(RetryTest, ClientIsClosedPromptlyWhenEveryServerRefuses) {
  RefusingAddress dead1, dead2;
  CorralProcess corral(R"(
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends: [{name: app, retries: 2, connect_timeout: 500ms,
            servers: [{address: "${dead1}"}, {address: "${dead2}"}]}]
)",
                       {{"dead1", dead1.address()}, {"dead2", dead2.address()}});
  ASSERT_TRUE(corral.ready());
  const auto start = Clock::now();
  TcpClient client(corral.listenAddress("web"));
  EXPECT_EQ(client.readAll(5s), "");
  EXPECT_NE(client.closure(), Closure::Open);
  EXPECT_LT(Clock::now() - start, 1500ms + 1s); // three refused tries take no connect_timeout
  const auto log = corral.waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(terminationOf(log[0]), "connect_failed") << log[0];
}

// Every server drops the SYN: each try waits connect_timeout, then corral closes the client.
TEST(RetryTest, ClientIsClosedAfterTheConnectTimeoutsWhenNoServerAnswers) {
  UnresponsiveAddress dead1, dead2;
  CorralProcess corral(R"(
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends: [{name: app, retries: 1, connect_timeout: 300ms,
            servers: [{address: "${dead1}"}, {address: "${dead2}"}]}]
)",
                       {{"dead1", dead1.address()}, {"dead2", dead2.address()}});
  ASSERT_TRUE(corral.ready());
  const auto start = Clock::now();
  TcpClient client(corral.listenAddress("web"));
  EXPECT_EQ(client.readAll(5s), "");
  EXPECT_NE(client.closure(), Closure::Open);
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 550ms); // two tries of 300 ms, less timer slack
  EXPECT_LT(elapsed, 600ms + 1500ms);
  const auto log = corral.waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(terminationOf(log[0]), "connect_failed") << log[0];
}

TEST(TimeoutTest, IdleClientIsClosedAfterClientTimeout) {
  FakeBackend echo("echo", {.mode = BackendMode::Echo});
  CorralProcess corral(R"(
frontends: [{name: web, listen: "127.0.0.1:0", backend: app, client_timeout: 300ms}]
backends: [{name: app, server_timeout: 1m, servers: [{address: "${echo}"}]}]
)",
                       addressesOf({echo}));
  ASSERT_TRUE(corral.ready());
  TcpClient client(corral.listenAddress("web"));
  ASSERT_TRUE(echoes(client, "ping")); // the session is up; from now on the client is idle
  const auto idle_since = Clock::now();
  EXPECT_EQ(client.readAll(5s), "");
  EXPECT_NE(client.closure(), Closure::Open);
  const auto idle = Clock::now() - idle_since;
  EXPECT_GE(idle, 250ms);
  EXPECT_LT(idle, 2s);
  const auto log = corral.waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(terminationOf(log[0]), "client_timeout") << log[0];
}

// max_connections counts the whole frontend, whichever worker accepted: two workers here.
TEST(LimitTest, ThirdConnectionOverMaxConnectionsIsClosedAndTheOthersGoOn) {
  FakeBackend echo("echo", {.mode = BackendMode::Echo});
  CorralProcess corral(R"(
workers: 2
frontends: [{name: web, listen: "127.0.0.1:0", backend: app, max_connections: 2}]
backends: [{name: app, servers: [{address: "${echo}"}]}]
)",
                       addressesOf({echo}));
  ASSERT_TRUE(corral.ready());
  TcpClient first(corral.listenAddress("web")), second(corral.listenAddress("web"));
  ASSERT_TRUE(echoes(first, "one"));
  ASSERT_TRUE(echoes(second, "two"));
  TcpClient third(corral.listenAddress("web"));
  EXPECT_EQ(third.readAll(2s), "");
  EXPECT_NE(third.closure(), Closure::Open);
  EXPECT_TRUE(echoes(first, "one again"));
  EXPECT_TRUE(echoes(second, "two again"));
  auto log = corral.waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(terminationOf(log[0]), "limit_reached") << log[0];
  // A slot frees once a session ends (its log line is the sign): a new client gets it.
  first.shutdownWrite();
  EXPECT_EQ(first.readAll(5s), "");
  ASSERT_EQ(corral.waitForAccessLog(2, 5s).size(), 2u);
  TcpClient fourth(corral.listenAddress("web"));
  EXPECT_TRUE(echoes(fourth, "four"));
  EXPECT_EQ(echo.acceptedConnections(), 3); // the refused one never reached the server
}

} // namespace
} // namespace corral::test

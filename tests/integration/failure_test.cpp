// Servers that are down, clients that go idle, and a frontend at its connection limit: each is
// handled for the connection concerned, promptly, and logged with the reason.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/support/corral_process.h"
#include "tests/support/dead_address.h"
#include "tests/support/fake_backend.h"
#include "tests/support/reset_server.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

std::string terminationOf(const nlohmann::json& line) { return line.value("termination", ""); }

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

// Every server refuses: after its retries corral closes the client at once, and says why. With a
// 20 s connect_timeout, a close well before it shows that no try waited for the timeout.
TEST(RetryTest, ClientIsClosedPromptlyWhenEveryServerRefuses) {
  RefusingAddress dead1, dead2;
  CorralProcess corral(R"(
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends: [{name: app, retries: 2, connect_timeout: 20s,
            servers: [{address: "${dead1}"}, {address: "${dead2}"}]}]
)",
                       {{"dead1", dead1.address()}, {"dead2", dead2.address()}});
  ASSERT_TRUE(corral.ready());
  const auto start = Clock::now();
  TcpClient client(corral.listenAddress("web"));
  EXPECT_EQ(client.readAll(15s), "");
  EXPECT_NE(client.closure(), Closure::Open);
  EXPECT_LT(Clock::now() - start, 15s); // three refused tries take no connect_timeout
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
  EXPECT_GE(elapsed, 550ms); // two tries of 300 ms, less timer slack; corral closed it (not our
                             // 5 s read deadline): closure() above
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
  // The session is up (an HTTP exchange: a non-HTTP one would make it a tunnel, tunnel_timeout);
  // from now on the client is idle.
  ASSERT_TRUE(echoes(client, "GET / HTTP/1.0\r\n\r\n"));
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

// The server resets while corral holds a full queue for a client that has not read yet: corral
// still owes the client every byte it took from the server, and closes only after them (HAProxy
// forwards them too). Before the fix corral dropped its queue when it read the reset.
TEST(ServerResetTest, BytesReadFromTheServerBeforeItsResetStillReachTheClient) {
  FloodThenResetServer server(7);
  CorralProcess corral(R"(
workers: 1
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends: [{name: app, servers: [{address: "${server}", name: resetter}]}]
)",
                       {{"server", server.address()}});
  ASSERT_TRUE(corral.ready());
  TcpClient client(corral.listenAddress("web"));
  ASSERT_TRUE(pollUntil([&] { return server.resetSent(); }, 20s, 10ms));
  const Digest received = client.readDigest(15s);
  EXPECT_NE(client.closure(), Closure::Open);
  const auto log = corral.waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  const uint64_t from_server = log[0].value("bytes_out", uint64_t{0});
  EXPECT_GT(from_server, 256u * 1024) << "corral's queue was not full: the test proves nothing";
  EXPECT_EQ(received, patternDigest(7, from_server)) << log[0];
  EXPECT_EQ(terminationOf(log[0]), "server_error") << log[0];
}

} // namespace
} // namespace corral::test

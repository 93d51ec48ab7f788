// SIGTERM: stop accepting, let open sessions finish within drain_timeout, exit 0.
#include <signal.h>

#include <gtest/gtest.h>

#include <string>

#include "tests/support/corral_process.h"
#include "tests/support/fake_backend.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

constexpr const char* kEchoWithDrain = R"(
workers: 2
frontends: [{name: web, listen: "127.0.0.1:0", backend: app, drain_timeout: ${drain}}]
backends: [{name: app, servers: [{address: "${echo}"}]}]
)";

// New connections are refused once corral has closed its listeners: one per worker with
// SO_REUSEPORT, each probe hashed to one of them, hence several refusals in a row. A probe that
// still gets in is closed at once, which ends its session without holding up the drain.
bool newConnectionsAreRefused(const std::string& address) {
  int refused_in_a_row = 0;
  return pollUntil(
      [&] {
        refused_in_a_row = TcpClient(address, 1s).refused() ? refused_in_a_row + 1 : 0;
        return refused_in_a_row >= 8;
      },
      5s, 1ms);
}

TEST(DrainTest, SigtermLetsAnOpenSessionFinishThenExitsZero) {
  FakeBackend echo("echo", {.mode = BackendMode::Echo});
  CorralProcess corral(kEchoWithDrain, {{"echo", echo.address()}, {"drain", "10s"}});
  ASSERT_TRUE(corral.ready());
  TcpClient session(corral.listenAddress("web"));
  ASSERT_TRUE(echoes(session, "before"));
  corral.sendSignal(SIGTERM);
  EXPECT_TRUE(newConnectionsAreRefused(corral.listenAddress("web")));
  EXPECT_TRUE(echoes(session, "after SIGTERM"));
  session.shutdownWrite();
  EXPECT_EQ(session.readAll(5s), "");
  EXPECT_EQ(session.closure(), Closure::Eof);
  // Finishing the last session ends the drain: well before the 10 s drain_timeout.
  EXPECT_EQ(corral.waitExit(5s), ExitStatus::exited(0)) << corral.stderrText();
}

TEST(DrainTest, SessionStillOpenAtDrainTimeoutIsCutAndCorralExitsZero) {
  FakeBackend echo("echo", {.mode = BackendMode::Echo});
  CorralProcess corral(kEchoWithDrain, {{"echo", echo.address()}, {"drain", "500ms"}});
  ASSERT_TRUE(corral.ready());
  TcpClient session(corral.listenAddress("web"));
  ASSERT_TRUE(echoes(session, "before"));
  const auto signalled = Clock::now();
  corral.sendSignal(SIGTERM);
  EXPECT_EQ(session.readAll(5s), "");
  EXPECT_NE(session.closure(), Closure::Open);
  const auto cut_after = Clock::now() - signalled;
  EXPECT_GE(cut_after, 450ms); // not before drain_timeout
  EXPECT_LT(cut_after, 2500ms);
  EXPECT_EQ(corral.waitExit(5s), ExitStatus::exited(0)) << corral.stderrText();
}

} // namespace
} // namespace corral::test

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/support/corral_process.h"
#include "tests/support/fake_backend.h"
#include "tests/support/tcp_client.h"

namespace corral::test {
namespace {

// Six connections through a round-robin backend of three servers: each server gets two, and the
// access log names the server that served each one.
TEST(RoundRobinTest, SpreadsSixConnectionsTwoPerServer) {
  FakeBackend s1("s1"), s2("s2"), s3("s3"); // each replies with its name and closes
  CorralProcess corral(R"(
workers: 1    # one worker, one round-robin counter
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends: [{name: app, balance: round_robin,
            servers: [{address: "${s1}", name: s1}, {address: "${s2}", name: s2},
                      {address: "${s3}", name: s3}]}]
)",
                       addressesOf({s1, s2, s3}));
  ASSERT_TRUE(corral.ready());
  std::map<std::string, int> seen;
  for (int i = 0; i < 6; ++i) {
    TcpClient client(corral.listenAddress("web"));
    ASSERT_TRUE(client.connected()) << client.error();
    ++seen[client.readAll(2s)];
  }
  const std::map<std::string, int> two_each{{"s1", 2}, {"s2", 2}, {"s3", 2}};
  EXPECT_EQ(seen, two_each);
  std::map<std::string, int> logged;
  for (const auto& line : corral.waitForAccessLog(6, 5s)) {
    EXPECT_EQ(line.value("frontend", ""), "web") << line;
    EXPECT_EQ(line.value("backend", ""), "app") << line;
    EXPECT_EQ(line.value("termination", ""), "server_closed") << line;
    EXPECT_EQ(line.value("bytes_out", -1), 2) << line;
    ++logged[line.value("server", "")];
  }
  EXPECT_EQ(logged, two_each);
}

} // namespace
} // namespace corral::test

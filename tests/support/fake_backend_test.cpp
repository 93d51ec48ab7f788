// The harness tested on its own, without corral: if these fail, an integration test failure says
// nothing about corral.
#include <gtest/gtest.h>

#include <string>

#include <fmt/format.h>

#include "tests/support/dead_address.h"
#include "tests/support/fake_backend.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

TEST(FakeBackendTest, NameThenCloseSaysWhoItIs) {
  FakeBackend backend("s1");
  TcpClient client(backend.address());
  ASSERT_TRUE(client.connected()) << client.error();
  EXPECT_EQ(client.readAll(2s), "s1");
  EXPECT_EQ(client.closure(), Closure::Eof);
  EXPECT_EQ(backend.acceptedConnections(), 1);
}

// Writing 4 MiB without reading would block both sides if the client did not read while writing.
TEST(FakeBackendTest, EchoReturnsEverythingThenPassesTheHalfClose) {
  FakeBackend backend("echo", {.mode = BackendMode::Echo});
  TcpClient client(backend.address());
  ASSERT_TRUE(client.writeAll("hi")) << client.error();
  EXPECT_EQ(client.readSome(2s), "hi");
  std::string data(4 << 20, '\0');
  PatternStream(9).fill(data);
  ASSERT_TRUE(client.writeAll(data, 10s)) << client.error();
  client.shutdownWrite();
  const std::string echoed = client.readAll(10s);
  EXPECT_EQ(echoed.size(), data.size());
  EXPECT_TRUE(echoed == data) << "the echo differs from what was sent"; // 4 MiB: do not print it
  EXPECT_EQ(client.closure(), Closure::Eof);
}

TEST(FakeBackendTest, SinkRepliesWithCountAndChecksum) {
  FakeBackend backend("sink", {.mode = BackendMode::Sink});
  TcpClient client(backend.address());
  ASSERT_TRUE(client.writePattern(3, 1 << 20, 10s)) << client.error();
  client.shutdownWrite();
  const Digest expected = patternDigest(3, 1 << 20);
  EXPECT_EQ(client.readAll(5s), fmt::format("{} {:x}\n", expected.count, expected.fnv));
  const auto finished = backend.waitFinished(1, 5s);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0].received, expected);
}

// Source sends its FIN and goes on reading: the server side of a half-closed connection.
TEST(FakeBackendTest, SourceSendsThePatternThenKeepsReading) {
  FakeBackend backend("source", {.mode = BackendMode::Source, .source_bytes = 3 << 20, .seed = 5});
  TcpClient client(backend.address());
  EXPECT_EQ(client.readDigest(10s), patternDigest(5, 3 << 20));
  EXPECT_EQ(client.closure(), Closure::Eof);
  ASSERT_TRUE(client.writeAll("late"));
  client.shutdownWrite();
  const auto finished = backend.waitFinished(1, 5s);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0].received.count, 4u);
  EXPECT_FALSE(finished[0].reset);
}

TEST(FakeBackendTest, SourceStallsAgainstAClientThatDoesNotRead) {
  FakeBackend backend("source",
                      {.mode = BackendMode::Source, .source_bytes = 256 << 20, .seed = 5});
  TcpClient client(backend.address());
  ASSERT_TRUE(backend.waitUntilSendingStalls(200ms, 10s));
  EXPECT_LT(backend.bytesSent(), 256u << 20);
  Digest first = client.readDigest(5s, 1 << 20);
  EXPECT_EQ(first, patternDigest(5, 1 << 20));
}

TEST(DeadAddressTest, RefusingAddressRefusesAtOnce) {
  RefusingAddress dead;
  TcpClient client(dead.address(), 2s);
  EXPECT_TRUE(client.refused()) << client.error();
}

TEST(DeadAddressTest, UnresponsiveAddressNeverAnswers) {
  UnresponsiveAddress dead;
  const auto start = Clock::now();
  TcpClient client(dead.address(), 300ms);
  EXPECT_FALSE(client.connected());
  EXPECT_FALSE(client.refused());
  EXPECT_GE(Clock::now() - start, 290ms);
}

} // namespace
} // namespace corral::test

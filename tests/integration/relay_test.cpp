// The relay: bytes arrive intact and in order both ways, half-closes pass through, and a side that
// does not read throttles the other instead of filling corral's memory.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "tests/support/corral_process.h"
#include "tests/support/fake_backend.h"
#include "tests/support/tcp_client.h"

namespace corral::test {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

// One frontend in front of one server, `${server}`.
constexpr const char* kOneServer = R"(
workers: ${workers}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends: [{name: app, servers: [{address: "${server}"}]}]
)";

Substitutions oneServer(const FakeBackend& server, int workers = 2) {
  return {{"server", server.address()}, {"workers", std::to_string(workers)}};
}

std::string patternBytes(uint64_t seed, size_t size) {
  std::string bytes(size, '\0');
  PatternStream(seed).fill(bytes);
  return bytes;
}

TEST(RelayTest, HundredMebibytesFromTheClientArriveIntact) {
  FakeBackend sink("sink", {.mode = BackendMode::Sink}); // replies "COUNT FNV" after our FIN
  CorralProcess corral(kOneServer, oneServer(sink));
  ASSERT_TRUE(corral.ready());
  TcpClient client(corral.listenAddress("web"));
  ASSERT_TRUE(client.writePattern(7, 100 * kMiB, 30s)) << client.error();
  client.shutdownWrite();
  const Digest expected = patternDigest(7, 100 * kMiB);
  EXPECT_EQ(client.readAll(10s), fmt::format("{} {:x}\n", expected.count, expected.fnv));
  EXPECT_EQ(client.closure(), Closure::Eof);
  const auto log = corral.waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].value("bytes_in", uint64_t{0}), 100 * kMiB) << log[0];
}

TEST(RelayTest, HundredMebibytesFromTheServerArriveIntact) {
  FakeBackend source("source", {.mode = BackendMode::Source, .source_bytes = 100 * kMiB, .seed = 11});
  CorralProcess corral(kOneServer, oneServer(source));
  ASSERT_TRUE(corral.ready());
  TcpClient client(corral.listenAddress("web"));
  EXPECT_EQ(client.readDigest(30s), patternDigest(11, 100 * kMiB));
  EXPECT_EQ(client.closure(), Closure::Eof);
  client.shutdownWrite(); // Source reads until our FIN; then the session is over
  const auto log = corral.waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].value("bytes_out", uint64_t{0}), 100 * kMiB) << log[0];
}

// The client sends, then shuts down its write side: it still gets every byte echoed, then EOF.
TEST(RelayTest, ClientHalfCloseStillReceivesTheWholeEcho) {
  FakeBackend echo("echo", {.mode = BackendMode::Echo});
  CorralProcess corral(kOneServer, oneServer(echo));
  ASSERT_TRUE(corral.ready());
  TcpClient client(corral.listenAddress("web"));
  const std::string data = patternBytes(3, 2 * kMiB);
  ASSERT_TRUE(client.writeAll(data, 10s)) << client.error();
  client.shutdownWrite();
  const std::string echoed = client.readAll(10s);
  EXPECT_EQ(echoed.size(), data.size());
  EXPECT_TRUE(echoed == data) << "the echo differs from what was sent"; // 2 MiB: do not print it
  EXPECT_EQ(client.closure(), Closure::Eof);
}

// The server sends its FIN first: the client sees EOF after every byte, and what the client sends
// afterwards still reaches the server.
TEST(RelayTest, ServerHalfClosePassesToTheClient) {
  FakeBackend source("source", {.mode = BackendMode::Source, .source_bytes = kMiB, .seed = 4});
  CorralProcess corral(kOneServer, oneServer(source));
  ASSERT_TRUE(corral.ready());
  TcpClient client(corral.listenAddress("web"));
  EXPECT_EQ(client.readDigest(10s), patternDigest(4, kMiB));
  EXPECT_EQ(client.closure(), Closure::Eof);
  const std::string late = "sent after the server's FIN";
  ASSERT_TRUE(client.writeAll(late)) << client.error();
  client.shutdownWrite();
  const auto finished = source.waitFinished(1, 5s);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0].received.count, late.size());
  EXPECT_FALSE(finished[0].reset);
}

// Every byte value, NULs, and first bytes that look like other protocols (a TLS ClientHello, a
// PROXY header, an HTTP request) are relayed as bytes, and the session goes on afterwards.
TEST(RelayTest, GarbageBytesAreRelayedAsBytes) {
  FakeBackend echo("echo", {.mode = BackendMode::Echo});
  CorralProcess corral(kOneServer, oneServer(echo));
  ASSERT_TRUE(corral.ready());
  std::string garbage("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  garbage += std::string("\0\0\0\r\n\r\nPROXY UNKNOWN\r\nGET / HTTP/1.1\r\n\r\n\xff\xfe", 43);
  for (int byte = 0; byte < 256; ++byte) {
    garbage += static_cast<char>(byte);
  }
  TcpClient client(corral.listenAddress("web"));
  ASSERT_TRUE(client.writeAll(garbage)) << client.error();
  EXPECT_EQ(client.readExactly(garbage.size(), 5s), garbage);
  ASSERT_TRUE(client.writeAll("still open"));
  EXPECT_EQ(client.readExactly(10, 5s), "still open");
}

// A client that reads nothing while the server sends 200 MiB: corral must stop reading the
// server (backpressure) rather than buffer. The server stalling is the observable; corral's RSS
// growth must stay well under what it would be had it buffered (tens of MiB at least).
TEST(RelayTest, SlowReaderKeepsCorralsMemoryBounded) {
  constexpr uint64_t kTotal = 200 * kMiB;
  FakeBackend source("source", {.mode = BackendMode::Source, .source_bytes = kTotal, .seed = 8});
  CorralProcess corral(kOneServer, oneServer(source, 1));
  ASSERT_TRUE(corral.ready());
  const auto before = corral.residentBytes();
  ASSERT_TRUE(before.has_value());
  TcpClient client(corral.listenAddress("web"));
  ASSERT_TRUE(client.connected()) << client.error();
  ASSERT_TRUE(source.waitUntilSendingStalls(500ms, 20s))
      << "the server never stalled; it sent " << source.bytesSent() << " bytes";
  EXPECT_LT(source.bytesSent(), kTotal);
  const auto during = corral.residentBytes();
  ASSERT_TRUE(during.has_value());
  RecordProperty("server_sent_before_stall", std::to_string(source.bytesSent()));
  RecordProperty("rss_before", std::to_string(*before));
  RecordProperty("rss_during", std::to_string(*during));
  EXPECT_LT(static_cast<int64_t>(*during) - static_cast<int64_t>(*before), int64_t{32 * kMiB})
      << "RSS before " << *before << ", while the client does not read " << *during;
  EXPECT_EQ(client.readDigest(60s), patternDigest(8, kTotal));
  EXPECT_EQ(client.closure(), Closure::Eof);
}

// While a big transfer is under way, clients that send garbage and then reset (SO_LINGER 0) do not
// disturb it, and corral goes on accepting. One worker, so that they all share its event loop.
TEST(RelayTest, ClientsResettingWithGarbageDoNotDisturbABigTransfer) {
  constexpr uint64_t kTotal = 64 * kMiB;
  FakeBackend source("source", {.mode = BackendMode::Source, .source_bytes = kTotal, .seed = 5});
  CorralProcess corral(kOneServer, oneServer(source, 1));
  ASSERT_TRUE(corral.ready());
  TcpClient transfer(corral.listenAddress("web"));
  Digest received = transfer.readDigest(10s, kMiB); // the transfer is under way
  ASSERT_EQ(received.count, kMiB);
  constexpr int kAbusers = 20;
  for (int i = 0; i < kAbusers; ++i) {
    TcpClient abuser(corral.listenAddress("web"));
    ASSERT_TRUE(abuser.connected()) << abuser.error();
    if (i % 2 == 0) { // half reset at once, half after some garbage
      ASSERT_TRUE(abuser.writeAll(patternBytes(100 + i, 4096))) << abuser.error();
    }
    abuser.resetAbruptly();
  }
  EXPECT_EQ(corral.waitForAccessLog(kAbusers, 10s).size(), size_t{kAbusers});
  received = transfer.readDigest(60s, UINT64_MAX, received);
  EXPECT_EQ(received, patternDigest(5, kTotal));
  EXPECT_EQ(transfer.closure(), Closure::Eof);
  TcpClient after(corral.listenAddress("web"));
  EXPECT_EQ(after.readDigest(10s, kMiB), patternDigest(5, kMiB));
}

} // namespace
} // namespace corral::test

// The relay's ways of moving bytes, end to end: copied through a pooled buffer (splice: off),
// spliced through a pooled pipe from the first byte (on) or once bulk starts (auto), and TLS
// terminated by corral. Each moves bytes exactly both ways, passes half-closes, survives a reset
// from either side, keeps its memory (and its pipes) bounded for a client that stops reading, and
// counts in the access log and the metrics exactly the bytes that were sent.
#include <dirent.h>
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tests/integration/edge/edge_support.h"
#include "tests/support/corral_process.h"
#include "tests/support/fake_backend.h"
#include "tests/support/reset_server.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

constexpr const char* kPlain = R"(
workers: 1
metrics: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app, splice: ${splice}}]
backends: [{name: app, servers: [{address: "${server}", name: s1}]}]
)";

constexpr const char* kTls = R"(
workers: 1
metrics: {listen: "127.0.0.1:0"}
frontends:
  - name: web
    listen: "127.0.0.1:0"
    backend: app
    tls: {certificates: [{cert: "${a_cert}", key: "${a_key}"}]}
backends: [{name: app, servers: [{address: "${server}", name: s1}]}]
)";

std::string terminationOf(const nlohmann::json& line) { return line.value("termination", ""); }

// Pipes open in process `pid` (each is two descriptors, both counted).
int openPipeEnds(pid_t pid) {
  int pipes = 0;
  const std::string folder = fmt::format("/proc/{}/fd", pid);
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) {
    return -1;
  }
  while (const dirent* entry = ::readdir(dir)) {
    std::array<char, 128> target{};
    const std::string link = folder + "/" + entry->d_name;
    const ssize_t n = ::readlink(link.c_str(), target.data(), target.size() - 1);
    if (n > 0 && std::string_view(target.data(), static_cast<size_t>(n)).starts_with("pipe:")) {
      ++pipes;
    }
  }
  ::closedir(dir);
  return pipes;
}

double serverBytes(const CorralProcess& corral, const std::string& direction) {
  return scrape(corral, "corral_server_bytes_total",
                {{"backend", "app"}, {"server", "s1"}, {"direction", direction}});
}

/// One corral in front of `server`, plain with the test's splice mode or TLS-terminating.
class RelayPathTest : public ::testing::TestWithParam<std::string> {
protected:
  bool tls() const { return GetParam() == "tls"; }

  std::unique_ptr<CorralProcess> start(const std::string& server) {
    Substitutions values = certificateSubstitutions();
    values["server"] = server;
    values["splice"] = tls() ? "auto" : GetParam();
    auto corral = std::make_unique<CorralProcess>(tls() ? kTls : kPlain, values);
    return corral;
  }
};

// A client of either kind, with the operations the tests need.
class Client {
public:
  Client(const CorralProcess& corral, bool tls) {
    if (tls) {
      tls_ = std::make_unique<TlsClient>(corral.listenAddress("web"), "a.example.com", caFile());
    } else {
      tcp_ = std::make_unique<TcpClient>(corral.listenAddress("web"));
    }
  }
  bool ok() const { return tls_ ? tls_->ok() : tcp_->connected(); }
  bool writePattern(uint64_t seed, uint64_t size) {
    return tls_ ? tls_->writePattern(seed, size) : tcp_->writePattern(seed, size, 60s);
  }
  bool writeAll(std::string_view data) { return tls_ ? tls_->writeAll(data) : tcp_->writeAll(data); }
  void shutdownWrite() { tls_ ? tls_->shutdownWrite() : tcp_->shutdownWrite(); }
  std::string readAll() { return tls_ ? tls_->readAll() : tcp_->readAll(10s); }
  Digest readDigest(uint64_t limit = UINT64_MAX) {
    return tls_ ? tls_->readDigest(limit) : tcp_->readDigest(60s, limit);
  }
  void resetAbruptly() { tls_ ? tls_->resetAbruptly() : tcp_->resetAbruptly(); }

private:
  std::unique_ptr<TlsClient> tls_;
  std::unique_ptr<TcpClient> tcp_;
};

TEST_P(RelayPathTest, ClientToServerIsExactAndItsHalfCloseStillGetsTheReply) {
  FakeBackend sink("sink", {.mode = BackendMode::Sink}); // replies "COUNT FNV" after our FIN
  auto corral = start(sink.address());
  ASSERT_TRUE(corral->ready());
  Client client(*corral, tls());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(client.writePattern(21, 48 * kMiB));
  client.shutdownWrite();
  const Digest expected = patternDigest(21, 48 * kMiB);
  EXPECT_EQ(client.readAll(), fmt::format("{} {:x}\n", expected.count, expected.fnv));
  const auto log = corral->waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].value("bytes_in", uint64_t{0}), 48 * kMiB) << log[0];
  EXPECT_EQ(terminationOf(log[0]), "client_closed") << log[0];
  EXPECT_EQ(serverBytes(*corral, "in"), static_cast<double>(48 * kMiB));
}

TEST_P(RelayPathTest, ServerToClientIsExactAndTheClientMaySendAfterTheServersHalfClose) {
  FakeBackend source("source", {.mode = BackendMode::Source, .source_bytes = 48 * kMiB, .seed = 22});
  auto corral = start(source.address());
  ASSERT_TRUE(corral->ready());
  Client client(*corral, tls());
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client.readDigest(), patternDigest(22, 48 * kMiB));
  const std::string late = "sent after the server's FIN";
  ASSERT_TRUE(client.writeAll(late));
  client.shutdownWrite();
  const auto finished = source.waitFinished(1, 5s);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0].received.count, late.size());
  const auto log = corral->waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].value("bytes_out", uint64_t{0}), 48 * kMiB) << log[0];
  EXPECT_EQ(log[0].value("bytes_in", uint64_t{0}), late.size()) << log[0];
  EXPECT_EQ(serverBytes(*corral, "out"), static_cast<double>(48 * kMiB));
}

// The client resets mid-transfer: its session ends as a client error, the server's connection is
// closed, and the next client is served from the start.
TEST_P(RelayPathTest, AClientResetMidTransferEndsOnlyItsSession) {
  FakeBackend source("source", {.mode = BackendMode::Source, .source_bytes = 512 * kMiB, .seed = 23});
  auto corral = start(source.address());
  ASSERT_TRUE(corral->ready());
  {
    Client client(*corral, tls());
    ASSERT_TRUE(client.ok());
    ASSERT_EQ(client.readDigest(4 * kMiB), patternDigest(23, 4 * kMiB));
    client.resetAbruptly();
  }
  const auto log = corral->waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(terminationOf(log[0]), "client_error") << log[0];
  EXPECT_EQ(source.waitFinished(1, 5s).size(), 1u) << "the server's connection is still open";
  Client next(*corral, tls());
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next.readDigest(kMiB), patternDigest(23, kMiB));
}

// The server resets while corral holds bytes for a client that has not read yet: the client still
// gets every byte corral read from the server, then the close.
TEST_P(RelayPathTest, AServerResetMidTransferStillDeliversWhatCorralRead) {
  FloodThenResetServer server(24);
  auto corral = start(server.address());
  ASSERT_TRUE(corral->ready());
  Client client(*corral, tls());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(pollUntil([&] { return server.resetSent(); }, 20s, 10ms));
  const Digest received = client.readDigest();
  const auto log = corral->waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  const uint64_t from_server = log[0].value("bytes_out", uint64_t{0});
  EXPECT_GT(from_server, 0u);
  EXPECT_EQ(received, patternDigest(24, from_server)) << log[0];
  EXPECT_EQ(terminationOf(log[0]), "server_error") << log[0];
}

// A client that reads nothing while the server sends 300 MiB: corral stops reading the server
// instead of buffering, holds at most one buffer or pipe per direction, and then delivers it all.
TEST_P(RelayPathTest, AClientThatStopsReadingKeepsMemoryAndPipesBounded) {
  constexpr uint64_t kTotal = 300 * kMiB;
  FakeBackend source("source", {.mode = BackendMode::Source, .source_bytes = kTotal, .seed = 25});
  auto corral = start(source.address());
  ASSERT_TRUE(corral->ready());
  const auto before = corral->residentBytes();
  ASSERT_TRUE(before.has_value());
  const int pipes_before = openPipeEnds(corral->pid());
  Client client(*corral, tls());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(source.waitUntilSendingStalls(500ms, 20s))
      << "the server never stalled; it sent " << source.bytesSent() << " bytes";
  const auto during = corral->residentBytes();
  ASSERT_TRUE(during.has_value());
  EXPECT_LT(static_cast<int64_t>(*during) - static_cast<int64_t>(*before), int64_t{16 * kMiB})
      << "RSS before " << *before << ", while the client does not read " << *during;
  const int spliced = GetParam() == "on" || GetParam() == "auto" ? 2 : 0;
  EXPECT_EQ(openPipeEnds(corral->pid()) - pipes_before, spliced)
      << "one pipe for the stalled direction when spliced, none otherwise";
  EXPECT_EQ(client.readDigest(), patternDigest(25, kTotal));
}

INSTANTIATE_TEST_SUITE_P(Paths, RelayPathTest, ::testing::Values("off", "on", "auto", "tls"),
                         [](const auto& info) { return info.param == "tls" ? "Tls" : "Splice_" + info.param; });

// Thousands of connections open and idle, then every one of them active at once: each gets its
// own bytes back. An idle session holds no buffer, so corral's memory grows by little per
// connection. As many as the descriptor limit allows, up to 10,000: corral needs two per
// connection, and so does this test (client and fake server); these machines' hard limit is
// 20,000.
TEST(IdleConnectionsTest, TenThousandIdleConnectionsThenAllActiveAtOnce) {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max; // corral inherits it
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  const int kConnections = static_cast<int>(std::min<rlim_t>(10'000, (limit.rlim_cur - 200) / 2));
  ASSERT_GE(kConnections, 5'000) << "the descriptor limit " << limit.rlim_cur << " is too low";
  RecordProperty("connections", std::to_string(kConnections));
  FakeBackend echo("echo", {.mode = BackendMode::Echo});
  CorralProcess corral(R"(
workers: 1
frontends: [{name: web, listen: "127.0.0.1:0", backend: app, max_connections: 100000}]
backends: [{name: app, servers: [{address: "${server}", name: s1}]}]
)", {{"server", echo.address()}});
  ASSERT_TRUE(corral.ready());
  const auto before = corral.residentBytes();
  std::vector<std::unique_ptr<TcpClient>> clients;
  clients.reserve(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    clients.push_back(std::make_unique<TcpClient>(corral.listenAddress("web"), 5s));
    ASSERT_TRUE(clients.back()->connected()) << "connection " << i << ": " << clients.back()->error();
  }
  ASSERT_TRUE(pollUntil([&] { return echo.acceptedConnections() == kConnections; }, 60s, 20ms))
      << echo.acceptedConnections() << " reached the server";
  const auto idle = corral.residentBytes();
  ASSERT_TRUE(before && idle);
  const double per_connection = static_cast<double>(*idle - *before) / kConnections;
  RecordProperty("rss_bytes_per_idle_connection", std::to_string(per_connection));
  EXPECT_LT(per_connection, 4096.0) << "corral holds memory for idle connections";
  for (int i = 0; i < kConnections; ++i) {
    ASSERT_TRUE(clients[i]->writeAll(fmt::format("{:08}", i))) << i;
  }
  for (int i = 0; i < kConnections; ++i) {
    ASSERT_EQ(clients[i]->readExactly(8, 20s), fmt::format("{:08}", i)) << "connection " << i;
  }
}

} // namespace
} // namespace corral::test

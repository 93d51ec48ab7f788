// What a sticky_cookie frontend does with bytes that are not a well-behaved HTTP/1 request head
// (other protocols, an over-long head, a head that never ends) and with a response that starts
// with an interim 100 Continue head. Each case checks the connections beside it as well.
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "continue_server.h"
#include "sticky_support.h"

#include "tests/support/corral_process.h"
#include "tests/support/fake_backend.h"
#include "tests/support/http_client.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

using namespace std::string_view_literals;

constexpr std::string_view kEchoConfig = R"(
workers: 1
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    balance: sticky_cookie
    sticky_cookie: {fallback: round_robin, secret_file: "${secret}", max_header_size: 1KiB,
                    header_timeout: ${header_timeout}}
    servers: [{address: "${e1}", name: e1}, {address: "${e2}", name: e2}]
)";

// Pseudo-random bytes of PatternStream(seed) after `prefix`.
std::string payload(std::string_view prefix, size_t size, uint64_t seed) {
  std::string bytes(size, '\0');
  PatternStream(seed).fill(bytes);
  return std::string(prefix) + bytes;
}

class StickyEchoTest : public ::testing::Test {
protected:
  std::unique_ptr<CorralProcess> startCorral(std::string_view header_timeout) {
    return std::make_unique<CorralProcess>(
        kEchoConfig, Substitutions{{"e1", e1_.address()}, {"e2", e2_.address()},
                                   {"secret", secret_},
                                   {"header_timeout", std::string(header_timeout)}});
  }

  TempDir dir_;
  const std::string secret_ = writeSecretFile(dir_.path() / "cookie.key");
  FakeBackend e1_{"e1", {.mode = BackendMode::Echo}}, e2_{"e2", {.mode = BackendMode::Echo}};
};

// Sends `first`, waits for its echo, then sends `rest` and half-closes; true when every byte
// came back unchanged. The first echo must come well within header_timeout (5 s here): corral
// decided at once that this is not an HTTP/1 head.
void expectRelayedUnchanged(const std::string& address, const std::string& first,
                            const std::string& rest) {
  TcpClient client(address);
  ASSERT_TRUE(client.connected()) << client.error();
  const auto sent_at = Clock::now();
  ASSERT_TRUE(echoes(client, first)) << "the first bytes were not relayed; " << client.closure();
  EXPECT_LT(Clock::now() - sent_at, 2s);
  ASSERT_TRUE(client.writeAll(rest, 10s));
  client.shutdownWrite();
  EXPECT_EQ(client.readAll(10s), rest);
}

// A line protocol whose client speaks first and waits for the answer ("PING\r\n"), a TLS
// ClientHello record, and the HTTP/2 preface with a SETTINGS frame: none is an HTTP/1 head, so
// each is placed round robin at once and every byte, 64 KiB more included, comes back unchanged.
TEST_F(StickyEchoTest, NonHttpTrafficIsPlacedByFallbackAndRelayedUnchanged) {
  auto corral = startCorral("5s");
  ASSERT_TRUE(corral->ready());
  const std::vector<std::pair<std::string, std::string>> cases{
      {"PING\r\n", payload("", 64 * 1024, 1)},
      {payload("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"sv, 506, 2), payload("", 64 * 1024, 3)},
      {payload("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"sv, 0, 4),
       payload("", 64 * 1024, 5)}};
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(fmt::format("case {}", i));
    expectRelayedUnchanged(corral->listenAddress("web"), cases[i].first, cases[i].second);
  }
  const auto log = corral->waitForAccessLog(cases.size(), 5s);
  ASSERT_EQ(log.size(), cases.size());
  std::set<std::string> servers;
  for (size_t i = 0; i < log.size(); ++i) {
    const uint64_t size = cases[i].first.size() + cases[i].second.size();
    EXPECT_EQ(log[i].value("chosen_by", ""), "round_robin") << log[i];
    EXPECT_EQ(log[i].value("bytes_in", uint64_t{0}), size) << log[i];
    EXPECT_EQ(log[i].value("bytes_out", uint64_t{0}), size) << log[i];
    servers.insert(log[i].value("server", ""));
  }
  EXPECT_EQ(servers, (std::set<std::string>{"e1", "e2"}));
}

// max_header_size bounds an HTTP head, not another protocol's first message: 8 KiB of binary
// (a TLS record header, then bytes no HTTP request starts with) in one write is relayed like the
// small messages above, although it is longer than max_header_size (1 KiB here).
TEST_F(StickyEchoTest, NonHttpFirstWriteLongerThanMaxHeaderSizeIsRelayedUnchanged) {
  auto corral = startCorral("5s");
  ASSERT_TRUE(corral->ready());
  expectRelayedUnchanged(corral->listenAddress("web"),
                         payload("\x16\x03\x01\x1f\xfb"sv, 8 * 1024 - 5, 6), payload("", 1024, 7));
  const auto log = corral->waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].value("chosen_by", ""), "round_robin") << log[0];
  EXPECT_EQ(log[0].value("termination", ""), "client_closed") << log[0];
}

// A head longer than max_header_size (1 KiB here), whether it ends or not, closes that connection
// at once (header_timeout is far away) without reaching a server; a client already relaying is
// not disturbed.
TEST_F(StickyEchoTest, OverLongRequestHeadClosesOnlyThatConnection) {
  auto corral = startCorral("10s");
  ASSERT_TRUE(corral->ready());
  TcpClient bystander(corral->listenAddress("web"));
  ASSERT_TRUE(echoes(bystander, "PING\r\n"));
  const std::string padding(2000, 'a');
  for (const std::string& head :
       {"GET / HTTP/1.1\r\nHost: test\r\nX-Pad: " + padding,
        "GET / HTTP/1.1\r\nHost: test\r\nX-Pad: " + padding + "\r\n\r\n"}) {
    TcpClient client(corral->listenAddress("web"));
    const auto sent_at = Clock::now();
    client.writeAll(head); // corral may close before it has read it all
    EXPECT_EQ(client.readAll(5s), "");
    EXPECT_NE(client.closure(), Closure::Open);
    EXPECT_LT(Clock::now() - sent_at, 3s);
  }
  EXPECT_TRUE(echoes(bystander, "PING again\r\n"));
  EXPECT_EQ(e1_.acceptedConnections() + e2_.acceptedConnections(), 1);
  const auto log = corral->waitForAccessLog(2, 5s);
  ASSERT_EQ(log.size(), 2u);
  for (const auto& line : log) {
    EXPECT_EQ(line.value("termination", ""), "bad_request") << line;
    EXPECT_EQ(line.value("server", "?"), "") << line;
  }
}

// A client that sends half a head and then waits, and one that sends nothing, are closed once
// header_timeout (600 ms) has passed; a client that connected after them is served meanwhile.
TEST_F(StickyEchoTest, HalfSentHeadIsClosedAfterHeaderTimeoutOthersAreServed) {
  auto corral = startCorral("600ms");
  ASSERT_TRUE(corral->ready());
  const auto started = Clock::now();
  TcpClient half(corral->listenAddress("web")), silent(corral->listenAddress("web"));
  ASSERT_TRUE(half.writeAll("GET / HTTP/1.1\r\nHost: test\r\n"));
  TcpClient bystander(corral->listenAddress("web"));
  EXPECT_TRUE(echoes(bystander, "PING\r\n"));
  for (TcpClient* waiting : {&half, &silent}) {
    EXPECT_EQ(waiting->readAll(10s), "");
    EXPECT_NE(waiting->closure(), Closure::Open); // closed by corral, before our deadline
  }
  EXPECT_GE(Clock::now() - started, 550ms);
  EXPECT_TRUE(echoes(bystander, "PING again\r\n"));
  const auto log = corral->waitForAccessLog(2, 5s);
  ASSERT_EQ(log.size(), 2u);
  for (const auto& line : log) {
    EXPECT_EQ(line.value("termination", ""), "client_timeout") << line;
  }
  EXPECT_EQ(e1_.acceptedConnections() + e2_.acceptedConnections(), 1);
}

constexpr std::string_view kContinueConfig = R"(
workers: 1
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    balance: sticky_cookie
    sticky_cookie: {secret_file: "${secret}"}
    servers: [{address: "${server}", name: only}]
)";

const std::string kUploadHead =
    "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";

// Reads until a whole head ("\r\n\r\n") has arrived.
std::string readHead(TcpClient& client) {
  std::string head;
  const auto deadline = Clock::now() + 5s;
  while (head.find("\r\n\r\n") == std::string::npos && Clock::now() < deadline &&
         client.closure() == Closure::Open) {
    head += client.readSome(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now()));
  }
  return head;
}

void expectCookieOnlyInFinalHead(const HttpResponse& response) {
  ASSERT_TRUE(response.ok()) << response.error;
  ASSERT_EQ(response.interim.size(), 1u) << response.raw;
  EXPECT_EQ(response.interim[0].status, 100);
  EXPECT_TRUE(response.interim[0].values("Set-Cookie").empty()) << response.raw;
  EXPECT_EQ(response.head.status, 200);
  EXPECT_EQ(response.head.values("Set-Cookie").size(), 1u) << response.raw;
  EXPECT_TRUE(response.cookieSet("CORRAL").has_value()) << response.raw;
  EXPECT_EQ(response.body, "hello");
}

// RFC 9110 §15.2: a client that sent Expect: 100-continue waits for the interim head before the
// body. corral passes the 100 through untouched and puts the cookie into the final 200 head.
TEST(StickyContinueTest, CookieGoesIntoTheFinalHeadAfterA100ContinueSentAlone) {
  TempDir dir;
  ContinueServer server(/*together=*/false);
  CorralProcess corral(kContinueConfig, {{"server", server.address()},
                                         {"secret", writeSecretFile(dir.path() / "key")}});
  ASSERT_TRUE(corral.ready());
  TcpClient client(corral.listenAddress("web"));
  ASSERT_TRUE(client.writeAll(kUploadHead));
  const std::string interim = readHead(client);
  ASSERT_TRUE(interim.starts_with("HTTP/1.1 100 Continue\r\n")) << interim;
  ASSERT_TRUE(client.writeAll("hello"));
  expectCookieOnlyInFinalHead(parseResponse(interim + client.readAll(5s)));
  EXPECT_EQ(server.received(), kUploadHead + "hello") << "the request was relayed unchanged";
}

// The same with both heads arriving in one read.
TEST(StickyContinueTest, CookieGoesIntoTheFinalHeadWhenBothHeadsArriveTogether) {
  TempDir dir;
  ContinueServer server(/*together=*/true);
  CorralProcess corral(kContinueConfig, {{"server", server.address()},
                                         {"secret", writeSecretFile(dir.path() / "key")}});
  ASSERT_TRUE(corral.ready());
  TcpClient client(corral.listenAddress("web"));
  ASSERT_TRUE(client.writeAll(kUploadHead + "hello"));
  expectCookieOnlyInFinalHead(parseResponse(client.readAll(5s)));
  EXPECT_EQ(server.received(), kUploadHead + "hello");
}

} // namespace
} // namespace corral::test

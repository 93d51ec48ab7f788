// Timeouts that long-lived connections need (issue 15): tunnel_timeout after an HTTP 101 or the
// first exchange of a non-HTTP session, max_lifetime, and tcp_keepalive on both of corral's
// sockets (seen with `ss -o`).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tests/integration/edge/edge_support.h"
#include "tests/support/fake_backend.h"

namespace corral::test {
namespace {

// An HTTP server for one purpose: a request carrying "Upgrade: websocket" gets a 101 and the
// connection then echoes; any other request gets a 200 and the connection stays open, silent.
class UpgradeServer {
public:
  UpgradeServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::listen(listener_, 16);
    socklen_t length = sizeof(address);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    address_ = fmt::format("127.0.0.1:{}", ntohs(address.sin_port));
    thread_ = std::thread([this] { run(); });
  }
  ~UpgradeServer() {
    stop_ = true;
    thread_.join();
    for (auto& connection : connections_) {
      connection.join();
    }
    ::close(listener_);
  }
  const std::string& address() const { return address_; }

private:
  void run() {
    while (!stop_) {
      pollfd ready{.fd = listener_, .events = POLLIN, .revents = 0};
      if (::poll(&ready, 1, 100) == 1) {
        const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        connections_.emplace_back([this, fd] { serve(fd); });
      }
    }
  }
  void serve(int fd) {
    const timeval tick{0, 100'000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick));
    std::string head;
    bool upgraded = false;
    char buffer[4096];
    while (!stop_) {
      const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n == 0 || (n < 0 && errno != EAGAIN)) {
        break;
      }
      if (n < 0) {
        continue;
      }
      if (upgraded) {
        ::send(fd, buffer, static_cast<size_t>(n), MSG_NOSIGNAL);
        continue;
      }
      head.append(buffer, static_cast<size_t>(n));
      if (head.find("\r\n\r\n") == std::string::npos) {
        continue;
      }
      upgraded = head.find("Upgrade: websocket") != std::string::npos;
      const std::string_view reply =
          upgraded ? "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\n\r\n"
                   : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    }
    ::close(fd);
  }

  int listener_ = -1;
  std::string address_;
  std::atomic<bool> stop_ = false;
  std::thread thread_;
  std::vector<std::thread> connections_; // the accept thread's own until the destructor
};

// Sends `request`, reads the reply (up to `expect` bytes), and returns it.
std::string ask(int fd, std::string_view request, size_t expect) {
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string reply(expect, '\0');
  const ssize_t n = ::recv(fd, reply.data(), expect, MSG_WAITALL);
  reply.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return reply;
}

// Sends `request` and reads one response head (and `body` more bytes).
std::string askHead(int fd, std::string_view request, size_t body = 0) {
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string reply;
  char byte;
  while (!reply.ends_with("\r\n\r\n") && reply.size() < 8192 && ::recv(fd, &byte, 1, 0) == 1) {
    reply += byte;
  }
  for (size_t i = 0; i < body && ::recv(fd, &byte, 1, 0) == 1; ++i) {
    reply += byte;
  }
  return reply;
}

// True when the connection is still open: the peer has neither closed nor reset it.
bool stillOpen(int fd) {
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_DONTWAIT);
  return n < 0 && errno == EAGAIN;
}

constexpr std::string_view kUpgrade =
    "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
constexpr std::string_view kGet = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

class TunnelTest : public ::testing::TestWithParam<std::string> {};

// client_timeout 400ms, tunnel_timeout 20s: a WebSocket silent for 1.5 s lives on; a plain HTTP
// connection silent as long does not; nor does a session that never completed an exchange.
TEST_P(TunnelTest, AWebSocketOutlivesClientTimeout) {
  UpgradeServer http;
  CorralProcess corral(R"(
workers: 1
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app, client_timeout: 400ms, tunnel_timeout: 20s}
backends: [{name: app, balance: ${balance}, servers: [{address: "${http}"}]}]
)", {{"http", http.address()}, {"balance", GetParam()}});
  ASSERT_TRUE(corral.ready());
  const std::string web = corral.listenAddress("web");
  const int socket = connectFrom("127.0.0.1", web);
  const int plain = connectFrom("127.0.0.1", web);
  ASSERT_THAT(askHead(socket, kUpgrade), ::testing::StartsWith("HTTP/1.1 101 "));
  ASSERT_THAT(askHead(plain, kGet, 2), ::testing::EndsWith("\r\n\r\nok")); // sticky: + Set-Cookie
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(ask(socket, "ping", 4), "ping"); // relayed after the silence
  EXPECT_FALSE(stillOpen(plain)) << "an HTTP keep-alive connection outlived client_timeout";
  ::close(socket);
  ::close(plain);
}

INSTANTIATE_TEST_SUITE_P(Balance, TunnelTest, ::testing::Values("round_robin", "sticky_cookie"));

// A non-HTTP protocol is a tunnel once both sides have spoken.
TEST(TimeoutsTest, ANonHttpSessionIsATunnelAfterItsFirstExchange) {
  FakeBackend echo("echo", {.mode = BackendMode::Echo});
  CorralProcess corral(R"(
workers: 1
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app, client_timeout: 400ms, tunnel_timeout: 1200ms}
backends: [{name: app, servers: [{address: "${echo}"}]}]
)", {{"echo", echo.address()}});
  ASSERT_TRUE(corral.ready());
  const int fd = connectFrom("127.0.0.1", corral.listenAddress("web"));
  ASSERT_EQ(ask(fd, "hello", 5), "hello");
  std::this_thread::sleep_for(800ms); // past client_timeout, within tunnel_timeout
  EXPECT_EQ(ask(fd, "again", 5), "again");
  std::this_thread::sleep_for(2000ms); // past tunnel_timeout
  EXPECT_FALSE(stillOpen(fd));
  ::close(fd);
  const auto log = corral.waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].value("termination", ""), "tunnel_timeout") << log[0];
}

// max_lifetime closes a busy-then-quiet connection once it is older than the limit.
TEST(TimeoutsTest, MaxLifetimeClosesAnOldConnectionAtAQuietMoment) {
  FakeBackend echo("echo", {.mode = BackendMode::Echo});
  CorralProcess corral(R"(
workers: 1
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app, max_lifetime: 1500ms}
backends: [{name: app, servers: [{address: "${echo}"}]}]
)", {{"echo", echo.address()}});
  ASSERT_TRUE(corral.ready());
  const int fd = connectFrom("127.0.0.1", corral.listenAddress("web"));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) { // traffic every 200 ms keeps it open past nothing
    EXPECT_EQ(ask(fd, "tick", 4), "tick") << i;
    std::this_thread::sleep_for(200ms);
  }
  char byte;
  const timeval patience{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience));
  EXPECT_EQ(::recv(fd, &byte, 1, 0), 0); // closed by corral
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1500ms);
  ::close(fd);
  const auto log = corral.waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].value("termination", ""), "max_lifetime") << log[0];
}

// The `ss -tno` lines of established TCP sockets whose peer is `peer` ("127.0.0.1:PORT").
std::vector<std::string> socketsTo(const std::string& peer) {
  const CommandResult ss = runCommand({"/usr/bin/ss", "-tnoH", "state", "established"},
                                      {.timeout = 10s, .merge_output = true});
  std::vector<std::string> lines;
  std::istringstream text(ss.out);
  for (std::string line; std::getline(text, line);) {
    std::istringstream fields(line);
    std::string recv_q, send_q, local, remote;
    fields >> recv_q >> send_q >> local >> remote;
    if (remote == peer) {
      lines.push_back(line);
    }
  }
  return lines;
}

TEST(TimeoutsTest, TcpKeepaliveIsSetOnBothSockets) {
  FakeBackend echo("echo", {.mode = BackendMode::Echo});
  CorralProcess corral(R"(
workers: 1
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app,
     tcp_keepalive: {idle: 7s, interval: 3s, count: 4}}
  - {name: bare, listen: "127.0.0.1:0", backend: other}
backends:
  - {name: app, servers: [{address: "${echo}"}], tcp_keepalive: {idle: 11s, interval: 2s, count: 5}}
  - {name: other, servers: [{address: "${echo}"}]}
)", {{"echo", echo.address()}});
  ASSERT_TRUE(corral.ready());
  const int fd = connectFrom("127.0.0.41", corral.listenAddress("web"));
  ASSERT_EQ(ask(fd, "x", 1), "x");
  sockaddr_in local{};
  socklen_t length = sizeof(local);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
  const std::string client = fmt::format("127.0.0.41:{}", ntohs(local.sin_port));
  // corral's client socket: local = the listener, peer = our socket.
  const auto client_side = socketsTo(client);
  ASSERT_EQ(client_side.size(), 1u);
  const std::regex keepalive(R"(timer:\(keepalive,([0-9.]+)(ms|sec),0\))");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(client_side[0], match, keepalive)) << client_side[0];
  EXPECT_LE(std::stod(match[1]), match[2] == "ms" ? 7000 : 7.0) << client_side[0];
  // corral's server socket: peer = the echo server (the echo server's own socket has it as local).
  const auto server_side = socketsTo(echo.address());
  ASSERT_EQ(server_side.size(), 1u);
  ASSERT_TRUE(std::regex_search(server_side[0], match, keepalive)) << server_side[0];
  // At most the backend's idle of 11 s. Not "more than the frontend's 7 s": the timer counts down
  // from the connect, and a loaded machine (ASan, ctest -j2) once took that long to get here.
  EXPECT_LE(std::stod(match[1]), match[2] == "ms" ? 11000 : 11.0) << server_side[0];
  // Off unless set: the other frontend's sockets carry no keepalive timer.
  const int bare = connectFrom("127.0.0.42", corral.listenAddress("bare"));
  ASSERT_EQ(ask(bare, "y", 1), "y");
  length = sizeof(local);
  ::getsockname(bare, reinterpret_cast<sockaddr*>(&local), &length);
  const auto bare_side = socketsTo(fmt::format("127.0.0.42:{}", ntohs(local.sin_port)));
  ASSERT_EQ(bare_side.size(), 1u);
  EXPECT_EQ(bare_side[0].find("keepalive"), std::string::npos) << bare_side[0];
  ::close(fd);
  ::close(bare);
}

} // namespace
} // namespace corral::test

// HeadGuard on a real evhttp server on 127.0.0.1 (its own loop thread), with a short deadline.

#include "admin/head_guard.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace corral::admin {
namespace {

using namespace std::chrono_literals;

class GuardedServer {
public:
  explicit GuardedServer(std::chrono::milliseconds head_timeout = 300ms)
      : base_((evthread_use_pthreads(), event_base_new())), http_(evhttp_new(base_)) {
    evhttp_set_gencb(http_, &GuardedServer::onRequest, this);
    guard_.emplace(base_, http_, head_timeout);
    auto* socket = evhttp_bind_socket_with_handle(http_, "127.0.0.1", 0);
    sockaddr_in address{};
    socklen_t length = sizeof(address);
    ::getsockname(evhttp_bound_socket_get_fd(socket), reinterpret_cast<sockaddr*>(&address),
                  &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY); });
  }
  ~GuardedServer() {
    event_base_loopbreak(base_); // thread-safe: evthread_use_pthreads
    thread_.join();
    evhttp_free(http_);
    guard_.reset();
    event_base_free(base_);
  }

  int connect() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const timeval timeout{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{.sin_family = AF_INET, .sin_port = htons(port_), .sin_addr = {}};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 ? fd : -1;
  }

private:
  static void onRequest(evhttp_request* request, void* self) {
    static_cast<GuardedServer*>(self)->guard_->onRequest(request);
    evbuffer_add(evhttp_request_get_output_buffer(request), "ok", 2);
    evhttp_send_reply(request, 200, "OK", nullptr);
  }

  event_base* base_;
  evhttp* http_;
  std::optional<HeadGuard> guard_;
  uint16_t port_ = 0;
  std::thread thread_;
};

// Everything the peer sends until it closes (or 5 s pass): "" when it closed without a reply.
std::string readToClose(int fd) {
  std::string all;
  char buffer[4096];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) {
    all.append(buffer, static_cast<size_t>(n));
  }
  return n == 0 ? all : all + "<timeout>";
}

constexpr std::string_view kRequest = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

TEST(HeadGuardTest, AHeadNotCompleteInTimeIsClosed) {
  GuardedServer server;
  const int slow = server.connect();
  ::send(slow, "GET / HT", 8, MSG_NOSIGNAL);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(readToClose(slow), ""); // closed unanswered, well before the 5 s receive timeout
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  ::close(slow);
}

// A keep-alive connection is answered, and then has the deadline again for its next head.
TEST(HeadGuardTest, AWholeHeadIsAnsweredAndTheNextHeadHasItsOwnDeadline) {
  GuardedServer server;
  const int fd = server.connect();
  ::send(fd, kRequest.data(), kRequest.size(), MSG_NOSIGNAL);
  const std::string reply = readToClose(fd);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200 OK")) << reply;
  EXPECT_TRUE(reply.ends_with("ok")) << reply;
  ::close(fd);
}

// Past the cap a new connection shuts the oldest one still without a request; a client whose
// head arrives at once is always served.
TEST(HeadGuardTest, PastTheCapTheOldestWaitingConnectionsGo) {
  GuardedServer server(60s);
  std::vector<int> idle;
  for (size_t i = 0; i < HeadGuard::kMaxConnections + 8; ++i) {
    idle.push_back(server.connect());
    ASSERT_GE(idle.back(), 0);
  }
  const int fd = server.connect();
  ::send(fd, kRequest.data(), kRequest.size(), MSG_NOSIGNAL);
  char first[15];
  ASSERT_EQ(::recv(fd, first, sizeof(first), MSG_WAITALL), ssize_t(sizeof(first)));
  EXPECT_EQ(std::string(first, sizeof(first)), "HTTP/1.1 200 OK");
  char byte;
  EXPECT_EQ(::recv(idle.front(), &byte, 1, 0), 0); // the oldest was shut
  EXPECT_EQ(::recv(idle.back(), &byte, 1, MSG_DONTWAIT), -1); // the newest still waits
  EXPECT_EQ(errno, EAGAIN);
  for (int idle_fd : idle) {
    ::close(idle_fd);
  }
  ::close(fd);
}

} // namespace
} // namespace corral::admin

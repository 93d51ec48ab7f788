#include "tests/support/reset_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <vector>

#include <fmt/format.h>

#include "tests/support/byte_pattern.h"
#include "tests/support/wait.h"

namespace corral::test {

using namespace std::chrono_literals;

FloodThenResetServer::FloodThenResetServer(uint64_t seed) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  socklen_t length = sizeof(local);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      ::listen(listener_, 4) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
    throwSystemError("FloodThenResetServer: bind/listen");
  }
  address_ = fmt::format("127.0.0.1:{}", ntohs(local.sin_port));
  thread_ = std::thread([this, seed] { serveOne(seed); });
}

FloodThenResetServer::~FloodThenResetServer() {
  ::shutdown(listener_, SHUT_RDWR); // wakes accept() if nobody came
  thread_.join();
  ::close(listener_);
}

void FloodThenResetServer::serveOne(uint64_t seed) {
  const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) {
    return;
  }
  PatternStream pattern(seed);
  std::vector<char> chunk(64 * 1024);
  pattern.fill(chunk);
  size_t offset = 0;
  // Full once no byte has gone out for 300 ms; bounded by the deadline whatever happens.
  auto last_progress = Clock::now();
  const auto deadline = Clock::now() + 15s;
  while (Clock::now() - last_progress < 300ms && Clock::now() < deadline) {
    const ssize_t n = ::send(fd, chunk.data() + offset, chunk.size() - offset, MSG_NOSIGNAL);
    if (n > 0) {
      offset += static_cast<size_t>(n);
      last_progress = Clock::now();
    } else if (n < 0 && errno != EAGAIN) {
      break;
    }
    if (offset == chunk.size()) {
      pattern.fill(chunk);
      offset = 0;
    } else if (n <= 0) {
      pollfd writable{.fd = fd, .events = POLLOUT};
      ::poll(&writable, 1, 50);
    }
  }
  const linger abort{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
  ::close(fd);
  reset_sent_ = true;
}

} // namespace corral::test

#include "health_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <system_error>

#include <fmt/format.h>

#include "tests/support/wait.h"

namespace corral::test {
namespace {

// Larger heads are not ours: a test sends one short request line.
constexpr size_t kMaxHead = 8192;

int loopbackSocket(uint16_t port, sockaddr_in& local) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  local = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {htonl(INADDR_LOOPBACK)}};
  socklen_t length = sizeof(local);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
    throwSystemError("HealthServer: bind");
  }
  return fd;
}

std::string reply(int status, std::string_view body) {
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", status,
                     status == 200 ? "OK" : "Service Unavailable", body.size(), body);
}

} // namespace

HealthServer::HealthServer(std::string name) : name_(std::move(name)) {
  sockaddr_in local{};
  listener_ = loopbackSocket(0, local);
  if (::listen(listener_, SOMAXCONN) != 0) {
    throwSystemError("HealthServer: listen");
  }
  address_ = fmt::format("127.0.0.1:{}", ntohs(local.sin_port));
  wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_ < 0) {
    throwSystemError("HealthServer: eventfd");
  }
  thread_ = std::thread([this] { run(); });
}

HealthServer::~HealthServer() {
  stopping_ = true;
  const uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wake_, &one, sizeof(one));
  thread_.join();
  for (const auto& connection : connections_) {
    ::close(connection.fd);
  }
  for (int fd : {listener_, placeholder_, wake_}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

void HealthServer::kill() {
  killed_ = true;
  const uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wake_, &one, sizeof(one));
  // The thread closes the listener and every open connection, then this call returns.
  pollUntil([&] { return dead_.load(); }, 5s);
}

void HealthServer::run() {
  std::vector<pollfd> fds;
  while (!killed_ && !stopping_) {
    fds.assign({{.fd = wake_, .events = POLLIN}, {.fd = listener_, .events = POLLIN}});
    for (const auto& connection : connections_) {
      fds.push_back({.fd = connection.fd, .events = POLLIN});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
      throwSystemError("HealthServer: poll");
    }
    for (size_t i = 0; i < connections_.size(); ++i) {
      if (fds[i + 2].revents != 0 && !serve(connections_[i])) {
        connections_[i].fd = -1;
      }
    }
    std::erase_if(connections_, [](const Connection& c) { return c.fd < 0; });
    if (fds[1].revents != 0) {
      acceptAll();
    }
  }
  if (killed_ && !stopping_) {
    holdPort();
  }
}

// A dead process's port refuses connects: close the listener and every connection, and keep the
// port with a socket that never listens. SO_REUSEADDR on both lets the bind succeed past the
// TIME_WAIT of the connections just closed.
void HealthServer::holdPort() {
  for (auto& connection : connections_) {
    ::close(connection.fd);
  }
  connections_.clear();
  const auto port = static_cast<uint16_t>(std::stoi(address_.substr(address_.rfind(':') + 1)));
  ::close(listener_);
  listener_ = -1;
  sockaddr_in local{};
  try {
    placeholder_ = loopbackSocket(port, local);
  } catch (const std::system_error& error) { // this thread cannot fail the test: say so instead
    std::fprintf(stderr, "HealthServer %s: port %u is free for anyone now: %s\n", name_.c_str(),
                 static_cast<unsigned>(port), error.what());
  }
  dead_ = true;
}

void HealthServer::acceptAll() {
  while (true) {
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      return; // EAGAIN: the queue is empty
    }
    connections_.push_back({.fd = fd});
  }
}

bool HealthServer::serve(Connection& connection) {
  char buffer[4096];
  const ssize_t got = ::recv(connection.fd, buffer, sizeof(buffer), 0);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
    return true;
  }
  if (got > 0) {
    connection.received.append(buffer, static_cast<size_t>(got));
    if (connection.received.find("\r\n\r\n") == std::string::npos &&
        connection.received.size() < kMaxHead) {
      return true;
    }
    answer(connection);
  }
  ::close(connection.fd);
  return false;
}

// The answer is a few dozen bytes: one send fits in any socket buffer.
void HealthServer::answer(Connection& connection) {
  const bool health = connection.received.starts_with("GET /healthz ");
  const std::string text = health ? reply(health_status_, "ok") : reply(200, name_);
  (health ? health_checks_ : requests_)++;
  [[maybe_unused]] auto sent = ::send(connection.fd, text.data(), text.size(), MSG_NOSIGNAL);
}

} // namespace corral::test

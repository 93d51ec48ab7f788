#include "continue_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdlib>

#include <fmt/format.h>

#include "tests/support/wait.h"

namespace corral::test {
namespace {

constexpr auto kPollStep = 50ms; // how often the thread looks at stop_ while it waits

// Reads into `into` until `done(into)` or the peer closes or `stop` is set; false unless done.
template <class Done>
bool readUntil(int fd, std::string& into, const std::atomic<bool>& stop, Done done) {
  std::array<char, 4096> buffer;
  while (!done(into) && !stop) {
    pollfd entry{.fd = fd, .events = POLLIN};
    if (::poll(&entry, 1, static_cast<int>(kPollStep.count())) != 1) {
      continue;
    }
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n <= 0) {
      return false;
    }
    into.append(buffer.data(), static_cast<size_t>(n));
  }
  return done(into);
}

// The body length from "Content-Length: N" in `head` (the test's own requests spell it so).
size_t contentLength(const std::string& head) {
  const size_t at = head.find("Content-Length: ");
  return at == std::string::npos ? 0 : std::strtoul(head.c_str() + at + 16, nullptr, 10);
}

void sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

} // namespace

ContinueServer::ContinueServer(bool together) : together_(together) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  socklen_t length = sizeof(local);
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      ::listen(listener_, 4) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
    throwSystemError("ContinueServer: listen");
  }
  address_ = fmt::format("127.0.0.1:{}", ntohs(local.sin_port));
  thread_ = std::thread([this] { serve(); });
}

ContinueServer::~ContinueServer() {
  stop_ = true;
  thread_.join();
  ::close(listener_);
}

std::string ContinueServer::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

void ContinueServer::serve() {
  pollfd entry{.fd = listener_, .events = POLLIN};
  while (!stop_ && ::poll(&entry, 1, static_cast<int>(kPollStep.count())) != 1) {
  }
  const int fd = stop_ ? -1 : ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    return;
  }
  std::string request;
  const auto head_done = [](const std::string& in) { return in.find("\r\n\r\n") != in.npos; };
  if (readUntil(fd, request, stop_, head_done)) {
    const size_t whole = request.find("\r\n\r\n") + 4 + contentLength(request);
    const auto body_done = [whole](const std::string& in) { return in.size() >= whole; };
    const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
    if (!together_) {
      sendAll(fd, interim);
    }
    if (readUntil(fd, request, stop_, body_done)) {
      const std::string body = request.substr(whole - contentLength(request));
      const std::string final_head =
          fmt::format("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.size());
      sendAll(fd, (together_ ? interim : "") + final_head + body);
    }
  }
  {
    std::lock_guard lock(mutex_);
    received_ = request;
  }
  ::close(fd);
}

} // namespace corral::test

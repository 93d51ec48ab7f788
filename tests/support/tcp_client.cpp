#include "tests/support/tcp_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "corral/core/address.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

constexpr size_t kReadChunk = 64 * 1024;

std::string describeErrno(std::string_view what, int error) {
  return fmt::format("{}: {}", what, std::generic_category().message(error));
}

} // namespace

std::ostream& operator<<(std::ostream& out, Closure closure) {
  switch (closure) {
  case Closure::Open: return out << "open";
  case Closure::Eof: return out << "EOF";
  case Closure::Reset: return out << "reset";
  }
  return out;
}

TcpClient::TcpClient(std::string_view address, std::chrono::milliseconds connect_timeout)
    : TcpClient(address, connect_timeout, 0) {}

TcpClient::TcpClient(std::string_view address, std::chrono::milliseconds connect_timeout,
                     int receive_buffer) {
  connectTo(address, connect_timeout, receive_buffer);
  if (!error_.empty() && fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

TcpClient::TcpClient(TcpClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), error_(std::move(other.error_)), refused_(other.refused_),
      received_(std::move(other.received_)), closure_(other.closure_) {}

TcpClient::~TcpClient() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void TcpClient::connectTo(std::string_view address, std::chrono::milliseconds timeout,
                          int receive_buffer) {
  auto target = SocketAddress::parse(address);
  if (!target) {
    error_ = fmt::format("bad address \"{}\": {}", address, target.error().message);
    return;
  }
  fd_ = ::socket(target->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    throwSystemError("TcpClient: socket");
  }
  if (receive_buffer > 0) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  }
  if (::connect(fd_, target->get(), target->length()) != 0 && errno != EINPROGRESS) {
    refused_ = errno == ECONNREFUSED;
    error_ = describeErrno(fmt::format("connect to {}", address), errno);
    return;
  }
  short revents = 0;
  if (waitFor(POLLOUT, Clock::now() + timeout, revents) != Wait::Ready) {
    error_ = fmt::format("connect to {}: no answer within {} ms", address, timeout.count());
    return;
  }
  int so_error = 0;
  socklen_t length = sizeof(so_error);
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &length);
  if (so_error != 0) {
    refused_ = so_error == ECONNREFUSED;
    error_ = describeErrno(fmt::format("connect to {}", address), so_error);
  }
}

TcpClient::Wait TcpClient::waitFor(short events, Clock::time_point deadline, short& revents) {
  pollfd entry{.fd = fd_, .events = events};
  while (true) {
    int ready = ::poll(&entry, 1, millisecondsUntil(deadline));
    if (ready > 0) {
      revents = entry.revents;
      return Wait::Ready;
    }
    if (ready == 0) {
      return Wait::Timeout;
    }
    if (errno != EINTR) {
      error_ = describeErrno("poll", errno);
      return Wait::Failed;
    }
  }
}

bool TcpClient::receiveOnce() {
  std::array<char, kReadChunk> buffer;
  ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
  if (n > 0) {
    received_.append(buffer.data(), static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    return true;
  }
  closure_ = (n == 0) ? Closure::Eof : Closure::Reset;
  return false;
}

bool TcpClient::writeUntil(std::string_view data, Clock::time_point deadline) {
  size_t offset = 0;
  while (offset < data.size()) {
    short revents = 0;
    const short events = POLLOUT | (closure_ == Closure::Open ? POLLIN : 0);
    if (waitFor(events, deadline, revents) != Wait::Ready) {
      error_ = fmt::format("write: {} of {} bytes written before the deadline", offset, data.size());
      return false;
    }
    if ((revents & (POLLIN | POLLHUP | POLLERR)) && closure_ == Closure::Open) {
      receiveOnce(); // keeps what arrives; the peer closing does not stop the write by itself
    }
    if (revents & (POLLOUT | POLLERR)) {
      ssize_t n = ::send(fd_, data.data() + offset, data.size() - offset, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        error_ = describeErrno(fmt::format("write after {} bytes", offset), errno);
        return false;
      }
      offset += static_cast<size_t>(std::max<ssize_t>(n, 0));
    }
  }
  return true;
}

bool TcpClient::writeAll(std::string_view data, std::chrono::milliseconds timeout) {
  return fd_ >= 0 && writeUntil(data, Clock::now() + timeout);
}

bool TcpClient::writePattern(uint64_t seed, uint64_t size, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  PatternStream pattern(seed);
  std::vector<char> chunk(kReadChunk);
  for (uint64_t written = 0; written < size; written += chunk.size()) {
    chunk.resize(std::min<uint64_t>(kReadChunk, size - written));
    pattern.fill(chunk);
    if (fd_ < 0 || !writeUntil(std::string_view(chunk.data(), chunk.size()), deadline)) {
      return false;
    }
  }
  return true;
}

void TcpClient::shutdownWrite() { ::shutdown(fd_, SHUT_WR); }

void TcpClient::resetAbruptly() {
  linger no_linger{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &no_linger, sizeof(no_linger));
  ::close(fd_);
  fd_ = -1;
}

std::string TcpClient::readSome(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  short revents = 0;
  while (fd_ >= 0 && received_.empty() && closure_ == Closure::Open &&
         waitFor(POLLIN, deadline, revents) == Wait::Ready) {
    receiveOnce();
  }
  return std::exchange(received_, {});
}

std::string TcpClient::readExactly(size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  short revents = 0;
  while (fd_ >= 0 && received_.size() < n && closure_ == Closure::Open &&
         waitFor(POLLIN, deadline, revents) == Wait::Ready) {
    receiveOnce();
  }
  std::string result = received_.substr(0, n);
  received_.erase(0, result.size());
  return result;
}

std::string TcpClient::readAll(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  short revents = 0;
  while (fd_ >= 0 && closure_ == Closure::Open &&
         waitFor(POLLIN, deadline, revents) == Wait::Ready) {
    receiveOnce();
  }
  return std::exchange(received_, {});
}

Digest TcpClient::readDigest(std::chrono::milliseconds timeout, uint64_t limit, Digest so_far) {
  const auto deadline = Clock::now() + timeout;
  Digest digest = so_far;
  short revents = 0;
  while (true) {
    const uint64_t wanted = limit > digest.count ? limit - digest.count : 0;
    const auto take = static_cast<size_t>(std::min<uint64_t>(received_.size(), wanted));
    digest.update(std::span(received_.data(), take));
    received_.erase(0, take);
    if (digest.count >= limit || fd_ < 0 || closure_ != Closure::Open ||
        waitFor(POLLIN, deadline, revents) != Wait::Ready) {
      return digest;
    }
    receiveOnce();
  }
}

bool echoes(TcpClient& client, std::string_view text) {
  return client.writeAll(text) && client.readExactly(text.size(), 5s) == text;
}

} // namespace corral::test

#include "tests/support/fake_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "tests/support/wait.h"

namespace corral::test {
namespace {

constexpr size_t kChunk = 64 * 1024;
// Echo stops reading while this much is waiting to go back, so a peer that does not read
// throttles the echo instead of growing it without bound.
constexpr size_t kEchoBacklogLimit = 1024 * 1024;
// Writes per poll round on one connection: enough to keep a fast peer busy, few enough that one
// big transfer does not starve the others.
constexpr int kWritesPerRound = 16;

int listenOnLoopback(std::string& address) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throwSystemError("FakeBackend: socket");
  }
  sockaddr_in local{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  socklen_t length = sizeof(local);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      ::listen(fd, SOMAXCONN) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
    throwSystemError("FakeBackend: bind/listen");
  }
  address = fmt::format("127.0.0.1:{}", ntohs(local.sin_port));
  return fd;
}

} // namespace

struct FakeBackend::Connection {
  int fd = -1;
  std::string outgoing; // bytes not yet written, from outgoing_offset on
  size_t outgoing_offset = 0;
  uint64_t source_left = 0;
  PatternStream source{0};
  bool peer_closed = false;  // read the peer's FIN
  bool write_closed = false; // sent our FIN
  bool close_when_written = false;
  std::chrono::steady_clock::time_point answer_at; // HoldThenName: when to send the name
  bool held = false;
  FinishedConnection record;

  size_t pending() const { return outgoing.size() - outgoing_offset; }
  bool hasToWrite() const { return !write_closed && (pending() > 0 || source_left > 0); }
};

FakeBackend::FakeBackend(std::string name, FakeBackendOptions options)
    : name_(std::move(name)), options_(options) {
  listener_ = listenOnLoopback(address_);
  wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_ < 0) {
    throwSystemError("FakeBackend: eventfd");
  }
  thread_ = std::thread([this] { run(); });
}

FakeBackend::~FakeBackend() {
  uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wake_, &one, sizeof(one));
  thread_.join();
  for (auto& connection : connections_) {
    ::close(connection.fd);
  }
  ::close(listener_);
  ::close(wake_);
}

void FakeBackend::run() {
  std::vector<pollfd> fds;
  while (true) {
    fds.assign({{.fd = wake_, .events = POLLIN}, {.fd = listener_, .events = POLLIN}});
    bool any_to_write = false;
    for (const auto& connection : connections_) {
      const bool wants_read = !connection.peer_closed &&
          (options_.mode != BackendMode::Echo || connection.pending() < kEchoBacklogLimit);
      const short events = (wants_read ? POLLIN : 0) | (connection.hasToWrite() ? POLLOUT : 0);
      any_to_write = any_to_write || connection.hasToWrite();
      fds.push_back({.fd = connection.fd, .events = events});
    }
    has_to_write_ = any_to_write;
    if (::poll(fds.data(), fds.size(), releaseHeld()) < 0 && errno != EINTR) {
      throwSystemError("FakeBackend: poll");
    }
    if (fds[0].revents != 0) {
      return;
    }
    // Serve before accepting, while fds[i + 2] still lines up with connections_[i].
    for (size_t i = 0; i < connections_.size(); ++i) {
      if (fds[i + 2].revents != 0 && !serve(connections_[i], fds[i + 2].revents)) {
        connections_[i].fd = -1;
      }
    }
    std::erase_if(connections_, [](const Connection& c) { return c.fd < 0; });
    releaseHeld();
    if (fds[1].revents != 0) {
      acceptAll();
    }
  }
}

void FakeBackend::acceptAll() {
  while (true) {
    int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      return; // EAGAIN: the queue is empty; anything else: the peer gave up before we got to it
    }
    Connection connection{.fd = fd};
    if (options_.mode == BackendMode::NameThenClose) {
      connection.outgoing = name_;
      connection.close_when_written = true;
    } else if (options_.mode == BackendMode::Source) {
      connection.source_left = options_.source_bytes;
      connection.source = PatternStream(options_.seed);
    } else if (options_.mode == BackendMode::HoldThenName) {
      connection.held = true;
      connection.answer_at = std::chrono::steady_clock::now() + options_.hold;
    }
    connections_.push_back(std::move(connection));
    ++accepted_;
    const int open = ++open_;
    int most = most_open_.load();
    while (open > most && !most_open_.compare_exchange_weak(most, open)) {
    }
  }
}

int FakeBackend::releaseHeld() {
  const auto now = std::chrono::steady_clock::now();
  int wait_ms = -1;
  for (auto& connection : connections_) {
    if (!connection.held) {
      continue;
    }
    if (connection.answer_at <= now) {
      connection.held = false;
      connection.outgoing = name_;
      connection.close_when_written = true;
      wait_ms = 0; // poll at once: the name goes out on the next round
      continue;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(connection.answer_at - now);
    wait_ms = wait_ms < 0 ? static_cast<int>(left.count())
                          : std::min(wait_ms, static_cast<int>(left.count()));
  }
  return wait_ms;
}

bool FakeBackend::serve(Connection& connection, short revents) {
  if ((revents & (POLLIN | POLLHUP | POLLERR)) && !connection.peer_closed &&
      !onReadable(connection)) {
    return false;
  }
  if ((revents & (POLLOUT | POLLERR)) && connection.hasToWrite() && !onWritable(connection)) {
    return false;
  }
  if (connection.hasToWrite()) {
    return true;
  }
  const bool sends_fin = options_.mode == BackendMode::Echo || options_.mode == BackendMode::Source;
  if (connection.close_when_written) {
    finish(connection, false);
    return false;
  }
  if (sends_fin && !connection.write_closed &&
      (connection.peer_closed || options_.mode == BackendMode::Source)) {
    ::shutdown(connection.fd, SHUT_WR);
    connection.write_closed = true;
  }
  if (connection.peer_closed && (connection.write_closed || !sends_fin)) {
    finish(connection, false);
    return false;
  }
  return true;
}

bool FakeBackend::onReadable(Connection& connection) {
  std::array<char, kChunk> buffer;
  ssize_t n = ::recv(connection.fd, buffer.data(), buffer.size(), 0);
  if (n > 0) {
    connection.record.received.update(std::span(buffer.data(), static_cast<size_t>(n)));
    if (options_.mode == BackendMode::Echo) {
      connection.outgoing.append(buffer.data(), static_cast<size_t>(n));
    }
    return true;
  }
  if (n == 0) {
    connection.peer_closed = true;
    if (options_.mode == BackendMode::Sink) {
      const auto& digest = connection.record.received;
      connection.outgoing = fmt::format("{} {:x}\n", digest.count, digest.fnv);
      connection.close_when_written = true;
    }
    return true;
  }
  if (errno == EAGAIN || errno == EINTR) {
    return true;
  }
  finish(connection, true);
  return false;
}

bool FakeBackend::onWritable(Connection& connection) {
  for (int round = 0; round < kWritesPerRound && connection.hasToWrite(); ++round) {
    if (connection.pending() == 0) { // refill from the pattern, one chunk at a time
      connection.outgoing.resize(std::min<uint64_t>(kChunk, connection.source_left));
      connection.outgoing_offset = 0;
      connection.source.fill(connection.outgoing);
      connection.source_left -= connection.outgoing.size();
    }
    ssize_t n = ::send(connection.fd, connection.outgoing.data() + connection.outgoing_offset,
                       connection.pending(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return true;
      }
      finish(connection, true);
      return false;
    }
    connection.outgoing_offset += static_cast<size_t>(n);
    connection.record.sent += static_cast<uint64_t>(n);
    bytes_sent_ += static_cast<uint64_t>(n);
  }
  if (connection.pending() == 0) {
    connection.outgoing.clear();
    connection.outgoing_offset = 0;
  }
  return true;
}

void FakeBackend::finish(Connection& connection, bool reset) {
  ::close(connection.fd);
  --open_;
  connection.record.reset = reset;
  std::lock_guard lock(mutex_);
  finished_.push_back(connection.record);
  finished_changed_.notify_all();
}

std::vector<FinishedConnection> FakeBackend::waitFinished(size_t count,
                                                          std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  finished_changed_.wait_for(lock, timeout, [&] { return finished_.size() >= count; });
  return finished_;
}

bool FakeBackend::waitUntilSendingStalls(std::chrono::milliseconds quiet,
                                         std::chrono::milliseconds timeout) {
  uint64_t last_sent = bytesSent();
  auto last_change = Clock::now();
  return pollUntil(
      [&] {
        const uint64_t sent = bytesSent();
        if (sent != last_sent) {
          last_sent = sent;
          last_change = Clock::now();
          return false;
        }
        // Still something to write, yet nothing written for `quiet`: poll() is waiting for room.
        return has_to_write_ && Clock::now() - last_change >= quiet;
      },
      timeout, 10ms);
}

} // namespace corral::test

#pragma once
// A server that says who it is and how it behaves, for integration tests. It listens on
// 127.0.0.1:0 and serves every connection from one thread of its own (non-blocking sockets and
// poll, no sleeps), and reports what it saw so that tests wait on facts rather than on time.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/byte_pattern.h"

namespace corral::test {

enum class BackendMode {
  NameThenClose, // writes its name, then closes
  Echo,          // echoes every byte; after the peer's FIN, echoes the rest and sends its own FIN
  Sink,          // reads to the peer's FIN, then replies "COUNT FNV-HEX\n" (see Digest) and closes
  Source,        // sends source_bytes of PatternStream(seed), sends FIN, reads until the peer's FIN
  Silent,        // reads and discards, never writes; closes after the peer's FIN
  HoldThenName,  // like NameThenClose, but holds each connection for `hold` first (a slow request)
};

struct FakeBackendOptions {
  BackendMode mode = BackendMode::NameThenClose;
  uint64_t source_bytes = 0; // Source only
  uint64_t seed = 1;         // Source only
  std::chrono::milliseconds hold{0}; // HoldThenName only
};

/// What one connection saw, recorded when it closed.
struct FinishedConnection {
  Digest received;
  uint64_t sent = 0;
  bool reset = false; // ended by an error (RST, EPIPE) rather than an orderly close
};

class FakeBackend {
public:
  explicit FakeBackend(std::string name, FakeBackendOptions options = {});
  ~FakeBackend();
  FakeBackend(const FakeBackend&) = delete;
  FakeBackend& operator=(const FakeBackend&) = delete;

  const std::string& name() const { return name_; }
  /// "127.0.0.1:PORT".
  const std::string& address() const { return address_; }
  int acceptedConnections() const { return accepted_.load(); }
  /// Connections open now, and the most that were ever open at once.
  int openConnections() const { return open_.load(); }
  int mostOpenAtOnce() const { return most_open_.load(); }
  /// Bytes written so far over all connections.
  uint64_t bytesSent() const { return bytes_sent_.load(); }

  /// Waits until `count` connections have closed; returns them all (fewer on timeout).
  std::vector<FinishedConnection> waitFinished(size_t count, std::chrono::milliseconds timeout);

  /// Waits until there is something left to send and bytesSent() has not moved for `quiet`: the
  /// socket is full because the peer stopped reading. False if the deadline passes first.
  bool waitUntilSendingStalls(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout);

private:
  struct Connection;

  void run();
  void acceptAll();
  bool serve(Connection& connection, short revents); // false once the connection is finished
  bool onReadable(Connection& connection);
  bool onWritable(Connection& connection);
  void finish(Connection& connection, bool reset);
  int releaseHeld(); // HoldThenName: answers the connections whose hold is over; ms to the next

  std::string name_;
  FakeBackendOptions options_;
  int listener_ = -1;
  int wake_ = -1; // eventfd: the destructor asks the thread to stop
  std::string address_;
  std::atomic<int> accepted_ = 0;
  std::atomic<int> open_ = 0;
  std::atomic<int> most_open_ = 0;
  std::atomic<uint64_t> bytes_sent_ = 0;
  std::atomic<bool> has_to_write_ = false; // some connection waits for room to write
  std::vector<Connection> connections_; // the thread's own
  std::mutex mutex_;
  std::condition_variable finished_changed_;
  std::vector<FinishedConnection> finished_;
  std::thread thread_;
};

} // namespace corral::test

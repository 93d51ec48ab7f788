#pragma once
// Counters that workers bump on the connection path and the metrics collector sums at scrape time.
// Each worker writes only its own cell (a relaxed load and store: no lock, no read-modify-write,
// no shared cache line); readers on other threads sum the cells. Cells live in the stats objects
// that a reload carries over, so counters never jump back.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace corral::runtime {

/// A counter with a single writer thread.
class Counter {
public:
  void add(uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<uint64_t> value_{0};
};

/// One cell per worker, each on its own cache line.
template <class Cells>
class PerWorker {
public:
  explicit PerWorker(size_t workers) : cells_(new Padded[workers]), size_(workers) {}
  Cells& at(size_t worker) { return cells_[worker].cells; }
  const Cells& at(size_t worker) const { return cells_[worker].cells; }
  size_t size() const { return size_; }

private:
  struct alignas(64) Padded {
    Cells cells;
  };
  std::unique_ptr<Padded[]> cells_;
  size_t size_;
};

/// Latency histogram with fixed bounds from 100 µs to 10 s (then +Inf).
struct Histogram {
  static constexpr std::array<double, 16> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                      0.005,  0.01,    0.025,  0.05,  0.1,
                                                      0.25,   0.5,     1,      2.5,   5,  10};
  std::array<Counter, kBounds.size() + 1> buckets; // last: above every bound
  Counter count;
  Counter sum_microseconds;

  void observe(double seconds) {
    size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) {
      ++i;
    }
    buckets[i].add();
    count.add();
    sum_microseconds.add(static_cast<uint64_t>(seconds * 1e6));
  }
};

/// Why a connection was closed before reaching a backend; the metric's `reason` label, in order
/// (metrics/snapshot_collector.cpp).
enum class RejectReason {
  MaxConnections,
  NoServer,
  ProxyProtocol,
  Tls,
  Denied,         // allow/deny
  UntrustedProxy, // a PROXY header expected from a sender not in trusted_proxies
  ClientLimit,    // max_connections_per_client
  ClientRate,     // connection_rate_per_client
  BadRequest,     // sticky_cookie: a request head longer than max_header_size
  kCount
};
enum class StickyResult { Hit, Miss, Redispatch, Rejected, kCount };
/// balance: hash: the key's own server, no key (fallback), or passed over for load (bounded).
enum class HashResult { Hit, Fallback, Bounded, kCount };
enum class AcceptError { Emfile, Enfile, Enomem, Other, kCount };
enum class QueueRejection { Timeout, Full, kCount };

template <class E>
constexpr size_t count() {
  return static_cast<size_t>(E::kCount);
}

struct ServerCells {
  Counter connections;      // sessions that reached this server
  Counter bytes_in;         // client → server
  Counter bytes_out;        // server → client
  Counter connect_failures;
};

/// Failed TLS handshakes are counted by reason: one cell per tls::HandshakeFailure, in the order
/// of tls::kHandshakeFailures (the proxy checks the size against it at compile time).
inline constexpr size_t kTlsFailureReasons = 8;

struct FrontendCells {
  Counter connections;
  std::array<Counter, count<RejectReason>()> rejected;
  std::array<Counter, 4> tls_handshakes; // [ok|failed] x [new|resumed]
  std::array<Counter, kTlsFailureReasons> tls_failures;
};

struct BackendCells {
  Counter retries;
  std::array<Counter, count<StickyResult>()> sticky;
  std::array<Counter, count<QueueRejection>()> queue_rejections;
  std::array<Counter, count<HashResult>()> hash;
};

/// Per-worker counters that belong to no frontend or server.
struct WorkerCells {
  std::array<Counter, count<AcceptError>()> accept_errors;
  Histogram connect_duration;
  Histogram session_duration;
  Histogram queue_duration; // time spent in a backend's queue, by clients that left it
};

} // namespace corral::runtime

#pragma once
// The access log: one JSON line per finished session. Workers never write to a file descriptor
// themselves (stdout may be a slow pipe, a file may sit on a slow disk): each appends to its own
// buffer and hands full buffers over through one atomic pointer; a writer thread does the I/O.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "corral/core/error.h"

namespace corral::proxy {

/// One finished session, as its access-log line shows it. The views point into the session, its
/// snapshot and its SSL object; they need to live only until formatAccessLogLine() returns.
struct AccessLogEntry {
  std::chrono::system_clock::time_point time; // when the session closed
  uint64_t id = 0;
  std::string_view frontend;
  std::string_view client;    // "1.2.3.4:5678" or "[::1]:5678": address and port
  std::string_view backend;   // "" when the session ended before a backend was known
  std::string_view server;    // "" when no server was chosen
  std::string_view chosen_by; // "round_robin", "cookie", ...; "" when no server was chosen
  uint64_t bytes_in = 0;      // read from the client (towards the server)
  uint64_t bytes_out = 0;     // read from the server (towards the client)
  double connect_seconds = 0; // the successful connect to the server; 0 without one
  double duration_seconds = 0;
  std::string_view termination;
  // Only on TLS frontends; each key is left out when its value is empty.
  std::string_view tls_version; // terminated TLS whose handshake finished: "TLSv1.3"
  std::string_view sni;         // the server name the client sent (terminated or passthrough)
  std::string_view tls_error;   // why the client's handshake failed: "no_shared_cipher", ...
};

/// One JSON object on one line, without the newline. Example (tls_* and sni only when set):
/// {"time":"2024-05-01T12:34:56.789Z","id":"1f","frontend":"web","client":"127.0.0.1:50312",
///  "backend":"app","server":"s1","chosen_by":"round_robin","bytes_in":12,"bytes_out":2048,
///  "connect_ms":0.231,"duration_ms":15.112,"termination":"server_closed"}
std::string formatAccessLogLine(const AccessLogEntry& entry);


class AccessLog {
public:
  /// One per worker; used only by its worker thread, except handoff_.
  class Buffer {
  public:
    /// Appends one line (without newline). Lines beyond kMaxPending bytes waiting are dropped and
    /// counted, so a stuck log cannot grow a worker's memory without bound.
    void append(std::string_view line);
    /// Offers the local lines to the writer thread if it took the previous batch.
    void flush();
    uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  private:
    friend class AccessLog;
    static constexpr size_t kMaxPending = 8 << 20;
    std::string local_;
    std::atomic<std::string*> handoff_{nullptr};
    std::atomic<uint64_t> dropped_{0};
  };

  /// target: "stdout", "off" or a file path (opened for append).
  static Result<std::unique_ptr<AccessLog>> open(const std::string& target, size_t workers);
  ~AccessLog();

  /// On the thread that calls open() and retarget() (the control thread).
  bool enabled() const { return enabled_; }
  Buffer& buffer(size_t worker) { return *buffers_[worker]; }
  /// Reopens a file target (logrotate moved it away); no-op for stdout.
  void reopen();
  /// A reload changed `access_log`: opens `target` now (an error leaves the log as it was), and
  /// the writer thread moves to it after writing what it holds. The workers are told by Proxy.
  Result<void> retarget(const std::string& target);
  /// Writes everything still buffered; call after the workers have stopped.
  void finish();

private:
  AccessLog() = default;
  void writerLoop();
  void writeBatch(std::string& batch);
  void collect(bool include_local);
  /// "stdout", "off" (fd -1) or a file opened for append; `owned`: close() is ours.
  struct Target {
    std::string name;
    int fd = -1;
    bool owned = false;
  };
  static Result<Target> openTarget(const std::string& name);
  void switchTo(const Target& next);
  void reopenFile();

  // The writer thread's (set by open() before it starts).
  std::string target_;
  int fd_ = -1;
  bool owns_fd_ = false;
  bool enabled_ = false; // the control thread's
  std::vector<std::unique_ptr<Buffer>> buffers_;
  std::thread writer_;
  std::mutex mutex_; // guards stop_ and reopen_ for the writer thread only
  std::condition_variable wake_;
  bool stop_ = false;
  bool reopen_ = false;
  bool retarget_ = false; // next_*: a target retarget() opened for the writer
  std::string next_target_;
  int next_fd_ = -1;
  bool next_owned_ = false;
};

} // namespace corral::proxy

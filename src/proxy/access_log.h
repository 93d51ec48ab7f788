#pragma once
// The access log: one JSON line per finished session. Workers never write to a file descriptor
// themselves (stdout may be a slow pipe, a file may sit on a slow disk): each appends to its own
// buffer and hands full buffers over through one atomic pointer; a writer thread does the I/O.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "corral/core/error.h"

namespace corral::proxy {

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

  bool enabled() const { return fd_ >= 0; }
  Buffer& buffer(size_t worker) { return *buffers_[worker]; }
  /// Reopens a file target (logrotate moved it away); no-op for stdout.
  void reopen();
  /// Writes everything still buffered; call after the workers have stopped.
  void finish();

private:
  AccessLog() = default;
  void writerLoop();
  void writeBatch(std::string& batch);
  void collect(bool include_local);

  std::string target_;
  int fd_ = -1;
  bool owns_fd_ = false;
  std::vector<std::unique_ptr<Buffer>> buffers_;
  std::thread writer_;
  std::mutex mutex_; // guards stop_ and reopen_ for the writer thread only
  std::condition_variable wake_;
  bool stop_ = false;
  bool reopen_ = false;
};

} // namespace corral::proxy

#pragma once
// Per-worker pools for the relay. A session holds a buffer only while bytes it read could not be
// written through at once, and a pipe only while spliced bytes wait in it: an idle session holds
// neither. Free lists are LIFO (the buffer given back last is the one still in cache) and capped,
// so that a burst does not pin memory for ever. One worker thread uses a pool: no locks.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace corral::proxy {

/// Bytes read from one side that wait for the other: [begin, end) of a fixed array.
struct Buffer {
  static constexpr uint32_t kCapacity = 64 * 1024;

  uint32_t begin = 0;
  uint32_t end = 0;
  // On a cache line of its own: the kernel copies every relayed byte in and out of here, and its
  // copy runs faster to and from an aligned address.
  alignas(64) char bytes[kCapacity];

  size_t size() const { return end - begin; }
  bool empty() const { return begin == end; }
  char* data() { return bytes + begin; }
  const char* data() const { return bytes + begin; }
  char* space() { return bytes + end; }
  size_t room() const { return kCapacity - end; }
  void commit(size_t n) { end += static_cast<uint32_t>(n); }
  void consume(size_t n) {
    begin += static_cast<uint32_t>(n);
    if (begin == end) {
      begin = end = 0;
    }
  }
};

class BufferPool {
public:
  BufferPool() = default;
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  /// An empty buffer.
  Buffer* take();
  /// Takes `buffer` back (nullptr is fine).
  void give(Buffer* buffer);
  size_t inUse() const { return in_use_; }

private:
  static constexpr size_t kMaxFree = 64; // 4 MiB per worker kept warm at most
  std::vector<Buffer*> free_;
  size_t in_use_ = 0;
};

/// The two ends of a non-blocking pipe, for splice(2).
struct Pipe {
  int read_fd = -1;
  int write_fd = -1;
  explicit operator bool() const { return read_fd >= 0; }
};

class PipePool {
public:
  /// Bytes a pipe holds (F_SETPIPE_SZ): a spliced direction moves up to this much per call, and
  /// it is that direction's backpressure bound.
  static constexpr int kPipeSize = 256 * 1024;

  PipePool() = default;
  ~PipePool();
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  /// A pipe, or an empty Pipe when none can be made (out of descriptors): copy instead.
  Pipe take();
  /// Takes an empty pipe back.
  void give(Pipe& pipe);
  /// Closes a pipe that still holds bytes nobody will read.
  void discard(Pipe& pipe);
  size_t inUse() const { return in_use_; }

private:
  static void close(Pipe& pipe);

  static constexpr size_t kMaxFree = 32; // descriptors are precious under max_connections
  std::vector<Pipe> free_;
  size_t in_use_ = 0;
};

} // namespace corral::proxy

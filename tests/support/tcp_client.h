#pragma once
// A TCP client for tests: every operation takes a deadline, so a test that goes wrong fails with a
// message instead of hanging. While it writes, the client also reads whatever arrives into its own
// buffer, so a test can write a lot to an echo server without both sides blocking on full buffers.

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "tests/support/byte_pattern.h"

namespace corral::test {

using namespace std::chrono_literals;

/// How the peer's side of the connection ended, as far as the client has seen.
enum class Closure { Open, Eof, Reset };
std::ostream& operator<<(std::ostream& out, Closure closure);

class TcpClient {
public:
  /// Connects to "127.0.0.1:PORT"; on failure connected() is false and error() says why.
  explicit TcpClient(std::string_view address, std::chrono::milliseconds connect_timeout = 2s);
  /// Also sets SO_RCVBUF before connecting: a small window keeps what the client has not read
  /// queued in the proxy rather than in the kernel.
  TcpClient(std::string_view address, std::chrono::milliseconds connect_timeout, int receive_buffer);
  ~TcpClient();
  TcpClient(TcpClient&& other) noexcept;
  TcpClient& operator=(TcpClient&&) = delete;
  TcpClient(const TcpClient&) = delete;

  bool connected() const { return fd_ >= 0 && error_.empty(); }
  const std::string& error() const { return error_; }
  /// The connect was answered with RST (ECONNREFUSED): nothing listens there.
  bool refused() const { return refused_; }
  Closure closure() const { return closure_; }

  /// False if the deadline passed or the connection failed first (see error()).
  bool writeAll(std::string_view data, std::chrono::milliseconds timeout = 5s);
  /// Writes the first `size` bytes of PatternStream(seed).
  bool writePattern(uint64_t seed, uint64_t size, std::chrono::milliseconds timeout);
  void shutdownWrite();
  /// Closes with SO_LINGER 0, so the peer gets RST instead of FIN.
  void resetAbruptly();

  /// Whatever is available once at least one byte has arrived; "" on EOF, reset or timeout.
  std::string readSome(std::chrono::milliseconds timeout);
  /// Exactly n bytes, or fewer if the connection ends or the deadline passes first.
  std::string readExactly(size_t n, std::chrono::milliseconds timeout);
  /// Everything until the peer closes (see closure()) or the deadline passes.
  std::string readAll(std::chrono::milliseconds timeout);
  /// Like readAll(), but folds the bytes into a digest instead of keeping them; stops early once
  /// the digest counts `limit` bytes. Pass the result back as `so_far` to go on reading.
  Digest readDigest(std::chrono::milliseconds timeout, uint64_t limit = UINT64_MAX,
                    Digest so_far = {});

private:
  enum class Wait { Ready, Timeout, Failed };
  // Reads once into received_ (or returns false at EOF, reset or error).
  bool receiveOnce();
  Wait waitFor(short events, std::chrono::steady_clock::time_point deadline, short& revents);
  void connectTo(std::string_view address, std::chrono::milliseconds timeout, int receive_buffer);
  bool writeUntil(std::string_view data, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string error_;
  bool refused_ = false;
  std::string received_; // read while writing, not yet handed out
  Closure closure_ = Closure::Open;
};

/// Writes `text` and reads it back from an echoing peer within 5 s; true when it came back whole.
bool echoes(TcpClient& client, std::string_view text);

} // namespace corral::test

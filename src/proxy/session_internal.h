#pragma once
// Settings and helpers shared by the files that implement Session (session*.cpp).

#include <sys/time.h>

#include <event2/buffer.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "corral/runtime/stats.h"

namespace corral::proxy {

// A direction stops reading once this much waits to be written to the other side, and resumes
// below the low mark: a slow reader throttles a fast writer and a session holds at most about
// 2 x (kHighWatermark + kMaxSingleRead) bytes.
inline constexpr size_t kHighWatermark = 256 * 1024;
inline constexpr size_t kLowWatermark = 64 * 1024;
inline constexpr size_t kMaxSingleRead = 64 * 1024; // libevent reads 4 KiB at a time by default

// The preamble (PROXY header, TLS handshake, passthrough ClientHello) happens before anything is
// relayed, and an unauthenticated client should not hold a connection open for a whole
// client_timeout doing it: each step gets the frontend's client_timeout, at most this long.
inline constexpr std::chrono::milliseconds kMaxPreambleTimeout{10'000};

inline timeval toTimeval(std::chrono::milliseconds ms) {
  return {static_cast<time_t>(ms.count() / 1000),
          static_cast<suseconds_t>(ms.count() % 1000 * 1000)};
}

constexpr size_t rejectIndex(runtime::RejectReason reason) { return static_cast<size_t>(reason); }

/// The first `limit` bytes of `buffer` (fewer if it holds less) as one contiguous view.
inline std::string_view pullup(evbuffer* buffer, size_t limit) {
  const size_t length = std::min(evbuffer_get_length(buffer), limit);
  const auto* bytes =
      reinterpret_cast<const char*>(evbuffer_pullup(buffer, static_cast<ssize_t>(length)));
  return {bytes, length};
}

} // namespace corral::proxy

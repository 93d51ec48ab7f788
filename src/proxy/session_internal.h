#pragma once
// Settings and helpers shared by the files that implement Session (session*.cpp).

#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "corral/config/config.h"
#include "corral/protocol/http_request_head.h"
#include "corral/runtime/stats.h"

namespace corral::proxy {

// Room kept free behind a response head that is to get a Set-Cookie, so that the header fits even
// when the server's first read filled the rest of the buffer.
inline constexpr size_t kCookieRoom = 4 * 1024;

// The preamble (PROXY header, TLS handshake, passthrough ClientHello) happens before anything is
// relayed, and an unauthenticated client should not hold a connection open for a whole
// client_timeout doing it: each step gets the frontend's client_timeout, at most this long.
inline constexpr std::chrono::milliseconds kMaxPreambleTimeout{10'000};

inline timeval toTimeval(std::chrono::milliseconds ms) {
  return {static_cast<time_t>(ms.count() / 1000),
          static_cast<suseconds_t>(ms.count() % 1000 * 1000)};
}

/// balance: hash with an HTTP key source: the key's value in the first request head, parsed with
/// requestHeadHeader() collected; nullopt when the request does not carry it (or carries it empty).
std::optional<std::string_view> requestKey(const config::HashConfig& hash,
                                           const protocol::RequestHead& head);

constexpr size_t rejectIndex(runtime::RejectReason reason) { return static_cast<size_t>(reason); }

} // namespace corral::proxy

#pragma once
// The head of the first HTTP/1.x request on a connection, read in cookie mode (DESIGN.md: sticky
// cookie) to find the sticky cookie before a server is picked. The caller relays every byte it read,
// head included, to the chosen server: nothing is rewritten.

#include <cstddef>
#include <string_view>
#include <vector>

#include "corral/protocol/parsed.h"

namespace corral::protocol {

struct RequestHead {
  size_t size = 0;                              // bytes of the head, up to and including the blank line
  std::vector<std::string_view> cookie_headers; // each Cookie header's value, in order; views into the input
};

/// Parses the request line and headers at the start of `bytes`.
/// NeedMore while the head is incomplete and shorter than `max_head_size`; Bad as soon as the bytes
/// cannot be an HTTP/1.x request (garbage, TLS, HTTP/2 preface, bad header syntax), when the head
/// does not end within `max_head_size` bytes, or when a Cookie header is folded (obs-fold,
/// RFC 7230 §3.2.4). Bare LF line ends are accepted. Bytes after the head (a body, a pipelined
/// request) are ignored.
Parsed<RequestHead> parseRequestHead(std::string_view bytes, size_t max_head_size);

} // namespace corral::protocol

#pragma once
// The head of the first HTTP/1.x request on a connection, read in cookie mode (DESIGN.md: sticky
// cookie) to find the sticky cookie before a server is picked. The caller relays every byte it read,
// head included, to the chosen server: nothing is rewritten.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "corral/protocol/parsed.h"

namespace corral::protocol {

struct RequestHead {
  size_t size = 0;                              // bytes of the head, up to and including the blank line
  std::vector<std::string_view> header_values; // each value of the header asked for (Cookie by
                                               // default), in order; views into the input
  std::string_view target;                     // the request-target ("/a/b?x=1"), a view too
};

/// Parses the request line and headers at the start of `bytes`.
/// NeedMore while the head is incomplete and shorter than `max_head_size`; Bad as soon as the bytes
/// cannot be an HTTP/1.x request (garbage, TLS, HTTP/2 preface, bad header syntax), when the head
/// does not end within `max_head_size` bytes, or when a Cookie header is folded (obs-fold,
/// RFC 7230 §3.2.4). Bare LF line ends are accepted. Bytes after the head (a body, a pipelined
/// request) are ignored. `header` names the header whose values are collected (folded: Bad).
Parsed<RequestHead> parseRequestHead(std::string_view bytes, size_t max_head_size,
                                     std::string_view header = "Cookie");

/// The value of the first `name` parameter in the query of `target` ("/p?a=1&b=2"), as sent (not
/// percent-decoded); nullopt when absent or empty.
std::optional<std::string_view> queryParameter(std::string_view target, std::string_view name);

/// The first `segments` segments of the path of `target`: "/t/42" for "/t/42/x?y" and 2. An
/// absolute-form target ("http://host/t/42") counts from its path. Fewer segments give the whole
/// path; a path without any ("/", "*") gives nullopt.
std::optional<std::string_view> pathPrefix(std::string_view target, uint32_t segments);

} // namespace corral::protocol

#pragma once
// Insertion of corral's Set-Cookie header into the first final response head a server sends
// (DESIGN.md: sticky cookie). Every other byte is relayed untouched.

#include <cstddef>
#include <string>
#include <string_view>

#include "corral/protocol/parsed.h"

namespace corral::protocol {

struct ResponseHead {
  std::string bytes;  // what to send to the client in place of the first `consumed` input bytes
  size_t consumed = 0; // length of the head in the input; relay the bytes after it unchanged
  int status = 0;
  // false for a 1xx interim head (100 Continue, 103 Early Hints): it is passed through unchanged
  // and the caller calls again with the bytes after it, since the final head follows. 101
  // Switching Protocols counts as final: no HTTP head follows it on the connection.
  bool final = false;
};

/// Reads the response head at the start of `bytes` and, when it is final, returns it with
/// "Set-Cookie: <set_cookie_value>" inserted as the last header, just before the blank line, using
/// the head's own line ending. Existing Set-Cookie headers, framing headers and the version are kept
/// as they are. NeedMore until the blank line is seen within `max_head_size` bytes; Bad when the
/// bytes are not an HTTP/1.x response head or the head is longer than that.
/// `set_cookie_value` comes from formatSetCookie() and holds no CR or LF.
Parsed<ResponseHead> insertSetCookie(std::string_view bytes, std::string_view set_cookie_value,
                                     size_t max_head_size);

} // namespace corral::protocol

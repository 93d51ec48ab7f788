#pragma once
// The status line of an HTTP check's response: all an http check needs (DESIGN.md: "status in
// expect_status, body ignored"). Headers and body are never read.

#include <cstddef>
#include <string_view>

#include "corral/protocol/parsed.h"

namespace corral::health {

/// A status line must end within this many bytes; a server that sends more without a line end is
/// not speaking HTTP, and reading on would let it make the checker buffer without bound.
constexpr size_t kMaxStatusLine = 4096;

/// Reads "HTTP/1.x NNN reason\r\n" at the start of `bytes` and returns the status code. NeedMore
/// until a line end is seen; Bad when the bytes cannot start an HTTP/1.x status line or no line
/// end comes within kMaxStatusLine bytes.
protocol::Parsed<int> parseStatusLine(std::string_view bytes);

} // namespace corral::health

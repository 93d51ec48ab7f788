#pragma once
// The status line of an HTTP response: all an http health check needs (DESIGN.md: "status in
// expect_status, body ignored"). Headers and body are never read. The bytes come from the network
// (a checked server), so this is a parser of outside input with its fuzz target
// (tests/fuzz/fuzz_status_line.cpp). Avoids <expected> for the same reason as parsed.h.

#include <cstddef>
#include <string_view>

#include "corral/protocol/parsed.h"

namespace corral::protocol {

/// A status line must end within this many bytes; a server that sends more without a line end is
/// not speaking HTTP, and reading on would let it make the checker buffer without bound.
constexpr size_t kMaxStatusLine = 4096;

/// Reads "HTTP/1.x NNN reason\r\n" at the start of `bytes` and returns the status code. NeedMore
/// until a line end is seen; Bad when the bytes cannot start an HTTP/1.x status line (Malformed)
/// or no line end comes within kMaxStatusLine bytes (TooLong).
Parsed<int> parseStatusLine(std::string_view bytes);

} // namespace corral::protocol

#include "corral/protocol/status_line.h"

#include <algorithm>

namespace corral::protocol {
namespace {

constexpr std::string_view kVersionPrefix = "HTTP/1.";

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// "HTTP/1.1 200 OK" (RFC 9112 §4): version, one space, three digits, then a space before the
// reason phrase, or nothing (some servers leave out both the reason and its space).
Parsed<int> parseCompleteLine(std::string_view line) {
  constexpr size_t kCodeAt = kVersionPrefix.size() + 2; // "HTTP/1.1 " is 9 bytes
  if (line.size() < kCodeAt + 3 || !isDigit(line[kVersionPrefix.size()]) ||
      line[kCodeAt - 1] != ' ') {
    return Parsed<int>::bad("not an HTTP/1.x status line");
  }
  const std::string_view code = line.substr(kCodeAt, 3);
  if (!std::all_of(code.begin(), code.end(), isDigit) ||
      (line.size() > kCodeAt + 3 && line[kCodeAt + 3] != ' ')) {
    return Parsed<int>::bad("expected a three-digit status code");
  }
  return Parsed<int>::done((code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0'));
}

} // namespace

Parsed<int> parseStatusLine(std::string_view bytes) {
  const size_t prefix = std::min(bytes.size(), kVersionPrefix.size());
  if (bytes.substr(0, prefix) != kVersionPrefix.substr(0, prefix)) {
    return Parsed<int>::bad("not an HTTP/1.x response");
  }
  const size_t end = bytes.find('\n');
  if (end == std::string_view::npos) {
    return bytes.size() >= kMaxStatusLine
               ? Parsed<int>::tooLong("no line end in the first 4096 bytes")
               : Parsed<int>::needMore();
  }
  if (end >= kMaxStatusLine) {
    return Parsed<int>::tooLong("no line end in the first 4096 bytes");
  }
  std::string_view line = bytes.substr(0, end);
  if (line.ends_with('\r')) {
    line.remove_suffix(1);
  }
  return parseCompleteLine(line);
}

} // namespace corral::protocol

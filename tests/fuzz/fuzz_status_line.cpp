// Fuzz target: parseStatusLine(), the first line of a health-checked server's reply. A status is
// three digits; a parse is decided by the first line alone and never by bytes after it; a line
// that needs more stays undecided for every shorter prefix.

#include <cstdint>
#include <string_view>

#include "corral/protocol/status_line.h"

#include "tests/fuzz/fuzz_check.h"

using namespace corral::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto parsed = parseStatusLine(bytes);
  FUZZ_CHECK(parsed.isBad() == !parsed.error.empty());
  FUZZ_CHECK(parsed.isBad() == (parsed.code != ParseError::None));
  if (parsed.isDone()) {
    FUZZ_CHECK(parsed.value >= 0 && parsed.value <= 999);
    const size_t end = bytes.find('\n');
    FUZZ_CHECK(end != std::string_view::npos && end < kMaxStatusLine);
    const auto line_only = parseStatusLine(bytes.substr(0, end + 1));
    FUZZ_CHECK(line_only.isDone() && line_only.value == parsed.value);
  }
  if (parsed.needsMore()) {
    FUZZ_CHECK(bytes.size() < kMaxStatusLine);
    FUZZ_CHECK(bytes.find('\n') == std::string_view::npos);
  }
  if (parsed.code == ParseError::TooLong) {
    FUZZ_CHECK(bytes.size() >= kMaxStatusLine);
  }
  return 0;
}

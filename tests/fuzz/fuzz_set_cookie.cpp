// Fuzz target: insertSetCookie(). Whatever the head, the output is the input head with exactly one
// line added before the blank line (final heads) or the input head itself (interim heads).

#include <cstdint>
#include <string>
#include <string_view>

#include "corral/protocol/http_response_head.h"
#include "tests/fuzz/fuzz_check.h"

using namespace corral::protocol;

namespace {

constexpr std::string_view kCookie = "C=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax";

void checkHead(std::string_view bytes, const ResponseHead& head) {
  FUZZ_CHECK(head.consumed > 0 && head.consumed <= bytes.size());
  const std::string_view input_head = bytes.substr(0, head.consumed);
  if (!head.final) {
    FUZZ_CHECK(head.bytes == input_head && head.status >= 100 && head.status < 200);
    return;
  }
  const bool crlf = input_head.ends_with("\r\n");
  const std::string line = "Set-Cookie: " + std::string(kCookie) + (crlf ? "\r\n" : "\n");
  const size_t blank = input_head.size() - (crlf ? 2 : 1);
  FUZZ_CHECK(head.bytes.size() == input_head.size() + line.size());
  FUZZ_CHECK(head.bytes.compare(0, blank, input_head, 0, blank) == 0);
  FUZZ_CHECK(head.bytes.compare(blank, line.size(), line) == 0);
  FUZZ_CHECK(head.bytes.compare(blank + line.size(), std::string::npos, input_head, blank) == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (int heads = 0; heads < 8; ++heads) { // interim heads, then the final one, as the proxy does
    const auto head = insertSetCookie(bytes, kCookie, 4096);
    FUZZ_CHECK(head.isBad() == !head.error.empty());
    if (!head.isDone()) {
      return 0;
    }
    checkHead(bytes, head.value);
    FUZZ_CHECK(insertSetCookie(bytes.substr(0, head.value.consumed - 1), kCookie, 4096).needsMore());
    if (head.value.final) {
      return 0;
    }
    bytes.remove_prefix(head.value.consumed);
  }
  return 0;
}

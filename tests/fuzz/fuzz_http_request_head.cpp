// Fuzz target: parseRequestHead() and findCookie() over the Cookie headers it finds, and the
// balance: hash key extraction from its request-target (queryParameter, pathPrefix).
// The first byte picks the head limit, so the limit check is fuzzed too.

#include <cstdint>
#include <optional>
#include <string_view>

#include "corral/protocol/cookie.h"
#include "corral/protocol/http_request_head.h"
#include "tests/fuzz/fuzz_check.h"

using namespace corral::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const size_t max_head_size = 16 + static_cast<size_t>(data[0]) * 64;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto head = parseRequestHead(bytes, max_head_size);
  FUZZ_CHECK(head.isBad() == !head.error.empty());
  if (!head.isDone()) {
    return 0;
  }
  const RequestHead& value = head.value;
  FUZZ_CHECK(value.size <= bytes.size() && value.size <= max_head_size);
  FUZZ_CHECK(bytes[value.size - 1] == '\n');
  for (const std::string_view cookie : value.header_values) { // views into the head
    FUZZ_CHECK(cookie.data() >= bytes.data() && cookie.end() <= bytes.data() + value.size);
  }
  const auto found = findCookie(value.header_values, "CORRAL");
  FUZZ_CHECK(!found || (found->data() >= bytes.data() && found->end() <= bytes.data() + value.size));
  // balance: hash keys are views into the request-target, itself a view into the head.
  const std::string_view target = value.target;
  FUZZ_CHECK(target.empty() || (target.data() >= bytes.data() && target.end() <= bytes.data() + value.size));
  const auto inside = [&](std::optional<std::string_view> key) {
    return !key || (!key->empty() && key->data() >= target.data() && key->end() <= target.end());
  };
  FUZZ_CHECK(inside(queryParameter(target, "room")));
  for (uint32_t segments = 1; segments <= 3; ++segments) {
    const auto prefix = pathPrefix(target, segments);
    FUZZ_CHECK(inside(prefix) && (!prefix || prefix->front() == '/'));
  }
  // Incremental use: the head alone reads the same, and one byte less asks for more.
  const auto alone = parseRequestHead(bytes.substr(0, value.size), max_head_size);
  FUZZ_CHECK(alone.isDone() && alone.value.size == value.size);
  FUZZ_CHECK(alone.value.header_values == value.header_values);
  FUZZ_CHECK(parseRequestHead(bytes.substr(0, value.size - 1), max_head_size).needsMore());
  return 0;
}

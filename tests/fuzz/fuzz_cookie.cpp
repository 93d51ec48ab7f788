// Fuzz target: findCookie() over arbitrary header values (the input split on '\n'), looking for the
// name given before the first '\n'.

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "corral/protocol/cookie.h"
#include "tests/fuzz/fuzz_check.h"

using namespace corral::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string_view name = bytes.substr(0, bytes.find('\n'));
  bytes.remove_prefix(std::min(bytes.size(), name.size() + 1));
  std::vector<std::string_view> headers;
  while (!bytes.empty()) {
    const size_t newline = bytes.find('\n');
    headers.push_back(bytes.substr(0, newline));
    bytes.remove_prefix(newline == std::string_view::npos ? bytes.size() : newline + 1);
  }
  const auto found = findCookie(headers, name);
  if (found) { // the value is a piece of one header, with no ';' in it
    FUZZ_CHECK(found->find(';') == std::string_view::npos);
    bool inside = false;
    for (const std::string_view header : headers) {
      inside = inside || (found->data() >= header.data() && found->end() <= header.end());
    }
    FUZZ_CHECK(inside);
  }
  return 0;
}

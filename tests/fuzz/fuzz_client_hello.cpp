// Fuzz target: parseClientHello(). A result, once Done, does not change when more bytes arrive
// (the proxy calls again after every read), and one byte less is never Bad.

#include <cstdint>
#include <string>
#include <string_view>

#include "corral/protocol/client_hello.h"
#include "tests/fuzz/fuzz_check.h"

using namespace corral::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto hello = parseClientHello(bytes);
  FUZZ_CHECK(hello.isBad() == !hello.error.empty());
  if (hello.isBad() || size == 0) {
    return 0;
  }
  // A prefix of bytes that are not (yet) Bad is not Bad either: errors are never premature.
  FUZZ_CHECK(!parseClientHello(bytes.substr(0, size - 1)).isBad());
  if (hello.isDone()) {
    FUZZ_CHECK(!hello.value.server_name || !hello.value.server_name->empty());
    FUZZ_CHECK(!hello.value.alpn || !hello.value.alpn->empty());
    const auto longer = parseClientHello(std::string(bytes) + "\x17\x03\x03");
    FUZZ_CHECK(longer.isDone() && longer.value.server_name == hello.value.server_name);
    FUZZ_CHECK(longer.value.alpn == hello.value.alpn);
  }
  return 0;
}

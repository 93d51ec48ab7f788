// Fuzz target: parseProxyHeader(). A header that reads as an address pair writes back (v2, and v1
// for one family) to bytes that read as the same pair.

#include <cstdint>
#include <string_view>

#include "corral/protocol/proxy_protocol.h"
#include "tests/fuzz/fuzz_check.h"

using namespace corral::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto header = parseProxyHeader(bytes);
  FUZZ_CHECK(header.isBad() == !header.error.empty());
  FUZZ_CHECK(header.isBad() == (header.code != ParseError::None));
  if (!header.isDone()) {
    return 0;
  }
  const ProxyHeader& value = header.value;
  FUZZ_CHECK(value.consumed > 0 && value.consumed <= bytes.size());
  FUZZ_CHECK(value.version == 1 ? value.consumed <= 107 : value.consumed >= 16);
  FUZZ_CHECK(value.source.has_value() == value.destination.has_value());
  FUZZ_CHECK(parseProxyHeader(bytes.substr(0, value.consumed - 1)).needsMore());
  if (!value.source) {
    return 0;
  }
  const auto again = parseProxyHeader(writeProxyV2(*value.source, *value.destination));
  FUZZ_CHECK(again.isDone() && again.value.source->toString() == value.source->toString());
  FUZZ_CHECK(again.value.destination->toString() == value.destination->toString());
  if (value.source->family() == value.destination->family()) {
    const auto text = parseProxyHeader(writeProxyV1(*value.source, *value.destination));
    FUZZ_CHECK(text.isDone() && text.value.source->toString() == value.source->toString());
  }
  return 0;
}

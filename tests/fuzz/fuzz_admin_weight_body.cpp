// Fuzz target: parseWeightBody(), the JSON body of POST /api/v1/servers/B/S/weight. Any bytes give
// either a weight within kMinWeight..kMaxWeight or an error; nlohmann::json never throws here.

#include <cstdint>
#include <string_view>

#include "corral/admin/control.h"

#include "admin/request_path.h"

#include "tests/fuzz/fuzz_check.h"

using namespace corral::admin;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto weight = parseWeightBody(body);
  if (weight) {
    FUZZ_CHECK(*weight >= kMinWeight && *weight <= kMaxWeight);
    FUZZ_CHECK(body.find("weight") != std::string_view::npos || body.find('\\') != body.npos);
  } else {
    FUZZ_CHECK(!weight.error().message.empty());
  }
  return 0;
}

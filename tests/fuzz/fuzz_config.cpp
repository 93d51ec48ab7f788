// Fuzz target: loadString(), the YAML configuration from bytes (what `corral check` and a SIGHUP
// reload read). Whatever the bytes, the loader returns a Config or at least one error, never
// throws, and names each error by a position inside the text (file:line:col).

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "corral/config/loader.h"

#include "tests/fuzz/fuzz_check.h"

using namespace corral::config;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  const auto loaded = loadString(yaml, "fuzz.yaml");
  if (loaded) {
    for (const Diagnostic& warning : loaded->warnings) {
      FUZZ_CHECK(warning.warning);
    }
    return 0;
  }
  FUZZ_CHECK(!loaded.error().empty());
  const auto lines = 1 + std::count(yaml.begin(), yaml.end(), '\n');
  for (const Diagnostic& diagnostic : loaded.error()) {
    FUZZ_CHECK(diagnostic.line >= 0 && diagnostic.line <= lines + 1);
    // Only a range: yaml-cpp's scanner errors after bytes it cannot read carry marks that are off
    // (corpus: escape_error_past_the_end, 1:19 of 17 bytes; escape_error_column_off, 1:300 for
    // an error on line 11), and those positions are yaml-cpp's own.
    FUZZ_CHECK(diagnostic.column >= 0);
    FUZZ_CHECK(!diagnostic.message.empty());
    FUZZ_CHECK(diagnostic.toString().starts_with("fuzz.yaml"));
  }
  return 0;
}

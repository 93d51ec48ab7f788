// Fuzz target: CookieSigner::verify(). Nothing is accepted but the exact text issue() gives for
// the server id and expiry it carries: a value cannot be forged or re-spelled.

#include <cstdint>
#include <string>
#include <string_view>

#include "corral/protocol/cookie_signer.h"
#include "tests/fuzz/fuzz_check.h"

using namespace corral::protocol;

namespace {
// The seeds in corpus/cookie_verify were issued with this key (see corpus/README).
const CookieSigner kSigner(std::string(32, 'k'), std::string(32, 'p'));
const CookieSigner kCurrentOnly(std::string(32, 'k'), std::nullopt);
const CookieSigner kPreviousOnly(std::string(32, 'p'), std::nullopt);
constexpr int64_t kNow = 1'700'000'000;
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  const auto server_id = kSigner.verify("app", value, kNow);
  if (!server_id) {
    return 0;
  }
  const size_t expiry_start = value.find('.') + 1;
  const std::string expiry(value.substr(expiry_start, value.rfind('.') - expiry_start));
  const int64_t expiry_unix = std::stoll(expiry);
  FUZZ_CHECK(expiry_unix > kNow);
  FUZZ_CHECK(kCurrentOnly.issue("app", *server_id, expiry_unix) == value ||
             kPreviousOnly.issue("app", *server_id, expiry_unix) == value);
  FUZZ_CHECK(!kSigner.verify("api", value, kNow)); // another backend
  return 0;
}

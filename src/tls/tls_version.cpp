#include "tls/tls_version.h"

#include <fmt/format.h>
#include <openssl/ssl.h>

namespace corral::tls {

Result<int> parseMinVersion(std::string_view text) {
  if (text == "TLSv1.2") {
    return TLS1_2_VERSION;
  }
  if (text == "TLSv1.3") {
    return TLS1_3_VERSION;
  }
  if (text == "TLSv1" || text == "TLSv1.0" || text == "TLSv1.1" || text.starts_with("SSL")) {
    return fail(ErrorCode::BadConfig,
                fmt::format("min_version {} is not allowed: TLS 1.0 and 1.1 are deprecated (RFC "
                            "8996); use TLSv1.2 or TLSv1.3",
                            text));
  }
  return fail(ErrorCode::BadConfig,
              fmt::format("min_version: expected TLSv1.2 or TLSv1.3, got \"{}\"", text));
}

} // namespace corral::tls

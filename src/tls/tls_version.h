#pragma once
// The `min_version` key of frontends[].tls.

#include <string_view>

#include "corral/core/error.h"

namespace corral::tls {

/// "TLSv1.2" → TLS1_2_VERSION, "TLSv1.3" → TLS1_3_VERSION. TLS 1.0 and 1.1 are refused (RFC 8996
/// deprecates them), with a message saying so rather than "unknown version".
Result<int> parseMinVersion(std::string_view text);

} // namespace corral::tls

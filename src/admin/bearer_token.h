#pragma once
// The admin API's shared secret (RFC 6750 bearer token), read once from admin.token_file.

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "corral/core/error.h"

namespace corral::admin {

class BearerToken {
public:
  /// Reads `path`, trims surrounding whitespace (a trailing newline from `echo`); an unreadable
  /// or empty file is an error.
  static Result<BearerToken> fromFile(const std::string& path);
  static Result<BearerToken> fromText(std::string_view text);

  /// Whether an Authorization header value carries this token. The scheme is case-insensitive
  /// (RFC 7235 §2.1). Compares SHA-256 digests in constant time, so neither the token's bytes nor
  /// its length show in the response time.
  bool accepts(std::optional<std::string_view> authorization) const;

private:
  using Digest = std::array<unsigned char, 32>;
  explicit BearerToken(const Digest& digest) : digest_(digest) {}
  static Digest sha256(std::string_view text);

  Digest digest_; // the token itself is not kept in memory
};

/// `text` without leading and trailing spaces, tabs, CR and LF.
std::string_view trimWhitespace(std::string_view text);

} // namespace corral::admin

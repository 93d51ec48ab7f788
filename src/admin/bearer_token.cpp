#include "bearer_token.h"

#include <strings.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace corral::admin {

std::string_view trimWhitespace(std::string_view text) {
  constexpr std::string_view kWhitespace = " \t\r\n";
  const auto first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(kWhitespace);
  return text.substr(first, last - first + 1);
}

Result<BearerToken> BearerToken::fromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  if (!in) {
    return fail(ErrorCode::NotFound, "cannot read admin.token_file " + path);
  }
  auto token = fromText(contents.str());
  if (!token) {
    token.error().message = "admin.token_file " + path + ": " + token.error().message;
  }
  return token;
}

Result<BearerToken> BearerToken::fromText(std::string_view text) {
  const std::string_view token = trimWhitespace(text);
  if (token.empty()) {
    return fail(ErrorCode::BadConfig, "the token is empty");
  }
  return BearerToken(sha256(token));
}

bool BearerToken::accepts(std::optional<std::string_view> authorization) const {
  constexpr std::string_view kScheme = "bearer ";
  if (!authorization || authorization->size() <= kScheme.size() ||
      ::strncasecmp(authorization->data(), kScheme.data(), kScheme.size()) != 0) {
    return false;
  }
  const Digest offered = sha256(trimWhitespace(authorization->substr(kScheme.size())));
  return CRYPTO_memcmp(offered.data(), digest_.data(), digest_.size()) == 0;
}

BearerToken::Digest BearerToken::sha256(std::string_view text) {
  Digest digest{};
  unsigned int length = 0;
  // EVP_Digest with SHA-256 fails only when OpenSSL cannot allocate; that is not recoverable.
  if (EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    std::abort();
  }
  return digest;
}

} // namespace corral::admin

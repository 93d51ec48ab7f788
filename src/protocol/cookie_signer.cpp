#include "corral/protocol/cookie_signer.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cstdlib>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace corral::protocol {
namespace {

constexpr size_t kMacBytes = 16; // HMAC-SHA256 truncated to 128 bits (RFC 2104 §5 allows >= half)
constexpr std::string_view kDomain = "corral-sticky-v1";

std::string base64url(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(bytes.data()),
                                     static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(length));
  while (!out.empty() && out.back() == '=') {
    out.pop_back();
  }
  for (char& c : out) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return out;
}

// Only the canonical encoding is accepted (the one base64url() gives back), so no two texts decode
// to the same bytes and a flipped unused low bit in the last character is not a valid value.
std::optional<std::string> fromBase64url(std::string_view text) {
  if (text.size() % 4 == 1 || text.size() > 4096) {
    return std::nullopt;
  }
  std::string standard(text);
  for (char& c : standard) {
    if (c == '+' || c == '/' || c == '=') {
      return std::nullopt;
    }
    c = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  const size_t padding = (4 - standard.size() % 4) % 4;
  standard.append(padding, '=');
  std::string bytes(standard.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                     reinterpret_cast<const unsigned char*>(standard.data()),
                                     static_cast<int>(standard.size()));
  if (length < 0) {
    return std::nullopt;
  }
  bytes.resize(static_cast<size_t>(length) - padding); // EVP_DecodeBlock counts padding as zeros
  if (base64url(bytes) != text) {
    return std::nullopt;
  }
  return bytes;
}

void appendBigEndian(std::string& out, uint64_t value, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

std::string signedMessage(std::string_view backend, std::string_view server_id, int64_t expiry) {
  std::string message(kDomain);
  message.push_back('\0');
  appendBigEndian(message, backend.size(), 4);
  message.append(backend);
  appendBigEndian(message, server_id.size(), 4);
  message.append(server_id);
  appendBigEndian(message, static_cast<uint64_t>(expiry), 8);
  return message;
}

struct Fields {
  std::string_view server_id;
  std::string_view expiry;
  std::string_view mac;
};

std::optional<Fields> splitValue(std::string_view value) {
  const size_t first = value.find('.');
  const size_t second = value.find('.', first == std::string_view::npos ? first : first + 1);
  if (second == std::string_view::npos || value.find('.', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return Fields{value.substr(0, first), value.substr(first + 1, second - first - 1),
                value.substr(second + 1)};
}

// Decimal without sign or leading zeros: one text per number.
std::optional<int64_t> parseExpiry(std::string_view text) {
  int64_t expiry = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), expiry);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      (text.size() > 1 && text.front() == '0') || text.front() == '-') {
    return std::nullopt;
  }
  return expiry;
}

} // namespace

// An HMAC-SHA256 context keyed once; each signature starts from a copy of it, which skips the
// algorithm fetch and key setup that a one-shot HMAC() repeats on every call.
class CookieSigner::Key {
public:
  explicit Key(std::string_view key) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    context_ = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); // the context holds its own reference
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (context_ == nullptr ||
        EVP_MAC_init(context_, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                     params) != 1) {
      std::abort(); // OpenSSL without HMAC-SHA256: cannot happen with the libssl3 we link
    }
  }
  ~Key() { EVP_MAC_CTX_free(context_); }
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  std::array<unsigned char, kMacBytes> sign(std::string_view message) const {
    EVP_MAC_CTX* copy = EVP_MAC_CTX_dup(context_);
    std::array<unsigned char, EVP_MAX_MD_SIZE> full{};
    size_t length = 0;
    if (copy == nullptr ||
        EVP_MAC_update(copy, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1 ||
        EVP_MAC_final(copy, full.data(), &length, full.size()) != 1 || length < kMacBytes) {
      std::abort(); // out of memory inside OpenSSL
    }
    EVP_MAC_CTX_free(copy);
    std::array<unsigned char, kMacBytes> truncated{};
    std::copy_n(full.begin(), kMacBytes, truncated.begin());
    return truncated;
  }

private:
  EVP_MAC_CTX* context_ = nullptr;
};

CookieSigner::CookieSigner(std::string key, std::optional<std::string> previous_key)
    : key_(std::make_unique<Key>(key)),
      previous_key_(previous_key ? std::make_unique<Key>(*previous_key) : nullptr) {
  OPENSSL_cleanse(key.data(), key.size());
  if (previous_key) {
    OPENSSL_cleanse(previous_key->data(), previous_key->size());
  }
}

CookieSigner::~CookieSigner() = default;
CookieSigner::CookieSigner(CookieSigner&&) noexcept = default;
CookieSigner& CookieSigner::operator=(CookieSigner&&) noexcept = default;

std::string CookieSigner::issue(std::string_view backend, std::string_view server_id,
                                int64_t expiry_unix) const {
  assert(expiry_unix >= 0);
  const auto mac = key_->sign(signedMessage(backend, server_id, expiry_unix));
  return base64url(server_id) + "." + std::to_string(expiry_unix) + "." +
         base64url({reinterpret_cast<const char*>(mac.data()), mac.size()});
}

std::optional<std::string> CookieSigner::verify(std::string_view backend, std::string_view value,
                                                int64_t now_unix) const {
  const auto fields = splitValue(value);
  if (!fields) {
    return std::nullopt;
  }
  auto server_id = fromBase64url(fields->server_id);
  const auto expiry = parseExpiry(fields->expiry);
  const auto mac = fromBase64url(fields->mac);
  if (!server_id || !expiry || !mac || mac->size() != kMacBytes || *expiry <= now_unix) {
    return std::nullopt;
  }
  const std::string message = signedMessage(backend, *server_id, *expiry);
  for (const Key* key : {key_.get(), previous_key_.get()}) {
    if (key != nullptr && CRYPTO_memcmp(key->sign(message).data(), mac->data(), kMacBytes) == 0) {
      return server_id;
    }
  }
  return std::nullopt;
}

} // namespace corral::protocol

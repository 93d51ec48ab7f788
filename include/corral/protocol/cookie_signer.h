#pragma once
// Sticky cookie values that clients cannot forge (DESIGN.md: sticky cookie).
//
// Format, version 1 (pinned by a golden test: changing it moves every sticky client on upgrade):
//
//     <base64url(server id)>.<expiry>.<base64url(mac)>        e.g. YXBwIzI.1700000000.Xy3…
//
// base64url is RFC 4648 §5 without padding; expiry is Unix seconds in decimal without leading
// zeros; mac is the first 16 bytes (128 bits) of HMAC-SHA256(key, "corral-sticky-v1" NUL
// len32(backend) backend len32(server id) server id be64(expiry)), the lengths big-endian, so no two
// (backend, server id, expiry) triples sign the same bytes. Every character is an RFC 6265 §4.1.1
// cookie-octet, so the value is never quoted. The backend name is signed but not sent: a cookie
// from one backend is rejected by another.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace corral::protocol {

class CookieSigner {
public:
  /// `key` signs new values; values signed with `previous_key` are still accepted, so the key can
  /// be rotated without moving every client at once. Keys should hold at least 32 random bytes.
  CookieSigner(std::string key, std::optional<std::string> previous_key);
  ~CookieSigner();
  CookieSigner(CookieSigner&&) noexcept;
  CookieSigner& operator=(CookieSigner&&) noexcept;

  std::string issue(std::string_view backend, std::string_view server_id,
                    int64_t expiry_unix) const;

  /// The server id in `value` when it was issued for `backend` with either key and
  /// `now_unix < expiry`; std::nullopt for anything else. Thread-safe: workers share one signer.
  std::optional<std::string> verify(std::string_view backend, std::string_view value,
                                    int64_t now_unix) const;

private:
  class Key;
  std::unique_ptr<Key> key_;
  std::unique_ptr<Key> previous_key_; // null without a previous key
};

} // namespace corral::protocol

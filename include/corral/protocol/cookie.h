#pragma once
// Cookie and Set-Cookie header values (RFC 6265).

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace corral::protocol {

/// The value of the first cookie called `name` (case-sensitive) in the given Cookie header values,
/// parsed leniently as user agents send them (RFC 6265 §5.2 applied to "name=value; name=value",
/// the §4.2.1 syntax): pairs split on ';', spaces and tabs around names and values ignored, a value
/// in double quotes returned without them, pairs without '=' skipped. The view points into the
/// input.
std::optional<std::string_view> findCookie(std::span<const std::string_view> header_values,
                                           std::string_view name);

/// True when `text` is a non-empty RFC 6265 §4.1.1 cookie-value of cookie-octets only (no quotes),
/// so it can be written unquoted. Names are RFC 7230 tokens.
bool isCookieValue(std::string_view text);
bool isCookieName(std::string_view text);

struct SetCookie {
  std::string name;
  std::string value;
  std::chrono::seconds max_age{0};
  bool secure = false; // the client connection is TLS
};

/// "NAME=VALUE; Path=/; Max-Age=N; HttpOnly; SameSite=Lax[; Secure]": the value of the Set-Cookie
/// header corral adds. The name must satisfy isCookieName() and the value isCookieValue().
std::string formatSetCookie(const SetCookie& cookie);

} // namespace corral::protocol

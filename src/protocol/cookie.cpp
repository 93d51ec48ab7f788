#include "corral/protocol/cookie.h"

#include <algorithm>
#include <cassert>

#include <fmt/format.h>

namespace corral::protocol {
namespace {

std::string_view trimSpaces(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return text.substr(text.size()); // empty, but still a view into the header
  }
  const size_t last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

// RFC 6265 §5.2 step 5 (lenient): a value in one pair of double quotes is the text inside them.
std::string_view unquote(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    return value.substr(1, value.size() - 2);
  }
  return value;
}

std::optional<std::string_view> findInHeader(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t semicolon = header.find(';');
    const std::string_view pair = header.substr(0, semicolon);
    header = semicolon == std::string_view::npos ? std::string_view{} : header.substr(semicolon + 1);
    const size_t equals = pair.find('=');
    if (equals == std::string_view::npos) {
      continue; // §5.2: a pair without '=' is ignored
    }
    if (trimSpaces(pair.substr(0, equals)) == name) {
      return unquote(trimSpaces(pair.substr(equals + 1)));
    }
  }
  return std::nullopt;
}

} // namespace

std::optional<std::string_view> findCookie(std::span<const std::string_view> header_values,
                                           std::string_view name) {
  for (const std::string_view header : header_values) {
    if (auto value = findInHeader(header, name)) {
      return value; // the first match wins, across headers in the order they came
    }
  }
  return std::nullopt;
}

bool isCookieValue(std::string_view text) {
  // cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E (RFC 6265 §4.1.1)
  auto is_octet = [](unsigned char c) {
    return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\';
  };
  return !text.empty() && std::ranges::all_of(text, [&](char c) { return is_octet(c); });
}

bool isCookieName(std::string_view text) {
  // token (RFC 7230 §3.2.6): visible ASCII except separators
  constexpr std::string_view kSeparators = "()<>@,;:\\\"/[]?={} \t";
  auto is_token_char = [&](unsigned char c) {
    return c > 0x20 && c < 0x7f && kSeparators.find(static_cast<char>(c)) == std::string_view::npos;
  };
  return !text.empty() && std::ranges::all_of(text, [&](char c) { return is_token_char(c); });
}

std::string formatSetCookie(const SetCookie& cookie) {
  assert(isCookieName(cookie.name) && isCookieValue(cookie.value)); // ours: names come from config
  return fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}", cookie.name,
                     cookie.value, cookie.max_age.count(), cookie.secure ? "; Secure" : "");
}

} // namespace corral::protocol

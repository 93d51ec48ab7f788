#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "config/sections.h"

namespace corral::config {
namespace {

constexpr uint64_t kMinHeaderSize = 1024; // a request line with a few headers
// The head is read into one relay buffer (64 KiB, proxy/pools.h), held until a server is picked;
// Debian's http_parser stops at 80 KiB (HTTP_MAX_HEADER_SIZE), so every allowed limit is one the
// parser honours.
constexpr uint64_t kMaxHeaderSize = 64 * 1024;
constexpr uint32_t kMinTableSize = 101;
constexpr uint32_t kMaxTableSize = 16'777'213; // the largest prime below 2^24

// RFC 6265 §4.1.1: a cookie name is an RFC 2616 token.
bool isCookieName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return c > 0x20 && c < 0x7f && std::strchr("()<>@,;:\\\"/[]?={}", c) == nullptr;
  });
}

void readCookieName(const Field& field, std::string& out) {
  std::string name;
  if (!field.read(name)) {
    return;
  }
  if (!isCookieName(name)) {
    field.error(fmt::format("\"{}\" is not a valid cookie name (RFC 6265 §4.1.1)", name));
    return;
  }
  out = std::move(name);
}

// A client without a valid cookie must be placed by some other rule.
void readFallback(const Field& field, Balance& out) {
  Balance fallback = out;
  if (!field.read(fallback, kBalanceChoices)) {
    return;
  }
  if (fallback == Balance::StickyCookie) {
    field.error("the fallback places clients without a cookie, so it cannot be sticky_cookie");
    return;
  }
  out = fallback;
}

constexpr KeyRule<StickyCookieConfig> kStickyCookieKeys[] = {
    {"name", [](const Field& f, StickyCookieConfig& c) { readCookieName(f, c.name); }},
    {"fallback", [](const Field& f, StickyCookieConfig& c) { readFallback(f, c.fallback); }},
    {"max_age", [](const Field& f, StickyCookieConfig& c) { f.read(c.max_age, 1s); }},
    {"secret_file", [](const Field& f, StickyCookieConfig& c) { f.readPath(c.secret_file); }},
    {"max_header_size",
     [](const Field& f, StickyCookieConfig& c) {
       f.readSize(c.max_header_size, kMinHeaderSize, kMaxHeaderSize);
     }},
    {"header_timeout",
     [](const Field& f, StickyCookieConfig& c) { f.read(c.header_timeout, 1ms); }},
};

bool isPrime(uint32_t n) {
  if (n < 2) {
    return false;
  }
  for (uint32_t d = 2; d <= n / d; ++d) {
    if (n % d == 0) {
      return false;
    }
  }
  return true;
}

// Maglev's permutations visit every slot only when the table size is prime (Maglev §3.4).
void readTableSize(const Field& field, uint32_t& out) {
  uint32_t size = 0;
  if (!field.read(size, kMinTableSize, kMaxTableSize)) {
    return;
  }
  if (!isPrime(size)) {
    field.error(
        fmt::format("{} is not prime; Maglev needs a prime table size such as 65537", size));
    return;
  }
  out = size;
}

constexpr KeyRule<IpHashConfig> kIpHashKeys[] = {
    {"ipv4_prefix", [](const Field& f, IpHashConfig& c) { f.read(c.ipv4_prefix, 0, 32); }},
    {"ipv6_prefix", [](const Field& f, IpHashConfig& c) { f.read(c.ipv6_prefix, 0, 128); }},
    {"table_size", [](const Field& f, IpHashConfig& c) { readTableSize(f, c.table_size); }},
};

} // namespace

void readStickyCookie(const Field& section, StickyCookieConfig& sticky_cookie) {
  readSection(section, sticky_cookie, kStickyCookieKeys);
}

void readIpHash(const Field& section, IpHashConfig& ip_hash) {
  readSection(section, ip_hash, kIpHashKeys);
}

} // namespace corral::config

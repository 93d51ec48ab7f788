#include <algorithm>
#include <charconv>
#include <utility>
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
  if (fallback == Balance::StickyCookie || fallback == Balance::Hash) {
    field.error("the fallback places clients without a cookie, so it cannot be sticky_cookie or "
                "hash");
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

// `key: header:X-Tenant`, `cookie:sid`, `query:room`, `path:2`, `sni` or `client_ip`.
void readHashKey(const Field& field, HashConfig& hash) {
  std::string text;
  if (!field.read(text)) {
    return;
  }
  const size_t colon = text.find(':');
  const std::string_view kind = std::string_view(text).substr(0, colon);
  const std::string name = colon == std::string::npos ? "" : text.substr(colon + 1);
  static constexpr std::pair<std::string_view, HashSource> kNamed[] = {
      {"header", HashSource::Header}, {"cookie", HashSource::Cookie}, {"query", HashSource::Query}};
  for (const auto& [named, source] : kNamed) {
    if (kind == named) {
      if (name.empty() || !isCookieName(name)) { // header and parameter names are tokens too
        field.error(fmt::format("{}:NAME needs a name made of token characters, got \"{}\"", kind,
                                name));
        return;
      }
      hash.source = source;
      hash.name = name;
      return;
    }
  }
  if (kind == "path") {
    uint32_t segments = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), segments);
    if (ec != std::errc() || end != name.data() + name.size() || segments < 1 || segments > 64) {
      field.error(fmt::format("path:N needs N from 1 to 64 (the first N path segments), got \"{}\"",
                              name));
      return;
    }
    hash.source = HashSource::Path;
    hash.path_segments = segments;
    return;
  }
  if ((kind == "sni" || kind == "client_ip") && colon == std::string::npos) {
    hash.source = kind == "sni" ? HashSource::Sni : HashSource::ClientIp;
    return;
  }
  field.error(fmt::format("\"{}\" is not a key source; use header:NAME, cookie:NAME, query:NAME, "
                          "path:N, sni or client_ip",
                          text));
}

void readHashFallback(const Field& field, Balance& out) {
  Balance fallback = out;
  if (!field.read(fallback, kBalanceChoices)) {
    return;
  }
  if (fallback != Balance::RoundRobin && fallback != Balance::IpHash) {
    field.error("a connection without the key is placed by round_robin or ip_hash");
    return;
  }
  out = fallback;
}

// c <= 1 would ask every server to stay at or under the mean, which no placement can do while
// connections come one at a time (Mirrokni et al. need c > 1); 0 turns bounded loads off.
void readBoundedLoad(const Field& field, double& out) {
  std::string text;
  if (!field.read(text)) {
    return;
  }
  double value = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() ||
      !(value == 0 || (value > 1 && value <= 100))) {
    field.error(fmt::format("bounded_load must be 0 (off) or a factor above 1 such as 1.25, "
                            "got \"{}\"",
                            text));
    return;
  }
  out = value;
}

constexpr KeyRule<HashConfig> kHashKeys[] = {
    {"key", [](const Field& f, HashConfig& c) { readHashKey(f, c); }},
    {"fallback", [](const Field& f, HashConfig& c) { readHashFallback(f, c.fallback); }},
    {"bounded_load", [](const Field& f, HashConfig& c) { readBoundedLoad(f, c.bounded_load); }},
    {"table_size", [](const Field& f, HashConfig& c) { readTableSize(f, c.table_size); }},
};

} // namespace

void readHash(const Field& section, HashConfig& hash) {
  if (readSection(section, hash, kHashKeys)) {
    section.require("key");
  }
}

void readStickyCookie(const Field& section, StickyCookieConfig& sticky_cookie) {
  readSection(section, sticky_cookie, kStickyCookieKeys);
}

void readIpHash(const Field& section, IpHashConfig& ip_hash) {
  readSection(section, ip_hash, kIpHashKeys);
}

} // namespace corral::config

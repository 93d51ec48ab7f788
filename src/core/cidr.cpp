#include "corral/core/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace corral {
namespace {

constexpr Ip16 kMappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};

Ip16 mapped(const uint8_t* ipv4) {
  Ip16 ip = kMappedPrefix;
  std::memcpy(ip.data() + 12, ipv4, 4);
  return ip;
}

// Compares the first `prefix` bits of a and b.
bool samePrefix(const Ip16& a, const Ip16& b, unsigned prefix) {
  const unsigned whole = prefix / 8;
  if (std::memcmp(a.data(), b.data(), whole) != 0) {
    return false;
  }
  const unsigned bits = prefix % 8;
  if (bits == 0) {
    return true;
  }
  const auto mask = static_cast<uint8_t>(0xff << (8 - bits));
  return ((a[whole] ^ b[whole]) & mask) == 0;
}

} // namespace

Ip16 toIp16(const SocketAddress& address) {
  const std::string_view bytes = address.ipBytes();
  if (bytes.size() == 4) {
    return mapped(reinterpret_cast<const uint8_t*>(bytes.data()));
  }
  Ip16 ip{};
  if (bytes.size() == 16) {
    std::memcpy(ip.data(), bytes.data(), 16);
  }
  return ip;
}

Result<Cidr> Cidr::parse(std::string_view text) {
  const size_t slash = text.find('/');
  const std::string host(text.substr(0, slash));
  Cidr cidr;
  unsigned max_prefix = 128;
  uint8_t raw[16];
  if (inet_pton(AF_INET, host.c_str(), raw) == 1) {
    cidr.network_ = mapped(raw);
    cidr.ipv4_ = true;
    max_prefix = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), raw) == 1) {
    std::memcpy(cidr.network_.data(), raw, 16);
  } else {
    return fail(ErrorCode::BadInput, fmt::format("\"{}\" is not an IPv4 or IPv6 address", host));
  }
  unsigned prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() ||
        prefix > max_prefix) {
      return fail(ErrorCode::BadInput,
                  fmt::format("\"{}\": the prefix length must be 0 to {}", text, max_prefix));
    }
  }
  cidr.prefix_ = static_cast<uint8_t>(prefix + (cidr.ipv4_ ? 96 : 0));
  Ip16 masked{};
  for (unsigned bit = 0; bit < cidr.prefix_; ++bit) {
    masked[bit / 8] |= cidr.network_[bit / 8] & (0x80 >> (bit % 8));
  }
  if (masked != cidr.network_) {
    return fail(ErrorCode::BadInput,
                fmt::format("\"{}\" has host bits set below its /{} prefix", text, prefix));
  }
  return cidr;
}

bool Cidr::contains(const Ip16& ip) const { return samePrefix(network_, ip, prefix_); }

std::string Cidr::toString() const {
  char text[INET6_ADDRSTRLEN];
  if (ipv4_) {
    inet_ntop(AF_INET, network_.data() + 12, text, sizeof(text));
    return fmt::format("{}/{}", text, prefix_ - 96);
  }
  inet_ntop(AF_INET6, network_.data(), text, sizeof(text));
  return fmt::format("{}/{}", text, prefix_);
}

bool anyContains(std::span<const Cidr> list, const Ip16& ip) {
  for (const Cidr& cidr : list) {
    if (cidr.contains(ip)) {
      return true;
    }
  }
  return false;
}

} // namespace corral

#pragma once
// Address ranges written as CIDRs ("10.0.0.0/8", "2001:db8::/32", a bare address for one host),
// for the source rules of a frontend (allow, deny, trusted_proxies).
//
// Every range and address is held as 16 bytes: an IPv4 one as its IPv4-mapped IPv6 form
// (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) with the prefix raised by 96. So "10.0.0.0/8" matches
// 10.1.2.3 whether the socket is IPv4 or dual-stack IPv6 (::ffff:10.1.2.3), and "::/0" matches
// every address, IPv4 included, while "0.0.0.0/0" matches IPv4 only.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "corral/core/address.h"
#include "corral/core/error.h"

namespace corral {

/// An IP address as 16 bytes (IPv4 mapped), the key of every match and of the per-client table.
using Ip16 = std::array<uint8_t, 16>;
Ip16 toIp16(const SocketAddress& address);

class Cidr {
public:
  /// "a.b.c.d/n" (n <= 32), "v6/n" (n <= 128), or a bare address (/32, /128). Host bits set
  /// below the prefix are an error ("10.0.0.1/8"), as a likely typo for what was meant.
  static Result<Cidr> parse(std::string_view text);

  bool contains(const Ip16& ip) const;
  bool contains(const SocketAddress& address) const { return contains(toIp16(address)); }
  /// As written, normalised: "10.0.0.0/8", "2001:db8::/32".
  std::string toString() const;

private:
  Ip16 network_{};
  uint8_t prefix_ = 0; // over the 16 bytes: an IPv4 /8 is 104
  bool ipv4_ = false;
};

/// True when any range in `list` contains the address.
bool anyContains(std::span<const Cidr> list, const Ip16& ip);

} // namespace corral

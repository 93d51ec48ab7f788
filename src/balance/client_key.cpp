#include "corral/balance/client_key.h"

#include <algorithm>
#include <array>

#include "balance/hash.h"

namespace corral::balance {
namespace {

// Distinct from the Maglev seeds so a client key never equals a server's placement hash ("client").
constexpr uint64_t kClientSeed = 0x636c69656e740000ULL;

} // namespace

uint64_t clientKey(const SocketAddress& address, uint32_t ipv4_prefix, uint32_t ipv6_prefix) {
  const std::string_view ip = address.ipBytes(); // 4 bytes for IPv4 and IPv4-mapped IPv6
  std::array<char, 16> masked{};
  std::copy(ip.begin(), ip.end(), masked.begin());
  const uint32_t prefix = std::min<uint32_t>(ip.size() == 4 ? ipv4_prefix : ipv6_prefix,
                                             static_cast<uint32_t>(ip.size() * 8));
  const uint32_t whole_bytes = prefix / 8;
  if (whole_bytes < ip.size()) {
    // Keep the top (prefix % 8) bits of the boundary byte, clear every byte after it.
    const auto keep = static_cast<unsigned char>(0xff00U >> (prefix % 8));
    masked[whole_bytes] = static_cast<char>(masked[whole_bytes] & keep);
    std::fill(masked.begin() + whole_bytes + 1, masked.end(), 0);
  }
  // The length is hashed too, so an IPv4 key never equals that of an IPv6 address
  // whose first four bytes match.
  return hashBytes(std::string_view(masked.data(), ip.size()), kClientSeed);
}

} // namespace corral::balance

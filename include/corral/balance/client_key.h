#pragma once
// The client key that ip_hash balances on: a 64-bit hash of the client's address, masked to a
// prefix so that clients whose address changes within the prefix keep their server.

#include <cstdint>

#include "corral/core/address.h"

namespace corral::balance {

/// Hashes the first `ipv4_prefix` bits of an IPv4 address, or the first `ipv6_prefix` bits of an
/// IPv6 one; prefixes past the address length mean the whole address. An IPv4-mapped IPv6 address
/// (::ffff:10.0.0.1, as a dual-stack listener sees IPv4 clients) counts as IPv4. The port is
/// ignored. With ipv4_prefix 24, 10.0.0.1 and 10.0.0.2 give the same key.
uint64_t clientKey(const SocketAddress& address, uint32_t ipv4_prefix, uint32_t ipv6_prefix);

} // namespace corral::balance

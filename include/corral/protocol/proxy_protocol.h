#pragma once
// The PROXY protocol, versions 1 and 2 (HAProxy's proxy-protocol.txt, 2020/03/05), which carries
// the original client address across a balancer. Read when a frontend has
// accept_proxy_protocol: true; written when a backend has send_proxy_protocol: v1 | v2.
//
// This header includes corral/core/address.h, hence <expected>: its fuzz target builds with g++
// and the standalone driver only, not with clang 14's libFuzzer (see tests/fuzz/CMakeLists.txt).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "corral/core/address.h"
#include "corral/protocol/parsed.h"

namespace corral::protocol {

struct ProxyHeader {
  int version = 0;      // 1 or 2
  size_t consumed = 0;  // bytes of the header; the client's own bytes start after it
  // The original connection's endpoints. Both are empty for v1 UNKNOWN, v2 LOCAL, and v2 families
  // or transports other than TCP over IPv4/IPv6 (spec §2.2: the receiver falls back to the real
  // connection's endpoints).
  std::optional<SocketAddress> source;
  std::optional<SocketAddress> destination;
};

/// Reads a v1 or v2 header at the start of `bytes`, telling the version from the first bytes.
/// NeedMore while `bytes` is a prefix of a valid header; Bad as soon as it cannot be one (a v1 line
/// longer than 107 bytes, spec §2.1; an unknown v2 version, command, family or transport; an
/// address block shorter than its family needs). v2 TLVs are skipped.
Parsed<ProxyHeader> parseProxyHeader(std::string_view bytes);

/// "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n". When the families differ, IPv4 addresses are
/// written IPv4-mapped under TCP6; anything but IPv4 or IPv6 gives "PROXY UNKNOWN\r\n".
std::string writeProxyV1(const SocketAddress& source, const SocketAddress& destination);

/// The binary v2 header with the PROXY command over STREAM, without TLVs; mixed families as in
/// writeProxyV1; anything but IPv4 or IPv6 gives the LOCAL command with the UNSPEC family.
std::string writeProxyV2(const SocketAddress& source, const SocketAddress& destination);

} // namespace corral::protocol

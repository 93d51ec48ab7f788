#include "corral/protocol/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <charconv>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace corral::protocol {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr size_t kV1MaxLength = 107; // spec §2.1: the worst case, TCP6 with full addresses
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12}; // spec §2.2
constexpr size_t kV2FixedLength = 16;

enum : uint8_t { kCommandLocal = 0x0, kCommandProxy = 0x1 };
enum : uint8_t { kTcp4 = 0x11, kTcp6 = 0x21 };

// Spec §2.2 lists the only valid family/transport bytes; receivers must reject the others.
// Returns the address block length each needs, or nullopt for an invalid byte.
std::optional<size_t> v2AddressLength(uint8_t family_transport) {
  switch (family_transport) {
  case 0x00: return 0;             // UNSPEC
  case 0x11: case 0x12: return 12; // TCP4, UDP4: 2 x 4 address bytes + 2 x 2 port bytes
  case 0x21: case 0x22: return 36; // TCP6, UDP6: 2 x 16 + 2 x 2
  case 0x31: case 0x32: return 216; // UNIX stream, datagram: 2 x 108 path bytes
  default: return std::nullopt;
  }
}

bool isPrefixOf(std::string_view bytes, std::string_view of) {
  return of.starts_with(bytes.substr(0, of.size())) && bytes.size() < of.size();
}

SocketAddress addressFromBytes(const uint8_t* ip, size_t ip_length, uint16_t port) {
  sockaddr_storage storage{};
  if (ip_length == 4) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    std::memcpy(&v4->sin_addr, ip, 4);
    v4->sin_port = htons(port);
    return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(v4), sizeof(sockaddr_in));
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  v6->sin6_family = AF_INET6;
  std::memcpy(&v6->sin6_addr, ip, 16);
  v6->sin6_port = htons(port);
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(v6), sizeof(sockaddr_in6));
}

// ---- version 1 (text) ----

std::vector<std::string_view> splitOnSpaces(std::string_view line) {
  std::vector<std::string_view> words;
  size_t start = 0;
  for (size_t space = line.find(' '); space != std::string_view::npos;
       space = line.find(' ', start)) {
    words.push_back(line.substr(start, space - start));
    start = space + 1;
  }
  words.push_back(line.substr(start));
  return words;
}

std::optional<uint16_t> parsePort(std::string_view text) {
  unsigned port = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || text.size() > 5 || error != std::errc() ||
      end != text.data() + text.size() || port > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(port);
}

std::optional<SocketAddress> parseV1Address(std::string_view ip, std::string_view port, int family) {
  std::array<uint8_t, 16> bytes{};
  const auto port_number = parsePort(port);
  if (ip.size() >= INET6_ADDRSTRLEN || !port_number) {
    return std::nullopt;
  }
  if (inet_pton(family, std::string(ip).c_str(), bytes.data()) != 1) {
    return std::nullopt;
  }
  return addressFromBytes(bytes.data(), family == AF_INET ? 4 : 16, *port_number);
}

Parsed<ProxyHeader> parseV1Line(std::string_view line, size_t consumed) {
  const auto words = splitOnSpaces(line);
  ProxyHeader header{.version = 1, .consumed = consumed};
  if (words[0] == "UNKNOWN") {
    return Parsed<ProxyHeader>::done(header); // spec §2.1: the rest of the line is ignored
  }
  if (words[0] != "TCP4" && words[0] != "TCP6") {
    return Parsed<ProxyHeader>::bad("PROXY v1: the protocol must be TCP4, TCP6 or UNKNOWN");
  }
  if (words.size() != 5) {
    return Parsed<ProxyHeader>::bad("PROXY v1: expected PROXY TCP4|TCP6 SRC DST SPORT DPORT");
  }
  const int family = words[0] == "TCP4" ? AF_INET : AF_INET6;
  header.source = parseV1Address(words[1], words[3], family);
  header.destination = parseV1Address(words[2], words[4], family);
  if (!header.source || !header.destination) {
    return Parsed<ProxyHeader>::bad(fmt::format("PROXY v1: bad {} address or port", words[0]));
  }
  return Parsed<ProxyHeader>::done(std::move(header));
}

// Spec §2.1: the line is printable US-ASCII ending in CRLF. Anything else is rejected here, before
// inet_pton sees it: inet_pton reads a C string, so "10.1.2.3\0junk" would read as 10.1.2.3.
// Returns the offset of the first byte that cannot be part of the line, or npos.
size_t findForbiddenByte(std::string_view window) {
  for (size_t i = 0; i < window.size(); ++i) {
    const auto c = static_cast<unsigned char>(window[i]);
    if (c == '\n') {
      return std::string_view::npos; // the end of the line; parseV1 checks the CR before it
    }
    const bool last_before_newline = i + 1 == window.size() || window[i + 1] == '\n';
    if ((c < 0x20 || c > 0x7e) && !(c == '\r' && last_before_newline)) {
      return i;
    }
  }
  return std::string_view::npos;
}

Parsed<ProxyHeader> parseV1(std::string_view bytes) {
  const std::string_view window = bytes.substr(0, kV1MaxLength);
  if (const size_t bad = findForbiddenByte(window); bad != std::string_view::npos) {
    return Parsed<ProxyHeader>::bad(
        fmt::format("PROXY v1: byte 0x{:02x} at offset {} is not printable ASCII",
                    static_cast<unsigned char>(window[bad]), bad));
  }
  const size_t newline = window.find('\n');
  if (newline == std::string_view::npos) {
    if (window.size() == kV1MaxLength) {
      return Parsed<ProxyHeader>::tooLong("PROXY v1: no CRLF within 107 bytes");
    }
    return Parsed<ProxyHeader>::needMore();
  }
  if (newline < kV1Prefix.size() + 1 || window[newline - 1] != '\r') {
    return Parsed<ProxyHeader>::bad("PROXY v1: the line must end with CRLF");
  }
  const std::string_view line = window.substr(kV1Prefix.size(), newline - 1 - kV1Prefix.size());
  return parseV1Line(line, newline + 1);
}

// ---- version 2 (binary) ----

ProxyHeader v2Addresses(const uint8_t* block, uint8_t family_transport, size_t consumed) {
  ProxyHeader header{.version = 2, .consumed = consumed};
  const size_t ip_length = family_transport == kTcp4 ? 4 : family_transport == kTcp6 ? 16 : 0;
  if (ip_length == 0) {
    return header; // UNSPEC, UDP, UNIX: spec §2.2 says fall back to the real endpoints
  }
  const uint8_t* ports = block + 2 * ip_length;
  header.source = addressFromBytes(block, ip_length, static_cast<uint16_t>(ports[0] << 8 | ports[1]));
  header.destination =
      addressFromBytes(block + ip_length, ip_length, static_cast<uint16_t>(ports[2] << 8 | ports[3]));
  return header;
}

Parsed<ProxyHeader> parseV2(std::string_view bytes) {
  if (bytes.size() < kV2FixedLength) {
    return Parsed<ProxyHeader>::needMore();
  }
  const auto* fixed = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint8_t version = fixed[12] >> 4;
  const uint8_t command = fixed[12] & 0x0f;
  const uint8_t family_transport = fixed[13];
  const size_t length = static_cast<size_t>(fixed[14] << 8 | fixed[15]);
  if (version != 2) {
    return Parsed<ProxyHeader>::bad(fmt::format("PROXY v2: unknown version {}", version));
  }
  if (command != kCommandLocal && command != kCommandProxy) {
    return Parsed<ProxyHeader>::bad(fmt::format("PROXY v2: unknown command {}", command));
  }
  const auto address_length = v2AddressLength(family_transport);
  if (!address_length) {
    return Parsed<ProxyHeader>::bad(
        fmt::format("PROXY v2: invalid family and transport 0x{:02x}", family_transport));
  }
  if (command == kCommandProxy && length < *address_length) {
    return Parsed<ProxyHeader>::bad("PROXY v2: address block shorter than its family needs");
  }
  if (bytes.size() < kV2FixedLength + length) {
    return Parsed<ProxyHeader>::needMore();
  }
  const size_t consumed = kV2FixedLength + length;
  if (command == kCommandLocal) { // spec §2.2: use the real endpoints, discard the block
    return Parsed<ProxyHeader>::done(ProxyHeader{.version = 2, .consumed = consumed});
  }
  return Parsed<ProxyHeader>::done(v2Addresses(fixed + kV2FixedLength, family_transport, consumed));
}

// ---- writers ----

bool isIp(const SocketAddress& address) {
  return address.family() == AF_INET || address.family() == AF_INET6;
}

// The 16 address bytes, IPv4 written IPv4-mapped (::ffff:a.b.c.d, RFC 4291 §2.5.5.2).
std::array<uint8_t, 16> ipv6Bytes(const SocketAddress& address) {
  std::array<uint8_t, 16> bytes{};
  if (address.family() == AF_INET6) {
    std::memcpy(bytes.data(), &reinterpret_cast<const sockaddr_in6*>(address.get())->sin6_addr, 16);
  } else {
    bytes[10] = bytes[11] = 0xff;
    std::memcpy(bytes.data() + 12, &reinterpret_cast<const sockaddr_in*>(address.get())->sin_addr, 4);
  }
  return bytes;
}

std::string ipv6Text(const SocketAddress& address) {
  const auto bytes = ipv6Bytes(address);
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, bytes.data(), text, sizeof(text));
  return text;
}

void appendPort(std::string& out, uint16_t port) {
  out.push_back(static_cast<char>(port >> 8));
  out.push_back(static_cast<char>(port & 0xff));
}

} // namespace

Parsed<ProxyHeader> parseProxyHeader(std::string_view bytes) {
  if (isPrefixOf(bytes, kV2Signature) || isPrefixOf(bytes, kV1Prefix)) {
    return Parsed<ProxyHeader>::needMore();
  }
  if (bytes.starts_with(kV2Signature)) {
    return parseV2(bytes);
  }
  if (bytes.starts_with(kV1Prefix)) {
    return parseV1(bytes);
  }
  return Parsed<ProxyHeader>::bad("not a PROXY protocol header");
}

std::string writeProxyV1(const SocketAddress& source, const SocketAddress& destination) {
  if (!isIp(source) || !isIp(destination)) {
    return "PROXY UNKNOWN\r\n";
  }
  if (source.family() == AF_INET && destination.family() == AF_INET) {
    return fmt::format("PROXY TCP4 {} {} {} {}\r\n", source.ipString(), destination.ipString(),
                       source.port(), destination.port());
  }
  return fmt::format("PROXY TCP6 {} {} {} {}\r\n", ipv6Text(source), ipv6Text(destination),
                     source.port(), destination.port());
}

std::string writeProxyV2(const SocketAddress& source, const SocketAddress& destination) {
  std::string out(kV2Signature);
  if (!isIp(source) || !isIp(destination)) {
    out += std::string_view("\x20\x00\x00\x00", 4); // version 2, LOCAL, UNSPEC, no address block
    return out;
  }
  const bool ipv4 = source.family() == AF_INET && destination.family() == AF_INET;
  out.push_back(static_cast<char>(0x20 | kCommandProxy));
  out.push_back(static_cast<char>(ipv4 ? kTcp4 : kTcp6));
  appendPort(out, ipv4 ? 12 : 36);
  for (const SocketAddress* address : {&source, &destination}) {
    const auto bytes = ipv6Bytes(*address);
    out.append(reinterpret_cast<const char*>(bytes.data()) + (ipv4 ? 12 : 0), ipv4 ? 4 : 16);
  }
  appendPort(out, source.port());
  appendPort(out, destination.port());
  return out;
}

} // namespace corral::protocol

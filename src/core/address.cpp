#include "corral/core/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace corral {

Result<HostPort> parseHostPort(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorCode::BadInput,
                fmt::format("expected host:port such as 127.0.0.1:8080 or [::1]:8443, got \"{}\" "
                            "({})",
                            text, why));
  };
  HostPort result;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("IPv6 addresses are written [addr]:port");
    }
    result.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return bad("no port");
    }
    if (text.find(':') != colon) {
      return bad("IPv6 addresses are written [addr]:port");
    }
    result.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (result.host.empty()) {
    return bad("no host");
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port > 65535) {
    return bad("the port must be a number from 0 to 65535");
  }
  result.port = static_cast<uint16_t>(port);
  return result;
}

Result<SocketAddress> SocketAddress::fromHostPort(const HostPort& host_port) {
  SocketAddress address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage_);
  if (inet_pton(AF_INET, host_port.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(host_port.port);
    address.length_ = sizeof(sockaddr_in);
    return address;
  }
  if (inet_pton(AF_INET6, host_port.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(host_port.port);
    address.length_ = sizeof(sockaddr_in6);
    return address;
  }
  return fail(ErrorCode::BadInput,
              fmt::format("\"{}\" is not a numeric IPv4 or IPv6 address", host_port.host));
}

Result<SocketAddress> SocketAddress::parse(std::string_view text) {
  auto host_port = parseHostPort(text);
  if (!host_port) {
    return std::unexpected(host_port.error());
  }
  return fromHostPort(*host_port);
}

SocketAddress SocketAddress::fromSockaddr(const sockaddr* address, socklen_t length) {
  SocketAddress result;
  length = std::min<socklen_t>(length, sizeof(result.storage_));
  std::memcpy(&result.storage_, address, length);
  result.length_ = length;
  return result;
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  }
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

std::string_view SocketAddress::ipBytes() const {
  if (family() == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr;
    return {reinterpret_cast<const char*>(&in), 4};
  }
  if (family() == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&in6)) {
      return {reinterpret_cast<const char*>(&in6) + 12, 4};
    }
    return {reinterpret_cast<const char*>(&in6), 16};
  }
  return {};
}

bool SocketAddress::isLoopback() const {
  const std::string_view ip = ipBytes();
  if (ip.size() == 4) {
    return static_cast<unsigned char>(ip[0]) == 127;
  }
  if (ip.size() == 16) {
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr);
  }
  return false;
}

std::string SocketAddress::ipString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text,
              sizeof(text));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text,
              sizeof(text));
  }
  return text;
}

std::string SocketAddress::toString() const {
  if (family() == AF_INET6) {
    return fmt::format("[{}]:{}", ipString(), port());
  }
  return fmt::format("{}:{}", ipString(), port());
}

} // namespace corral

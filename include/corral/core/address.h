#pragma once
// Socket addresses: "127.0.0.1:8080", "[::1]:8443", "0.0.0.0:0", and host names ("web:8080").

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "corral/core/error.h"

namespace corral {

/// "host:port" split into its parts; host may be a name, an IPv4 or an IPv6 literal (written in
/// brackets in the text, stored without them).
struct HostPort {
  std::string host;
  uint16_t port = 0;
};

/// Splits "host:port" or "[v6]:port". The port is required and must be 0..65535.
Result<HostPort> parseHostPort(std::string_view text);

/// A numeric socket address (IPv4 or IPv6), cheap to copy.
class SocketAddress {
public:
  SocketAddress() = default;
  /// Parses "1.2.3.4:80" or "[::1]:80"; names are rejected (resolve them off the event loop).
  static Result<SocketAddress> parse(std::string_view text);
  static Result<SocketAddress> fromHostPort(const HostPort& host_port);
  static SocketAddress fromSockaddr(const sockaddr* address, socklen_t length);

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  bool isLoopback() const;
  /// The address bytes (4 for IPv4, 16 for IPv6; IPv4-mapped IPv6 gives its 4 IPv4 bytes).
  std::string_view ipBytes() const;
  std::string ipString() const;
  /// "1.2.3.4:80" or "[::1]:80".
  std::string toString() const;

private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

} // namespace corral

#include "listener.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace corral::proxy {
namespace {

constexpr int kBacklog = 4096; // the kernel caps it at net.core.somaxconn

} // namespace

Result<int> openListener(const SocketAddress& address) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail(ErrorCode::Io, fmt::format("socket: {}", std::strerror(errno)));
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (address.family() == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)); // [::] means IPv6 only
  }
  if (::bind(fd, address.get(), address.length()) < 0 || ::listen(fd, kBacklog) < 0) {
    const int error = errno;
    ::close(fd);
    return fail(ErrorCode::Io,
                fmt::format("cannot listen on {}: {}", address.toString(), std::strerror(error)));
  }
  return fd;
}

Result<void> checkNotInUse(const SocketAddress& address) {
  if (address.port() == 0) {
    return {};
  }
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return {}; // cannot tell; the real bind will
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); // TIME_WAIT is not "in use"
  if (address.family() == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  const bool in_use = ::bind(fd, address.get(), address.length()) < 0 && errno == EADDRINUSE;
  ::close(fd);
  if (in_use) {
    return fail(ErrorCode::Io, fmt::format("{} is in use by another process", address.toString()));
  }
  return {};
}

SocketAddress boundAddress(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length);
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&storage), length);
}

} // namespace corral::proxy

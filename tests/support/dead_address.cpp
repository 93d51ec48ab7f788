#include "tests/support/dead_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "tests/support/wait.h"

namespace corral::test {
namespace {

// Binds a new TCP socket to 127.0.0.1:0 and stores its address.
int bindLoopback(std::string& address, sockaddr_in& local) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throwSystemError("socket");
  }
  local = {.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  socklen_t length = sizeof(local);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
    throwSystemError("bind");
  }
  address = fmt::format("127.0.0.1:{}", ntohs(local.sin_port));
  return fd;
}

} // namespace

RefusingAddress::RefusingAddress() {
  sockaddr_in local;
  fd_ = bindLoopback(address_, local);
}

RefusingAddress::~RefusingAddress() { ::close(fd_); }

UnresponsiveAddress::UnresponsiveAddress() {
  sockaddr_in local;
  listener_ = bindLoopback(address_, local);
  if (::listen(listener_, 0) != 0) {
    throwSystemError("listen");
  }
  filler_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  // On loopback the handshake completes inside connect(), so the queue is full when it returns.
  if (filler_ < 0 || ::connect(filler_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    throwSystemError("UnresponsiveAddress: connect filler");
  }
}

UnresponsiveAddress::~UnresponsiveAddress() {
  ::close(filler_);
  ::close(listener_);
}

} // namespace corral::test

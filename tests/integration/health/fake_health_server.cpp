#include "tests/integration/health/fake_health_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <fmt/format.h>

namespace corral::health {
namespace {

sockaddr_in loopbackAnyPort() {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

SocketAddress boundAddress(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    std::abort();
  }
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&storage), length);
}

int boundSocket() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in address = loopbackAnyPort();
  if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    std::abort();
  }
  return fd;
}

} // namespace

FakeHealthServer::FakeHealthServer(event_base* base) : base_(base) {
  const sockaddr_in address = loopbackAnyPort();
  listener_ = evconnlistener_new_bind(base, &FakeHealthServer::onAccept, this,
                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                                      reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  if (listener_ == nullptr) {
    std::abort();
  }
  address_ = boundAddress(evconnlistener_get_fd(listener_));
}

FakeHealthServer::~FakeHealthServer() {
  for (bufferevent* connection : connections_) {
    bufferevent_free(connection);
  }
  evconnlistener_free(listener_);
}

void FakeHealthServer::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int,
                                void* arg) noexcept {
  auto* server = static_cast<FakeHealthServer*>(arg);
  bufferevent* connection = bufferevent_socket_new(server->base_, fd, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(connection, &FakeHealthServer::onRead, nullptr, &FakeHealthServer::onEvent,
                    server);
  bufferevent_enable(connection, EV_READ);
  server->connections_.push_back(connection);
}

void FakeHealthServer::onRead(bufferevent* connection, void* arg) noexcept {
  auto* server = static_cast<FakeHealthServer*>(arg);
  evbuffer* input = bufferevent_get_input(connection);
  const evbuffer_ptr end = evbuffer_search(input, "\r\n\r\n", 4, nullptr);
  if (end.pos < 0) {
    return;
  }
  const size_t length = static_cast<size_t>(end.pos) + 4;
  server->requests_.emplace_back(
      reinterpret_cast<const char*>(evbuffer_pullup(input, static_cast<ev_ssize_t>(length))),
      length);
  evbuffer_drain(input, length);
  server->answer(connection);
}

void FakeHealthServer::answer(bufferevent* connection) {
  if (mode_ == Mode::Silent) {
    return;
  }
  const std::string reply =
      mode_ == Mode::Garbage
          ? std::string("garbage\r\n")
          : fmt::format("HTTP/1.1 {} Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        status_);
  bufferevent_write(connection, reply.data(), reply.size());
  bufferevent_setcb(connection, nullptr, &FakeHealthServer::onWritten, &FakeHealthServer::onEvent,
                    this);
}

void FakeHealthServer::onWritten(bufferevent* connection, void* arg) noexcept {
  static_cast<FakeHealthServer*>(arg)->close(connection);
}

void FakeHealthServer::onEvent(bufferevent* connection, short, void* arg) noexcept {
  static_cast<FakeHealthServer*>(arg)->close(connection);
}

void FakeHealthServer::close(bufferevent* connection) {
  std::erase(connections_, connection);
  bufferevent_free(connection);
}

ListeningSocket::ListeningSocket() : fd_(boundSocket()) {
  if (listen(fd_, 64) != 0) {
    std::abort();
  }
  address_ = boundAddress(fd_);
}

ListeningSocket::~ListeningSocket() {
  ::close(fd_);
}

SocketAddress closedPort() {
  const int fd = boundSocket();
  const SocketAddress address = boundAddress(fd);
  ::close(fd);
  return address;
}

} // namespace corral::health

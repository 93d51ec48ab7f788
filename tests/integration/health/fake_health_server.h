#pragma once
// Servers for the checker's tests, on 127.0.0.1 port 0 and on the test's own event loop, so a
// checker that blocked the loop would also stop its server from answering and fail the test.

#include <string>
#include <vector>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "corral/core/address.h"

namespace corral::health {

/// Answers each HTTP request with a status line, or sends garbage, or never answers at all.
class FakeHealthServer {
public:
  enum class Mode { Status, Garbage, Silent };

  explicit FakeHealthServer(event_base* base);
  ~FakeHealthServer();
  FakeHealthServer(const FakeHealthServer&) = delete;
  FakeHealthServer& operator=(const FakeHealthServer&) = delete;

  /// Applies to requests read from now on.
  void respondWith(int status) {
    mode_ = Mode::Status;
    status_ = status;
  }
  void sendGarbage() { mode_ = Mode::Garbage; }
  void stayQuiet() { mode_ = Mode::Silent; }

  const SocketAddress& address() const { return address_; }
  /// Every complete request head received, in order.
  const std::vector<std::string>& requests() const { return requests_; }

private:
  void answer(bufferevent* connection);
  void close(bufferevent* connection);
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) noexcept;
  static void onRead(bufferevent* connection, void* arg) noexcept;
  static void onWritten(bufferevent* connection, void* arg) noexcept;
  static void onEvent(bufferevent* connection, short what, void* arg) noexcept;

  event_base* base_;
  evconnlistener* listener_ = nullptr;
  SocketAddress address_;
  Mode mode_ = Mode::Status;
  int status_ = 200;
  std::vector<std::string> requests_;
  std::vector<bufferevent*> connections_;
};

/// A socket that listens and never accepts: the kernel completes TCP handshakes into its backlog,
/// which is all a tcp check looks for.
class ListeningSocket {
public:
  ListeningSocket();
  ~ListeningSocket();
  ListeningSocket(const ListeningSocket&) = delete;
  ListeningSocket& operator=(const ListeningSocket&) = delete;
  const SocketAddress& address() const { return address_; }

private:
  int fd_;
  SocketAddress address_;
};

/// A 127.0.0.1 port that was just bound and released, so nothing listens there: connects are
/// refused.
SocketAddress closedPort();

} // namespace corral::health

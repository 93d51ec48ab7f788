#pragma once
// One socket of a session, plain or TLS, registered once with the worker's Poller (edge-triggered)
// for reads, writes and the peer's half-close. Between two edges the readiness is kept here: a
// read that drained the socket or a write that filled it clears it, the next edge sets it again,
// so no event is re-armed per read or write.

#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace corral::proxy {

enum class IoStatus : uint8_t {
  Ok,      // some bytes moved
  Blocked, // nothing now: wait for the next edge (readiness cleared)
  Closed,  // the peer will send nothing more (FIN, or TLS close_notify)
  Failed,  // reset or another error: errno says which
};

struct Io {
  IoStatus status;
  size_t bytes = 0;
};

struct Endpoint {
  int fd = -1;
  SSL* ssl = nullptr; // TLS when set; the SSL reads and writes fd itself
  bool readable = false;
  bool writable = false;
  bool hung_up = false; // FIN, reset or error seen: read on until recv says so, short or not
  bool short_read = false; // TLS: the SSL's last recv got less than it asked for

  /// Records what an edge says (epoll flags).
  void onEdge(uint32_t events) {
    constexpr uint32_t kEnded = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
    readable |= (events & (EPOLLIN | kEnded)) != 0;
    writable |= (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
    hung_up |= (events & kEnded) != 0;
  }

  Io receive(char* to, size_t size);
  Io send(const char* from, size_t size);
  /// splice(2) from this socket into `pipe_write`, up to `size` bytes.
  Io spliceIn(int pipe_write, size_t size);
  /// splice(2) from `pipe_read` into this socket, up to `size` bytes.
  Io spliceOut(int pipe_read, size_t size);
  /// Ends our sending side: close_notify first on TLS (RFC 8446 §6.1 closes one direction), then
  /// a FIN. Reading goes on.
  void shutWrite();
  /// Frees the SSL and closes the socket (which unregisters it).
  void close();
  /// Makes this a TLS endpoint (server side when `accepting`) that owns `ssl`; false, with `ssl`
  /// freed, when OpenSSL cannot take the socket (or `ssl` is null: out of memory).
  bool startTls(SSL* ssl, bool accepting);
  /// TLS: the handshake is over; from now on OpenSSL reads ahead (see startTls).
  void tlsHandshakeDone();
};

} // namespace corral::proxy

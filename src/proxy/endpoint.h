#pragma once
// One socket of a session, plain or TLS, registered once with libevent (persistent and
// edge-triggered) for reads, writes and the peer's half-close. Between two edges the readiness is
// kept here: a read that got EAGAIN or a write that filled the socket clears it, the next edge sets
// it again, so no event is re-armed per read or write.

#include <event2/event.h>
#include <event2/event_struct.h>
#include <openssl/ssl.h>
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
  /// Every event an endpoint is registered for, once.
  static constexpr short kEvents = EV_READ | EV_WRITE | EV_CLOSED | EV_PERSIST | EV_ET;

  int fd = -1;
  SSL* ssl = nullptr; // TLS when set; the SSL reads and writes fd itself
  event ev{};
  bool readable = false;
  bool writable = false;

  /// Records what an edge says; `what` as libevent passes it.
  void onEdge(short what) {
    readable |= (what & (EV_READ | EV_CLOSED)) != 0;
    writable |= (what & EV_WRITE) != 0;
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
  /// Unregisters, frees the SSL and closes the socket.
  void close();
};

} // namespace corral::proxy

#include "endpoint.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <openssl/bio.h>
#include <openssl/err.h>

namespace corral::proxy {
namespace {

bool wouldBlock(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

// SSL_get_error() reads this thread's error queue, which must be empty before each call
// (SSL_get_error(3)); errors left by an earlier failure on another session would be blamed here.
int tlsError(SSL* ssl, int result) {
  const int error = SSL_get_error(ssl, result);
  if (error == SSL_ERROR_SYSCALL && errno == 0) {
    return SSL_ERROR_ZERO_RETURN; // EOF without close_notify: SSL_OP_IGNORE_UNEXPECTED_EOF
  }
  return error;
}

// Records whether OpenSSL's last recv on the socket came back short (the socket is drained).
long noteShortRead(BIO* bio, int operation, const char*, size_t length, int, long, int result,
                   size_t* processed) {
  if (operation == (BIO_CB_READ | BIO_CB_RETURN)) {
    auto* endpoint = reinterpret_cast<Endpoint*>(BIO_get_callback_arg(bio));
    endpoint->short_read = result > 0 && processed != nullptr && *processed < length;
  }
  return result;
}

} // namespace

// OpenSSL reads and writes the socket itself. Partial writes: a record at a time, so a short write
// leaves the rest in the relay's buffer; a moving buffer: the retry after WANT_WRITE may come from
// the same bytes at a new address once the buffer was compacted. A callback notes whether each recv
// drained the socket; once the handshake is done OpenSSL reads ahead, so that a TLS read ends as a
// short plain read does, without a recv that finds nothing. (Reading ahead during the handshake
// cost full handshakes: 0.70 of HAProxy's rate against 0.97 when it starts after, tls-close, 5
// rounds.) A peer that closes TCP without close_notify has simply closed
// (SSL_OP_IGNORE_UNEXPECTED_EOF in the contexts): the relayed protocol's framing catches that.
bool Endpoint::startTls(SSL* new_ssl, bool accepting) {
  if (new_ssl == nullptr) {
    return false;
  }
  if (SSL_set_fd(new_ssl, fd) != 1) {
    SSL_free(new_ssl);
    return false;
  }
  ssl = new_ssl;
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  BIO* bio = SSL_get_rbio(ssl);
  BIO_set_callback_arg(bio, reinterpret_cast<char*>(this));
  BIO_set_callback_ex(bio, noteShortRead);
  if (accepting) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
  }
  return true;
}

Io Endpoint::receive(char* to, size_t size) {
  if (ssl != nullptr) {
    ERR_clear_error();
    errno = 0;
    short_read = false;
    const int n = SSL_read(ssl, to, static_cast<int>(size));
    if (n > 0) {
      // Read ahead fills OpenSSL's buffer from the socket: once a recv came back short and the
      // buffer holds nothing more, the socket is drained and the next bytes bring an edge.
      if (short_read && !hung_up && SSL_has_pending(ssl) == 0) {
        readable = false;
      }
      return {IoStatus::Ok, static_cast<size_t>(n)};
    }
    switch (tlsError(ssl, n)) {
    case SSL_ERROR_WANT_READ: readable = false; return {IoStatus::Blocked};
    case SSL_ERROR_WANT_WRITE: writable = false; return {IoStatus::Blocked};
    case SSL_ERROR_ZERO_RETURN: return {IoStatus::Closed};
    default: return {IoStatus::Failed};
    }
  }
  for (;;) {
    const ssize_t n = ::recv(fd, to, size, 0);
    if (n > 0) {
      // A TCP read that returns less than asked took everything the socket had: the next bytes
      // bring a new edge. Not so once a FIN, reset or error was flagged (it may sit behind the
      // data): then read on until recv says so.
      if (static_cast<size_t>(n) < size && !hung_up) {
        readable = false;
      }
      return {IoStatus::Ok, static_cast<size_t>(n)};
    }
    if (n == 0) {
      return {IoStatus::Closed};
    }
    if (errno == EINTR) {
      continue;
    }
    if (wouldBlock(errno)) {
      readable = false;
      return {IoStatus::Blocked};
    }
    return {IoStatus::Failed};
  }
}

Io Endpoint::send(const char* from, size_t size) {
  if (ssl != nullptr) {
    size_t done = 0; // with SSL_MODE_ENABLE_PARTIAL_WRITE each call writes at most a record
    while (done < size) {
      ERR_clear_error();
      errno = 0;
      const int n = SSL_write(ssl, from + done, static_cast<int>(size - done));
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      switch (tlsError(ssl, n)) {
      case SSL_ERROR_WANT_WRITE: writable = false; break;
      case SSL_ERROR_WANT_READ: readable = false; break;
      default: return {IoStatus::Failed, done};
      }
      break;
    }
    return {done > 0 ? IoStatus::Ok : IoStatus::Blocked, done};
  }
  for (;;) {
    const ssize_t n = ::send(fd, from, size, MSG_NOSIGNAL);
    if (n >= 0) {
      // A short TCP write filled the send buffer (and set SOCK_NOSPACE): room brings an edge.
      if (static_cast<size_t>(n) < size) {
        writable = false;
      }
      return {IoStatus::Ok, static_cast<size_t>(n)};
    }
    if (errno == EINTR) {
      continue;
    }
    if (wouldBlock(errno)) {
      writable = false;
      return {IoStatus::Blocked};
    }
    return {IoStatus::Failed};
  }
}

Io Endpoint::spliceIn(int pipe_write, size_t size) {
  for (;;) {
    const ssize_t n =
        ::splice(fd, nullptr, pipe_write, nullptr, size, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      return {IoStatus::Ok, static_cast<size_t>(n)};
    }
    if (n == 0) {
      return {IoStatus::Closed};
    }
    if (errno == EINTR) {
      continue;
    }
    if (wouldBlock(errno)) { // the pipe is empty when we splice in, so the socket is
      readable = false;
      return {IoStatus::Blocked};
    }
    return {IoStatus::Failed};
  }
}

Io Endpoint::spliceOut(int pipe_read, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::splice(pipe_read, nullptr, fd, nullptr, size - done,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && wouldBlock(errno)) {
      writable = false;
      break;
    }
    return {IoStatus::Failed, done};
  }
  return {done > 0 ? IoStatus::Ok : IoStatus::Blocked, done};
}

void Endpoint::tlsHandshakeDone() {
  SSL_set_read_ahead(ssl, 1);
}

void Endpoint::shutWrite() {
  if (ssl != nullptr) {
    ERR_clear_error();
    SSL_shutdown(ssl);
    ERR_clear_error(); // a close_notify that could not be sent leaves errors nobody asks for
  }
  ::shutdown(fd, SHUT_WR);
}

void Endpoint::close() {
  if (ssl != nullptr) {
    SSL_free(ssl);
    ssl = nullptr;
  }
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
  readable = writable = hung_up = short_read = false;
}

} // namespace corral::proxy

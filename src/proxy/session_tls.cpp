// TLS in a session: the client's handshake on a frontend with `tls`, TLS to servers with
// servers[].tls (re-encryption), and close_notify on a half-close. OpenSSL runs inside libevent's
// OpenSSL bufferevents, so the relay itself (session.cpp) is the same for TLS and plain TCP.

#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include <array>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "corral/core/log.h"
#include "access_log.h"
#include "session.h"
#include "session_internal.h"
#include "worker.h"

namespace corral::proxy {
namespace {

static_assert(tls::kHandshakeFailures.size() == runtime::kTlsFailureReasons,
              "FrontendCells::tls_failures has one cell per tls::HandshakeFailure");

// Deferred callbacks: an OpenSSL bufferevent may call back from inside bufferevent_write() or
// evbuffer_add_buffer() (it tries to write at once), which would re-enter the session mid-forward.
constexpr int kTlsOptions = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;

// FrontendCells::tls_handshakes is indexed failed * 2 + resumed.
constexpr size_t handshakeIndex(bool failed, bool resumed) {
  return (failed ? 2 : 0) + (resumed ? 1 : 0);
}

// A peer that closes TCP without close_notify has simply closed (SSL_OP_IGNORE_UNEXPECTED_EOF
// in the contexts says the same to OpenSSL): the relayed protocol's own framing catches truncation.
bufferevent* newTlsBufferevent(event_base* base, int fd, SSL* ssl, bufferevent_ssl_state state) {
  if (ssl == nullptr) {
    return nullptr;
  }
  bufferevent* bev = bufferevent_openssl_socket_new(base, fd, ssl, state, kTlsOptions);
  if (bev == nullptr) {
    SSL_free(ssl);
    return nullptr;
  }
  bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
  return bev;
}

} // namespace

void Session::openTlsClient(int fd) {
  client_.bev = newTlsBufferevent(worker_.base(), fd, frontend_.tls->newSsl(),
                                  BUFFEREVENT_SSL_ACCEPTING);
  client_.tls = client_.bev != nullptr;
}

void Session::onClientHandshake(short events) {
  if (!(events & BEV_EVENT_CONNECTED)) {
    std::array<unsigned long, 8> errors{}; // the first few are enough to tell the reason
    size_t count = 0;
    while (const unsigned long error = bufferevent_get_openssl_error(client_.bev)) {
      if (count < errors.size()) {
        errors[count++] = error;
      }
    }
    countHandshakeFailure(tls::handshakeFailure(std::span(errors.data(), count)));
    close(Termination::TlsHandshakeFailed);
    return;
  }
  const bool resumed = SSL_session_reused(bufferevent_openssl_get_ssl(client_.bev)) == 1;
  frontendCells().tls_handshakes[handshakeIndex(false, resumed)].add();
  handshake_done_ = true;
  event_del(&idle_timer_);
  routeClient();
}

// Scanners and stray plain-HTTP clients fail handshakes all day: counted by reason, logged at
// debug level only.
void Session::countHandshakeFailure(tls::HandshakeFailure failure) {
  tls_failure_ = failure;
  runtime::FrontendCells& cells = frontendCells();
  cells.tls_handshakes[handshakeIndex(true, false)].add();
  cells.tls_failures[static_cast<size_t>(failure)].add();
  cells.rejected[rejectIndex(runtime::RejectReason::Tls)].add();
  if (log::proxy()->should_log(spdlog::level::debug)) {
    log::proxy()->debug("[C{:x}] TLS handshake with {} failed: {}", id_,
                        client_address_.toString(), tls::describe(failure));
  }
}

// A server with servers[].tls gets an OpenSSL bufferevent whose CONNECTED event means "TCP and the
// handshake are done". With send_proxy_protocol the PROXY header must precede the handshake in
// the clear, so the connect starts on a plain socket and upgradeServerToTls() takes over.
bufferevent* Session::newServerBufferevent() {
  const bool header_first = backend_->config->send_proxy_protocol != config::ProxyProtocol::Off;
  if (server_choice_->tls == nullptr || header_first) {
    return bufferevent_socket_new(worker_.base(), -1, BEV_OPT_CLOSE_ON_FREE);
  }
  bufferevent* bev = newTlsBufferevent(worker_.base(), -1,
                                       server_choice_->tls->newSsl(server_choice_->host),
                                       BUFFEREVENT_SSL_CONNECTING);
  server_.tls = bev != nullptr;
  return bev;
}

void Session::upgradeServerToTls() {
  const std::string header = proxyHeaderBytes();
  const int fd = bufferevent_getfd(server_.bev);
  // A new connection's send buffer is empty, so a header of at most a few hundred bytes goes out
  // in one call; anything else means the connection is already broken.
  if (::send(fd, header.data(), header.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(header.size())) {
    onConnectFailed("cannot send the PROXY header");
    return;
  }
  bufferevent_setfd(server_.bev, -1); // the socket moves to the TLS bufferevent
  bufferevent_free(server_.bev);
  server_.bev = newTlsBufferevent(worker_.base(), fd,
                                  server_choice_->tls->newSsl(server_choice_->host),
                                  BUFFEREVENT_SSL_CONNECTING);
  if (server_.bev == nullptr) {
    ::close(fd);
    onConnectFailed("out of memory for TLS");
    return;
  }
  server_.tls = true;
  setUpServerBufferevent();
}

// Why a TLS connect failed: the certificate check's verdict, else OpenSSL's first error, else the
// socket's.
std::string Session::serverTlsFailure() {
  const std::string verify =
      tls::ClientContext::verifyFailure(bufferevent_openssl_get_ssl(server_.bev));
  std::array<char, 256> first{};
  while (const unsigned long error = bufferevent_get_openssl_error(server_.bev)) {
    if (first[0] == '\0') {
      ERR_error_string_n(error, first.data(), first.size());
    }
  }
  if (!verify.empty()) {
    return fmt::format("TLS: certificate verify failed: {}", verify);
  }
  if (first[0] != '\0') {
    return fmt::format("TLS: {}", first.data());
  }
  return evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
}

// Sent once, when the other side's sending is over and everything it sent is written. The socket
// keeps reading: in TLS 1.3 (RFC 8446 §6.1) the peer may go on sending after our close_notify.
void Session::sendCloseNotify(const Peer& peer) {
  SSL_shutdown(bufferevent_openssl_get_ssl(peer.bev));
  ERR_clear_error(); // a shutdown that could not be sent leaves errors nobody asks for
}

// The views stay valid while the session lives: the SSL object owns the version and the name.
void Session::addTlsFields(AccessLogEntry& entry) const {
  if (frontend_.config->tls_passthrough) {
    entry.sni = passthrough_sni_;
    return;
  }
  if (tls_failure_) {
    entry.tls_error = tls::label(*tls_failure_);
  }
  if (!handshake_done_) {
    return;
  }
  const SSL* ssl = bufferevent_openssl_get_ssl(client_.bev);
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  entry.tls_version = SSL_get_version(ssl);
  entry.sni = sni != nullptr ? sni : "";
}

} // namespace corral::proxy

// TLS in a session: the client's handshake on a frontend with `tls`, and TLS to servers with
// servers[].tls (re-encryption). OpenSSL reads and writes the sockets directly (endpoint.cpp), so
// the relay (session_relay.cpp) is the same for TLS and plain TCP, splice aside.

#include <event2/event.h>

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

// FrontendCells::tls_handshakes is indexed failed * 2 + resumed.
constexpr size_t handshakeIndex(bool failed, bool resumed) {
  return (failed ? 2 : 0) + (resumed ? 1 : 0);
}

// The reason a handshake failed, from what it left in this thread's error queue.
tls::HandshakeFailure takeHandshakeFailure() {
  std::array<unsigned long, 8> errors{}; // the first few are enough to tell the reason
  size_t count = 0;
  while (const unsigned long error = ERR_get_error()) {
    if (count < errors.size()) {
      errors[count++] = error;
    }
  }
  return tls::handshakeFailure(std::span(errors.data(), count));
}

// One step of a non-blocking handshake: 1 when done, 0 when it waits for an edge (readiness
// updated), -1 when it failed (the error queue says why).
int stepHandshake(Endpoint& endpoint) {
  ERR_clear_error();
  const int result = SSL_do_handshake(endpoint.ssl);
  if (result == 1) {
    return 1;
  }
  switch (SSL_get_error(endpoint.ssl, result)) {
  case SSL_ERROR_WANT_READ: endpoint.readable = false; return 0;
  case SSL_ERROR_WANT_WRITE: endpoint.writable = false; return 0;
  default: return -1;
  }
}

} // namespace

bool Session::openTlsClient() { return client_.startTls(frontend_.tls->newSsl(), true); }

void Session::continueClientHandshake() {
  if (!client_.readable && !client_.writable) {
    return;
  }
  const int step = stepHandshake(client_);
  if (step == 0) {
    return;
  }
  if (step < 0) {
    countHandshakeFailure(takeHandshakeFailure());
    close(Termination::TlsHandshakeFailed);
    return;
  }
  const bool resumed = SSL_session_reused(client_.ssl) == 1;
  frontendCells().tls_handshakes[handshakeIndex(false, resumed)].add();
  handshake_done_ = true;
  client_.tlsHandshakeDone();
  event_del(&timer_);
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

// servers[].tls: the handshake starts once TCP is up (and the PROXY header, if any, is sent);
// the connect timeout covers both.
bool Session::startServerTls() {
  return server_.startTls(server_choice_->tls->newSsl(server_choice_->host), false);
}

void Session::continueServerHandshake() {
  const int step = stepHandshake(server_);
  if (step > 0) {
    server_.tlsHandshakeDone();
    onConnected();
  } else if (step < 0) {
    onConnectFailed(serverTlsFailure());
  }
}

// Why a TLS connect failed: the certificate check's verdict, else OpenSSL's first error, else the
// socket's.
std::string Session::serverTlsFailure() {
  const std::string verify = tls::ClientContext::verifyFailure(server_.ssl);
  std::array<char, 256> first{};
  while (const unsigned long error = ERR_get_error()) {
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
  const SSL* ssl = client_.ssl;
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  entry.tls_version = SSL_get_version(ssl);
  entry.sni = sni != nullptr ? sni : "";
}

} // namespace corral::proxy

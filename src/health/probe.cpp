#include "health/probe.h"

#include <algorithm>
#include <cerrno>
#include <system_error>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <fmt/format.h>

#include "corral/protocol/status_line.h"

namespace corral::health {
namespace {

// The words an operator sees for the failures a check meets most; anything rarer gets the system's
// own text.
std::pair<CheckOutcome, std::string> describeSocketError(int error) {
  switch (error) {
  case ECONNREFUSED:
    return {CheckOutcome::Refused, "refused"};
  case ETIMEDOUT:
    return {CheckOutcome::Timeout, "timeout"};
  case ECONNRESET:
    return {CheckOutcome::Error, "reset"};
  case EHOSTUNREACH:
  case ENETUNREACH:
    return {CheckOutcome::Error, "unreachable"};
  default:
    return {CheckOutcome::Error, std::generic_category().message(error)};
  }
}

std::string requestFor(const config::HealthCheckConfig& check, const SocketAddress& address) {
  return fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: corral-health\r\n"
                     "Connection: close\r\n\r\n",
                     check.path, check.host.empty() ? address.toString() : check.host);
}

} // namespace

Probe::Probe(event_base* base, const SocketAddress& address, const config::HealthCheckConfig& check,
             Done done, ProbeTls tls)
    : base_(base), address_(address), check_(check), done_(std::move(done)), tls_(std::move(tls)),
      started_(std::chrono::steady_clock::now()), deadline_(base, [this] { onDeadline(); }) {
  deadline_.start(check_.timeout);
  connect();
}

Probe::~Probe() {
  closeConnection();
}

void Probe::closeConnection() {
  if (connection_ != nullptr) {
    bufferevent_free(connection_);
    connection_ = nullptr;
  }
}

// Over TLS, libevent reports the connection as connected once the handshake is done, and a failed
// handshake (a plaintext server, a refused certificate) as an error.
bufferevent* Probe::newConnection() {
  if (tls_.context == nullptr) {
    return bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE);
  }
  SSL* ssl = tls_.context->newSsl(tls_.host);
  if (ssl == nullptr) {
    return nullptr;
  }
  bufferevent* connection = bufferevent_openssl_socket_new(
      base_, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
  if (connection == nullptr) {
    SSL_free(ssl);
  }
  return connection;
}

void Probe::connect() {
  connection_ = newConnection();
  if (connection_ == nullptr) {
    failure_.emplace(CheckOutcome::Error, "cannot create a socket");
    deadline_.start(std::chrono::microseconds(0));
    return;
  }
  bufferevent_setcb(connection_, &Probe::onRead, nullptr, &Probe::onEvent, this);
  if (bufferevent_socket_connect(connection_, address_.get(),
                                 static_cast<int>(address_.length())) != 0) {
    // Reported from the loop, not from here: the owner is still constructing this Probe.
    failure_ = describeSocketError(EVUTIL_SOCKET_ERROR());
    closeConnection();
    deadline_.start(std::chrono::microseconds(0));
  }
}

void Probe::onDeadline() {
  auto [outcome, detail] = failure_.value_or(std::pair(CheckOutcome::Timeout, "timeout"));
  finish(outcome, std::move(detail));
}

void Probe::onConnected() {
  if (check_.type == config::HealthCheckType::Tcp) {
    finish(CheckOutcome::Ok, "ok");
    return;
  }
  const std::string request = requestFor(check_, address_);
  bufferevent_write(connection_, request.data(), request.size());
  // The status line fits in kMaxStatusLine bytes; reading stops there, whatever the server sends.
  bufferevent_setwatermark(connection_, EV_READ, 0, protocol::kMaxStatusLine);
  bufferevent_enable(connection_, EV_READ);
}

void Probe::onResponseBytes() {
  evbuffer* input = bufferevent_get_input(connection_);
  const size_t length = std::min(evbuffer_get_length(input), protocol::kMaxStatusLine);
  const auto* bytes =
      reinterpret_cast<const char*>(evbuffer_pullup(input, static_cast<ev_ssize_t>(length)));
  const auto status = protocol::parseStatusLine(std::string_view(bytes, length));
  if (status.needsMore()) {
    return;
  }
  if (status.isBad()) {
    finish(CheckOutcome::BadResponse, "bad response");
    return;
  }
  const bool expected =
      status.value >= check_.expect_status_min && status.value <= check_.expect_status_max;
  if (expected) {
    finish(CheckOutcome::Ok, "ok");
  } else {
    finish(CheckOutcome::BadStatus, fmt::format("status {}", status.value));
  }
}

void Probe::onRead(bufferevent*, void* arg) noexcept {
  static_cast<Probe*>(arg)->onResponseBytes();
}

void Probe::onEvent(bufferevent* connection, short what, void* arg) noexcept {
  auto* probe = static_cast<Probe*>(arg);
  if ((what & BEV_EVENT_CONNECTED) != 0) {
    probe->onConnected();
  } else if ((what & BEV_EVENT_EOF) != 0) {
    const bool said_something = evbuffer_get_length(bufferevent_get_input(connection)) > 0;
    probe->finish(CheckOutcome::BadResponse, said_something ? "bad response" : "closed");
  } else if ((what & BEV_EVENT_ERROR) != 0) {
    auto [outcome, detail] = describeSocketError(EVUTIL_SOCKET_ERROR());
    if (probe->tls_.context != nullptr && bufferevent_get_openssl_error(connection) != 0) {
      const std::string why = tls::ClientContext::verifyFailure(bufferevent_openssl_get_ssl(connection));
      outcome = CheckOutcome::Error;
      detail = why.empty() ? "tls handshake failed" : fmt::format("tls: {}", why);
    }
    probe->finish(outcome, std::move(detail));
  }
}

// Runs last in every path that reaches it: `done` may destroy this Probe.
void Probe::finish(CheckOutcome outcome, std::string detail) {
  closeConnection();
  deadline_.cancel();
  const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started_);
  auto done = std::move(done_);
  if (done) {
    done(CheckResult{.outcome = outcome, .detail = std::move(detail), .latency = latency});
  }
}

} // namespace corral::health

#include "session.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include <algorithm>
#include <chrono>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "corral/balance/client_key.h"
#include "corral/core/log.h"
#include "corral/core/units.h"
#include "session_internal.h"
#include "worker.h"

namespace corral::proxy {
namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void setNoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

} // namespace

std::string_view terminationName(Termination termination) {
  switch (termination) {
  case Termination::ClientClosed: return "client_closed";
  case Termination::ServerClosed: return "server_closed";
  case Termination::ClientTimeout: return "client_timeout";
  case Termination::ServerTimeout: return "server_timeout";
  case Termination::ClientError: return "client_error";
  case Termination::ServerError: return "server_error";
  case Termination::ConnectFailed: return "connect_failed";
  case Termination::NoServer: return "no_server";
  case Termination::LimitReached: return "limit_reached";
  case Termination::Shutdown: return "shutdown";
  case Termination::TlsHandshakeFailed: return "tls_handshake_failed";
  case Termination::BadProxyHeader: return "bad_proxy_header";
  }
  return "unknown";
}

std::string_view chosenByName(ChosenBy chosen_by) {
  switch (chosen_by) {
  case ChosenBy::RoundRobin: return "round_robin";
  case ChosenBy::LeastConnections: return "least_connections";
  case ChosenBy::IpHash: return "ip_hash";
  case ChosenBy::Cookie: return "cookie";
  case ChosenBy::Redispatch: return "redispatch";
  }
  return "unknown";
}

Session::Session(Worker& worker, runtime::SnapshotPtr snapshot, const runtime::Frontend& frontend,
                 int client_fd, const SocketAddress& client)
    : worker_(worker), snapshot_(std::move(snapshot)), frontend_(frontend),
      client_address_(client), client_fd_(client_fd), id_(worker.nextSessionId()) {
  setNoDelay(client_fd);
  evtimer_assign(&idle_timer_, worker_.base(), timerCallback, this);
  started_ = std::chrono::steady_clock::now();
  last_activity_ms_ = nowMs();
  frontend_.stats->active.fetch_add(1, std::memory_order_relaxed);
  frontendCells().connections.add();
}

Session::~Session() {
  event_del(&idle_timer_);
  if (client_.bev != nullptr) {
    bufferevent_free(client_.bev);
  } else {
    ::close(client_fd_); // still reading the PROXY header: no bufferevent owns it yet
  }
  if (server_.bev != nullptr) {
    bufferevent_free(server_.bev);
  }
  if (counted_ != nullptr) {
    counted_->active.fetch_sub(1, std::memory_order_relaxed);
  }
  snapshot_->worker_cells->at(worker_.id()).session_duration.observe(secondsSince(started_));
  frontend_.stats->active.fetch_sub(1, std::memory_order_relaxed);
  worker_.onSessionClosed(this);
}

uint64_t Session::nowMs() const {
  timeval now{};
  event_base_gettimeofday_cached(worker_.base(), &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000 + static_cast<uint64_t>(now.tv_usec) / 1000;
}

runtime::FrontendCells& Session::frontendCells() const {
  return frontend_.stats->cells.at(worker_.id());
}

void Session::start() {
  // The active count includes this session, so more than the limit means we are one too many.
  if (frontend_.stats->active.load(std::memory_order_relaxed) > frontend_.config->max_connections) {
    frontendCells().rejected[rejectIndex(runtime::RejectReason::MaxConnections)].add();
    close(Termination::LimitReached);
    return;
  }
  if (frontend_.config->accept_proxy_protocol) {
    readProxyHeader(); // then openClient()
    return;
  }
  openClient();
}

// The server a client's cookie names, on the first try; otherwise the balancer's choice among
// servers this session has not tried yet.
std::optional<size_t> Session::pickServer() {
  if (sticky_target_ && attempts_ == 0) {
    return sticky_target_;
  }
  const int64_t now = runtime::steadyMs();
  auto& candidates = worker_.candidates();
  candidates.clear();
  for (size_t i = 0; i < backend_->servers.size(); ++i) {
    const runtime::Server& server = backend_->servers[i];
    const bool tried = std::find(tried_.begin(), tried_.begin() + attempts_, i) !=
                       tried_.begin() + attempts_;
    candidates.push_back({.weight = server.effectiveWeight(backend_->config->slow_start, now),
                          .active = server.stats->active.load(std::memory_order_relaxed),
                          .eligible = !tried && server.stats->acceptsNew(now)});
  }
  return worker_.balancer(backend_index_).pick(candidates, client_key_);
}

// Picks a server that this session has not tried yet and starts a non-blocking connect.
void Session::connectServer() {
  const auto pick = pickServer();
  if (!pick) {
    if (attempts_ == 0) {
      frontendCells().rejected[rejectIndex(runtime::RejectReason::NoServer)].add();
    }
    close(attempts_ == 0 ? Termination::NoServer : Termination::ConnectFailed);
    return;
  }
  if (attempts_ > 0) {
    backend_->stats->cells.at(worker_.id()).retries.add();
  }
  tried_[attempts_++] = static_cast<uint32_t>(*pick);
  server_choice_ = &backend_->servers[*pick];
  counted_ = server_choice_->stats.get();
  counted_->active.fetch_add(1, std::memory_order_relaxed);
  connect_started_ = std::chrono::steady_clock::now();

  server_.bev = newServerBufferevent();
  if (server_.bev == nullptr) {
    onConnectFailed("out of memory for TLS");
    return;
  }
  setUpServerBufferevent();
  const auto& address = server_choice_->address;
  if (bufferevent_socket_connect(server_.bev, address.get(), static_cast<int>(address.length())) <
      0) {
    onConnectFailed(evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
  }
}

void Session::setUpServerBufferevent() {
  bufferevent_setcb(server_.bev, readCallback, writeCallback, eventCallback, this);
  bufferevent_set_max_single_read(server_.bev, kMaxSingleRead);
  bufferevent_setwatermark(server_.bev, EV_WRITE, kLowWatermark, 0);
  // During connect libevent waits for writability, so a write timeout is the connect timeout; a
  // TLS handshake also waits for reads, so it gets both.
  const timeval connect_timeout = toTimeval(backend_->config->connect_timeout);
  bufferevent_set_timeouts(server_.bev, server_.tls ? &connect_timeout : nullptr, &connect_timeout);
}

void Session::onConnected() {
  connected_ = true;
  connect_seconds_ = secondsSince(connect_started_);
  snapshot_->worker_cells->at(worker_.id()).connect_duration.observe(connect_seconds_);
  server_choice_->stats->cells.at(worker_.id()).connections.add();
  server_choice_->stats->failures.store(0, std::memory_order_relaxed);
  bufferevent_set_timeouts(server_.bev, nullptr, nullptr);
  setNoDelay(bufferevent_getfd(server_.bev));
  bufferevent_enable(server_.bev, EV_READ | EV_WRITE);
  log::proxy()->debug("[C{:x}] connected to {}/{} ({}) in {:.3f} ms", id_, backend_->config->name,
                      server_choice_->name, server_choice_->address.toString(),
                      connect_seconds_ * 1e3);
  if (backend_->config->send_proxy_protocol != config::ProxyProtocol::Off && !server_.tls) {
    sendProxyHeader(); // before any relayed byte (with TLS it went out before the handshake)
  }
  forward(client_); // what the client sent while we were connecting
  if (client_.read_eof) {
    onEof(client_);
  }
}

void Session::onConnectFailed(std::string_view why) {
  log::proxy()->debug("[C{:x}] connect to {}/{} ({}) failed: {}", id_, backend_->config->name,
                      server_choice_->name, server_choice_->address.toString(), why);
  server_choice_->stats->cells.at(worker_.id()).connect_failures.add();
  countPassiveFailure();
  if (server_.bev != nullptr) {
    bufferevent_free(server_.bev);
    server_.bev = nullptr;
  }
  server_.tls = false;
  counted_->active.fetch_sub(1, std::memory_order_relaxed);
  counted_ = nullptr;
  if (attempts_ > backend_->config->retries || attempts_ >= kMaxTries) {
    close(Termination::ConnectFailed);
    return;
  }
  if (sticky_target_ && attempts_ == 1) { // the cookie's server failed: place anew, re-issue
    chosen_by_ = ChosenBy::Redispatch;
    insert_cookie_ = true;
    const auto redispatch = static_cast<size_t>(runtime::StickyResult::Redispatch);
    backend_->stats->cells.at(worker_.id()).sticky[redispatch].add();
  }
  connectServer();
}

// Passive health: enough failed connects in a row, from any worker, eject the server for a while
// even between active checks. Whichever worker crosses the threshold sets the deadline.
void Session::countPassiveFailure() {
  runtime::ServerStats& stats = *server_choice_->stats;
  const auto& passive = backend_->config->passive;
  const uint32_t failures = stats.failures.fetch_add(1, std::memory_order_relaxed) + 1;
  if (passive.consecutive_failures == 0 || failures != passive.consecutive_failures) {
    return;
  }
  stats.ejected_until_ms.store(runtime::steadyMs() + passive.ejection_time.count(),
                               std::memory_order_relaxed);
  stats.failures.store(0, std::memory_order_relaxed);
  log::proxy()->warn("{}/{} ejected for {} after {} failed connects in a row",
                     backend_->config->name, server_choice_->name,
                     formatDuration(passive.ejection_time), failures);
}

void Session::onReadable(Peer& from) {
  last_activity_ms_ = nowMs();
  if (phase_ != Phase::Relay) {
    onPreambleReadable();
  } else if (connected_) {
    forward(from);
  }
}

// During a TLS handshake decrypted bytes can only follow the handshake: they wait in the input
// buffer until beginBackend() looks.
void Session::onPreambleReadable() {
  if (phase_ == Phase::ClientHello) {
    readClientHello();
  } else if (phase_ == Phase::RequestHead) {
    readRequestHead();
  }
}

// Moves what `from` sent to the other side's output (no copy: evbuffer chains move) and stops
// reading `from` while the other side has a full buffer; onWritable() resumes it.
void Session::forward(Peer& from) {
  if (insert_cookie_ && &from == &server_) {
    forwardResponseHead();
    return;
  }
  Peer& to = other(from);
  evbuffer* input = bufferevent_get_input(from.bev);
  const size_t length = evbuffer_get_length(input);
  from.bytes += length;
  runtime::ServerCells& cells = server_choice_->stats->cells.at(worker_.id());
  (&from == &client_ ? cells.bytes_in : cells.bytes_out).add(length);
  evbuffer* output = bufferevent_get_output(to.bev);
  evbuffer_add_buffer(output, input);
  if (evbuffer_get_length(output) >= kHighWatermark) {
    bufferevent_disable(from.bev, EV_READ);
  }
}

// `to` has written its output down to the low watermark (or empty).
void Session::onWritable(Peer& to) {
  if (flushing_) {
    if (&to == &client_ && evbuffer_get_length(bufferevent_get_output(client_.bev)) == 0) {
      close(Termination::ServerError);
    }
    return;
  }
  if (!connected_) {
    return;
  }
  Peer& from = other(to);
  if (!from.read_eof && !(bufferevent_get_enabled(from.bev) & EV_READ)) {
    bufferevent_enable(from.bev, EV_READ);
  }
  if (passHalfClose(to)) {
    finishIfDone();
  }
}

// Once the side opposite `to` has stopped sending and everything it sent is written to `to`,
// stop sending to `to` as well. Returns whether it did so just now.
bool Session::passHalfClose(Peer& to) {
  const Peer& from = other(to);
  if (!from.read_eof || to.write_shut || evbuffer_get_length(bufferevent_get_output(to.bev)) > 0) {
    return false;
  }
  if (to.tls) {
    sendCloseNotify(to); // TLS 1.3 §6.1: close_notify closes only our direction, like a FIN
  }
  ::shutdown(bufferevent_getfd(to.bev), SHUT_WR);
  to.write_shut = true;
  return true;
}

void Session::onEvent(Peer& peer, short events) {
  if (flushing_) { // the client's output did not drain: nothing more to save
    close(Termination::ServerError);
    return;
  }
  const bool is_server = &peer == &server_;
  if (is_server && !connected_) {
    onServerConnectEvent(events);
    return;
  }
  if (!is_server && phase_ == Phase::Handshake) {
    onClientHandshake(events);
    return;
  }
  if (events & BEV_EVENT_EOF) {
    onEof(peer);
    return;
  }
  log::proxy()->debug("[C{:x}] {} error: {}", id_, is_server ? "server" : "client",
                      evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
  if (is_server) {
    flushThenClose();
    return;
  }
  close(Termination::ClientError);
}

// The server reset or failed, but what it sent before is still the client's: stop both reads and
// the server side, and close once the client's output has drained (or the idle timer fires).
void Session::flushThenClose() {
  if (phase_ != Phase::Relay || evbuffer_get_length(bufferevent_get_output(client_.bev)) == 0) {
    close(Termination::ServerError);
    return;
  }
  flushing_ = true;
  bufferevent_disable(server_.bev, EV_READ | EV_WRITE);
  bufferevent_disable(client_.bev, EV_READ);
  bufferevent_setwatermark(client_.bev, EV_WRITE, 0, 0); // call back only once it is empty
}

void Session::onServerConnectEvent(short events) {
  if (!(events & BEV_EVENT_CONNECTED)) {
    onConnectFailed((events & BEV_EVENT_TIMEOUT) ? "timed out"
                    : server_.tls ? serverTlsFailure()
                                  : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    return;
  }
  if (server_choice_->tls != nullptr && !server_.tls) {
    upgradeServerToTls(); // TCP is up and the PROXY header sent: now the TLS handshake
    return;
  }
  onConnected();
}

// A half-close: `from` will send nothing more. Pass it on once everything it sent is written.
void Session::onEof(Peer& from) {
  if (!client_.read_eof && !server_.read_eof) {
    server_closed_first_ = &from == &server_;
  }
  from.read_eof = true;
  last_activity_ms_ = nowMs();
  if (phase_ != Phase::Relay) { // the preamble will not grow any more: decide now
    onPreambleReadable();
    return;
  }
  if (!connected_) {
    return; // onConnected() comes back here
  }
  forward(from);
  passHalfClose(other(from));
  finishIfDone();
}

void Session::finishIfDone() {
  if (client_.read_eof && server_.read_eof && client_.write_shut && server_.write_shut) {
    close(server_closed_first_ ? Termination::ServerClosed : Termination::ClientClosed);
  }
}

void Session::armIdleTimer() {
  const auto timeout = std::min(frontend_.config->client_timeout, backend_->config->server_timeout);
  const timeval delay = toTimeval(timeout);
  evtimer_add(&idle_timer_, &delay);
}

// Nothing moved for the shorter of client_timeout and server_timeout? Then close, blaming the side
// we were waiting for: the client when data for it was stuck unsent or when its timeout is the
// shorter, the server otherwise. Activity is read off a timestamp rather than by re-arming the
// timer on every read.
void Session::onIdleTimer() {
  switch (phase_) {
  case Phase::Handshake:
    countHandshakeFailure(tls::HandshakeFailure::Timeout);
    close(Termination::TlsHandshakeFailed);
    return;
  case Phase::ClientHello:
  case Phase::RequestHead:
    log::proxy()->debug("[C{:x}] no complete {} in time", id_,
                        phase_ == Phase::ClientHello ? "ClientHello" : "request head");
    close(Termination::ClientTimeout);
    return;
  default:
    break;
  }
  const uint64_t now = nowMs();
  const auto client_timeout = static_cast<uint64_t>(frontend_.config->client_timeout.count());
  const auto server_timeout = static_cast<uint64_t>(backend_->config->server_timeout.count());
  const uint64_t idle = now - last_activity_ms_;
  const uint64_t limit = std::min(client_timeout, server_timeout);
  if (idle < limit) {
    const timeval rest = toTimeval(std::chrono::milliseconds(limit - idle));
    evtimer_add(&idle_timer_, &rest);
    return;
  }
  const bool waiting_on_client =
      client_timeout <= server_timeout ||
      evbuffer_get_length(bufferevent_get_output(client_.bev)) > 0;
  close(waiting_on_client ? Termination::ClientTimeout : Termination::ServerTimeout);
}

void Session::close(Termination termination) {
  if (closing_) {
    return;
  }
  closing_ = true;
  if (AccessLog::Buffer* log = worker_.accessLog()) {
    log->append(accessLogLine(termination));
  }
  delete this;
}

std::string Session::accessLogLine(Termination termination) const {
  const std::string client = client_address_.toString();
  AccessLogEntry entry{
      .time = std::chrono::system_clock::now(),
      .id = id_,
      .frontend = frontend_.config->name,
      .client = client,
      .backend = backend_ != nullptr ? std::string_view(backend_->config->name) : "",
      .server = server_choice_ != nullptr ? std::string_view(server_choice_->name) : "",
      .chosen_by = server_choice_ != nullptr ? chosenByName(chosen_by_) : "",
      .bytes_in = client_.bytes,
      .bytes_out = server_.bytes,
      .connect_seconds = connect_seconds_,
      .duration_seconds = secondsSince(started_),
      .termination = terminationName(termination)};
  if (frontend_.tls != nullptr || frontend_.config->tls_passthrough) {
    addTlsFields(entry);
  }
  return formatAccessLogLine(entry);
}

void Session::readCallback(bufferevent* bev, void* self) {
  auto* session = static_cast<Session*>(self);
  session->onReadable(session->peerOf(bev));
}

void Session::writeCallback(bufferevent* bev, void* self) {
  auto* session = static_cast<Session*>(self);
  session->onWritable(session->peerOf(bev));
}

void Session::eventCallback(bufferevent* bev, short events, void* self) {
  auto* session = static_cast<Session*>(self);
  session->onEvent(session->peerOf(bev), events);
}

void Session::timerCallback(evutil_socket_t, short, void* self) {
  static_cast<Session*>(self)->onIdleTimer();
}

} // namespace corral::proxy

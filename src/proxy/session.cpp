#include "session.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/event.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "corral/balance/client_key.h"
#include "corral/core/log.h"
#include "corral/core/units.h"
#include "corral/runtime/placement.h"
#include "access_log.h"
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

void setKeepalive(int fd, const std::optional<config::TcpKeepaliveConfig>& keepalive) {
  if (!keepalive) {
    return;
  }
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const int on = 1;
  const int idle = static_cast<int>(duration_cast<seconds>(keepalive->idle).count());
  const int interval = static_cast<int>(duration_cast<seconds>(keepalive->interval).count());
  const int count = static_cast<int>(keepalive->count);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
}

// An HTTP/1 request line starts with a method (upper-case letters) and a space.
bool looksLikeHttpRequest(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size() && i < 24 && bytes[i] >= 'A' && bytes[i] <= 'Z') {
    ++i;
  }
  return i > 0 && i < bytes.size() && bytes[i] == ' ';
}

bool isSwitchingProtocols(std::string_view bytes) {
  return bytes.size() >= 12 && bytes.starts_with("HTTP/1.") && bytes.substr(8, 4) == " 101";
}

// After max_lifetime a session waits for this much quiet before it is closed.
constexpr uint64_t kLifetimeQuietMs = 1000;

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
  case Termination::QueueTimeout: return "queue_timeout";
  case Termination::QueueFull: return "queue_full";
  case Termination::Denied: return "denied";
  case Termination::ClientLimit: return "client_limit";
  case Termination::ClientRate: return "client_rate";
  case Termination::TunnelTimeout: return "tunnel_timeout";
  case Termination::MaxLifetime: return "max_lifetime";
  case Termination::BadRequest: return "bad_request";
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
  case ChosenBy::Hash: return "hash";
  }
  return "unknown";
}

Session::Session(Worker& worker, runtime::SnapshotPtr snapshot, const runtime::Frontend& frontend,
                 int client_fd, const SocketAddress& client)
    : worker_(worker), snapshot_(std::move(snapshot)), frontend_(frontend),
      client_address_(client), id_(worker.nextSessionId()) {
  client_.fd = client_fd;
  setNoDelay(client_fd);
  setKeepalive(client_fd, frontend.config->tcp_keepalive);
  evtimer_assign(&timer_, worker_.base(), timerCallback, this);
  started_ = std::chrono::steady_clock::now();
  last_activity_ms_ = started_ms_ = nowMs();
  frontend_.stats->active.fetch_add(1, std::memory_order_relaxed);
  frontendCells().connections.add();
}

Session::~Session() {
  event_del(&timer_);
  worker_.poller().forget(token(false));
  worker_.poller().forget(token(true));
  client_.close();
  server_.close();
  discard(up_);
  discard(down_);
  leaveQueue(true);
  releaseServerSlot();
  if (frontend_.clients) {
    frontend_.clients->release(client_ticket_); // a no-op for a ticket never issued
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

runtime::ServerCells& Session::serverCells() const {
  return server_choice_->stats->cells.at(worker_.id());
}

// The client's socket is registered once, here, for everything the session will wait for; a new
// connection has often sent its first bytes already, so it starts out readable.
void Session::start() {
  // The active count includes this session, so more than the limit means we are one too many.
  if (frontend_.stats->active.load(std::memory_order_relaxed) > frontend_.config->max_connections) {
    frontendCells().rejected[rejectIndex(runtime::RejectReason::MaxConnections)].add();
    close(Termination::LimitReached);
    return;
  }
  if (!registerSocket(client_)) {
    close(Termination::ClientError);
    return;
  }
  client_.readable = client_.writable = true;
  if (frontend_.config->accept_proxy_protocol) {
    if (!trustedSender()) {
      return;
    }
    phase_ = Phase::ProxyHeader; // onProxyHeaderEvent() goes on
    armPreambleTimer();
    onProxyHeaderEvent();
    return;
  }
  if (admitSource()) {
    openClient();
  }
}

uint64_t Session::token(bool server_side) const {
  const auto self = reinterpret_cast<uintptr_t>(this);
  return server_side ? self | 1u | ((attempts_ & 3u) << 1) : self;
}

bool Session::registerSocket(const Endpoint& endpoint) {
  if (worker_.poller().add(endpoint.fd, token(&endpoint == &server_))) {
    return true;
  }
  log::proxy()->error("[C{:x}] cannot watch a socket: {}", id_, std::strerror(errno));
  return false;
}

void Session::onPoll(uint64_t token_value, uint32_t events) {
  if (closing_) {
    return; // closed earlier in this batch; destroyed once the batch is over
  }
  if ((token_value & 1u) == 0) {
    onClientEvent(events);
  } else if (token_value == token(true) && server_.fd >= 0) {
    onServerEvent(events);
  }
}

// The server a client's cookie names, on the first try; otherwise the balancer's choice among
// servers this session has not tried yet (and, unless it waits for its own server, that are not at
// their connection limit).
std::optional<size_t> Session::pickServer() {
  if (sticky_target_ && attempts_ == 0) {
    return sticky_target_;
  }
  if (hash_key_) {
    return pickByKey();
  }
  auto& candidates = worker_.candidates();
  runtime::fillCandidates(*backend_, std::span(tried_.data(), attempts_), runtime::steadyMs(),
                          candidates);
  skipFullServers(candidates);
  return worker_.balancer(backend_index_).pick(candidates, client_key_);
}

// Picks a server that this session has not tried yet, takes a slot on it, and starts a
// non-blocking connect; with every server it may use at its limit, waits in the queue.
void Session::connectServer() {
  const Claim claim = claimServer();
  if (claim.server) {
    connectTo(*claim.server);
    return;
  }
  if (claim.full) {
    waitInQueue(claim.wait_for);
    return;
  }
  if (attempts_ == 0) {
    frontendCells().rejected[rejectIndex(runtime::RejectReason::NoServer)].add();
  }
  close(attempts_ == 0 ? Termination::NoServer : Termination::ConnectFailed);
}

// A slot on `server` is ours already (claimServer or the queue).
void Session::connectTo(size_t server) {
  if (attempts_ > 0) {
    backend_->stats->cells.at(worker_.id()).retries.add();
  }
  tried_[attempts_++] = static_cast<uint32_t>(server);
  server_choice_ = &backend_->servers[server];
  counted_ = server_choice_->stats.get();
  connect_started_ = std::chrono::steady_clock::now();
  startConnect();
}

// The server's socket is registered once; its first write edge says the connect is done. The
// session's timer is the connect timeout (and the TLS handshake's) until then.
void Session::startConnect() {
  const auto& address = server_choice_->address;
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    onLocalConnectError(errno);
    return;
  }
  setNoDelay(fd);
  setKeepalive(fd, backend_->config->tcp_keepalive);
  server_.fd = fd;
  if (::connect(fd, address.get(), address.length()) < 0 && errno != EINPROGRESS) {
    onConnectFailed(std::strerror(errno));
    return;
  }
  if (!registerSocket(server_)) {
    onLocalConnectError(errno);
    return;
  }
  const timeval timeout = toTimeval(backend_->config->connect_timeout);
  evtimer_add(&timer_, &timeout);
}

// Out of descriptors or memory here is not the server's fault: it is neither ejected nor counted,
// and another server would fail the same way.
void Session::onLocalConnectError(int error) {
  log::proxy()->debug("[C{:x}] cannot open a socket to {}/{}: {}", id_, backend_->config->name,
                      server_choice_->name, std::strerror(error));
  close(Termination::ConnectFailed);
}

void Session::continueConnect(uint32_t events) {
  if (!tcp_connected_) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      return;
    }
    // A failed connect is flagged EPOLLERR; a plain write edge is a success.
    int error = 0;
    socklen_t length = sizeof(error);
    if ((events & (EPOLLERR | EPOLLHUP)) &&
        (getsockopt(server_.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0)) {
      onConnectFailed(std::strerror(error != 0 ? error : errno));
      return;
    }
    tcp_connected_ = true;
    if (backend_->config->send_proxy_protocol != config::ProxyProtocol::Off) {
      // A new connection's send buffer is empty, so a header of at most a few hundred bytes goes
      // out in one call, before any relayed byte (and before a TLS handshake).
      const std::string header = proxyHeaderBytes();
      if (::send(server_.fd, header.data(), header.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(header.size())) {
        onConnectFailed("cannot send the PROXY header");
        return;
      }
    }
    if (server_choice_->tls == nullptr) {
      onConnected();
      return;
    }
    if (!startServerTls()) {
      onConnectFailed("out of memory for TLS");
      return;
    }
  }
  continueServerHandshake();
}

void Session::onConnected() {
  connected_ = true;
  connect_seconds_ = secondsSince(connect_started_);
  snapshot_->worker_cells->at(worker_.id()).connect_duration.observe(connect_seconds_);
  runtime::ServerCells& cells = serverCells();
  cells.connections.add();
  cells.bytes_in.add(up_.bytes); // what the preamble read before the server was known
  server_choice_->stats->failures.store(0, std::memory_order_relaxed);
  armIdleTimer(); // the connect timeout is over
  if (log::proxy()->should_log(spdlog::level::debug)) {
    log::proxy()->debug("[C{:x}] connected to {}/{} ({}) in {:.3f} ms", id_,
                        backend_->config->name, server_choice_->name,
                        server_choice_->address.toString(), connect_seconds_ * 1e3);
  }
  const bool splice_now = frontend_.config->splice == config::Splice::On;
  up_.splice = splice_now && spliceAllowed(up_);
  down_.splice = splice_now && spliceAllowed(down_);
  pump();
}

void Session::onConnectFailed(std::string_view why) {
  log::proxy()->debug("[C{:x}] connect to {}/{} ({}) failed: {}", id_, backend_->config->name,
                      server_choice_->name, server_choice_->address.toString(), why);
  serverCells().connect_failures.add();
  countPassiveFailure();
  server_.close();
  tcp_connected_ = false;
  releaseServerSlot();
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

void Session::onClientEvent(uint32_t events) {
  client_.onEdge(events);
  last_activity_ms_ = nowMs();
  switch (phase_) {
  case Phase::ProxyHeader:
    onProxyHeaderEvent();
    return;
  case Phase::Handshake:
    continueClientHandshake();
    return;
  case Phase::ClientHello:
    if (readPreamble()) {
      readClientHello();
    }
    return;
  case Phase::RequestHead:
    if (readPreamble()) {
      readRequestHead();
    }
    return;
  case Phase::Relay:
    if (connected_) {
      pump(); // before that the client's bytes wait in its socket: the edge is remembered
    }
    return;
  }
}

void Session::onServerEvent(uint32_t events) {
  server_.onEdge(events);
  if (!connected_) {
    continueConnect(events);
    return;
  }
  last_activity_ms_ = nowMs();
  pump();
}

void Session::finishIfDone() {
  if (up_.eof && down_.eof && up_.shut && down_.shut) {
    close(server_closed_first_ ? Termination::ServerClosed : Termination::ClientClosed);
  }
}

// The idle limit, and before it the max_lifetime deadline (then its quiet checks).
void Session::armIdleTimer() {
  const timeval timeout =
      toTimeval(std::chrono::milliseconds(untilLifetimeCheckMs(idleLimitMs(), nowMs())));
  evtimer_add(&timer_, &timeout);
}

// `delay`, or less when max_lifetime is due sooner (then a quiet check every kLifetimeQuietMs).
uint64_t Session::untilLifetimeCheckMs(uint64_t delay, uint64_t now) const {
  const auto lifetime = static_cast<uint64_t>(frontend_.config->max_lifetime.count());
  if (lifetime == 0) {
    return delay;
  }
  const uint64_t age = now - started_ms_;
  return std::min(delay, age < lifetime ? lifetime - age : kLifetimeQuietMs);
}

// tunnel_timeout once the session is a tunnel, else the shorter of client and server timeouts.
uint64_t Session::idleLimitMs() const {
  if (traffic_ == Traffic::Tunnel) {
    return static_cast<uint64_t>(frontend_.config->tunnel_timeout.count());
  }
  return static_cast<uint64_t>(
      std::min(frontend_.config->client_timeout, backend_->config->server_timeout).count());
}

// Learns from the first bytes of each side whether the session is a tunnel (tunnel_timeout):
// an HTTP request answered by 101 Switching Protocols is (a WebSocket); an HTTP request answered
// otherwise is not (keep-alive HTTP keeps client_timeout); any other protocol is once both sides
// have spoken. Spliced bytes are not seen: they count as not HTTP. Runs until settled, then never.
void Session::noteTraffic(const Flow& flow, size_t bytes) {
  const std::string_view seen =
      flow.splice || flow.buffer == nullptr
          ? std::string_view()
          : std::string_view(flow.buffer->data() + flow.buffer->size() - bytes, bytes);
  const bool from_client = &flow == &up_;
  if (traffic_ == Traffic::Unknown && from_client && up_.bytes == bytes) {
    traffic_ = looksLikeHttpRequest(seen) ? Traffic::Http : Traffic::Unknown;
  }
  if (traffic_ == Traffic::Http) {
    if (!from_client) {
      traffic_ = isSwitchingProtocols(seen) ? Traffic::Tunnel : Traffic::Settled;
    }
  } else if (up_.bytes > 0 && down_.bytes > 0) {
    traffic_ = Traffic::Tunnel;
  }
}

// max_lifetime: past it, the session closes at its first quiet moment (nothing waiting either
// way, no traffic for kLifetimeQuietMs), and at the latest drain_timeout later.
bool Session::closeIfPastLifetime(uint64_t now, uint64_t idle) {
  const auto lifetime = static_cast<uint64_t>(frontend_.config->max_lifetime.count());
  const uint64_t age = now - started_ms_;
  if (lifetime == 0 || age < lifetime) {
    return false;
  }
  const bool quiet = idle >= kLifetimeQuietMs && pending(up_) == 0 && pending(down_) == 0;
  const auto grace = static_cast<uint64_t>(frontend_.config->drain_timeout.count());
  if (!quiet && age < lifetime + grace) {
    return false;
  }
  close(Termination::MaxLifetime);
  return true;
}

// Nothing moved for the shorter of client_timeout and server_timeout? Then close, blaming the side
// we were waiting for: the client when data for it was stuck unsent or when its timeout is the
// shorter, the server otherwise. Activity is read off a timestamp rather than by re-arming the
// timer on every read.
void Session::onIdleTimer() {
  switch (phase_) {
  case Phase::ProxyHeader:
    rejectProxyHeader("no complete header in time");
    return;
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
  case Phase::Relay:
    break;
  }
  if (queued_ != nullptr) {
    onQueueTimeout();
    return;
  }
  if (!connected_) {
    onConnectFailed("timed out");
    return;
  }
  const uint64_t now = nowMs();
  const uint64_t idle = now - last_activity_ms_;
  if (closeIfPastLifetime(now, idle)) {
    return;
  }
  const uint64_t limit = idleLimitMs();
  if (idle < limit) {
    const timeval timeout =
        toTimeval(std::chrono::milliseconds(untilLifetimeCheckMs(limit - idle, now)));
    evtimer_add(&timer_, &timeout);
    return;
  }
  if (traffic_ == Traffic::Tunnel) {
    close(Termination::TunnelTimeout);
    return;
  }
  const auto client_timeout = static_cast<uint64_t>(frontend_.config->client_timeout.count());
  const auto server_timeout = static_cast<uint64_t>(backend_->config->server_timeout.count());
  const bool waiting_on_client = client_timeout <= server_timeout || pending(down_) > 0;
  close(waiting_on_client ? Termination::ClientTimeout : Termination::ServerTimeout);
}

// Callers return at once: the session is gone.
void Session::close(Termination termination) {
  if (closing_) {
    return;
  }
  closing_ = true;
  if (AccessLog::Buffer* log = worker_.accessLog()) {
    log->append(accessLogLine(termination));
  }
  worker_.destroy(this);
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
      .bytes_in = up_.bytes,
      .bytes_out = down_.bytes,
      .connect_seconds = connect_seconds_,
      .duration_seconds = secondsSince(started_),
      .termination = terminationName(termination)};
  if (frontend_.tls != nullptr || frontend_.config->tls_passthrough) {
    addTlsFields(entry);
  }
  return formatAccessLogLine(entry);
}

void Session::timerCallback(evutil_socket_t, short, void* self) {
  static_cast<Session*>(self)->onIdleTimer();
}

} // namespace corral::proxy

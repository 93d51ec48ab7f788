// The preamble of a session, before a server is picked: the PROXY header of an upstream balancer,
// the client's bufferevent (TLS or plain), and the ClientHello of a tls_passthrough frontend. Each
// step is bounded in bytes and in time, because the client has not proved anything yet.

#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <array>
#include <cerrno>

#include "corral/balance/client_key.h"
#include "corral/core/log.h"
#include "corral/protocol/client_hello.h"
#include "corral/protocol/proxy_protocol.h"
#include "session.h"
#include "session_internal.h"
#include "worker.h"

namespace corral::proxy {
namespace {

// A v1 line is at most 107 bytes; a v2 header is 16 bytes plus addresses (36 for IPv6) plus TLVs,
// which upstream balancers keep to a few hundred bytes (AWS, GCP, Azure ids; HAProxy's SSL info).
// A header still incomplete at this size is refused rather than buffered further.
constexpr size_t kMaxProxyHeader = 4096;

// A ClientHello of kMaxClientHelloSize bytes plus the 5-byte headers of the records it spans.
constexpr size_t kMaxClientHelloBytes = protocol::kMaxClientHelloSize + 1024;

SocketAddress localAddress(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length);
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&storage), length);
}

std::chrono::milliseconds preambleTimeout(const config::FrontendConfig& frontend) {
  return std::min(frontend.client_timeout, kMaxPreambleTimeout);
}

} // namespace

void Session::armPreambleTimer() {
  const timeval timeout = toTimeval(preambleTimeout(*frontend_.config));
  evtimer_add(&idle_timer_, &timeout);
}

// The header is read with MSG_PEEK and only its own bytes are taken off the socket, so that what
// follows (a TLS ClientHello, the client's request) is still there for the bufferevent that the
// session opens next, whatever kind it is.
void Session::readProxyHeader() {
  phase_ = Phase::ProxyHeader;
  const auto timeout = preambleTimeout(*frontend_.config);
  preamble_deadline_ = std::chrono::steady_clock::now() + timeout;
  event_assign(&idle_timer_, worker_.base(), client_fd_, EV_READ, proxyHeaderCallback, this);
  const timeval delay = toTimeval(timeout);
  event_add(&idle_timer_, &delay);
}

void Session::onProxyHeaderEvent() {
  if (!takeProxyHeader()) {
    return; // closed, or waiting for more with the deadline re-armed
  }
  event_del(&idle_timer_);
  evtimer_assign(&idle_timer_, worker_.base(), timerCallback, this);
  openClient();
}

// Returns true once the whole header has been taken; false when it needs more (the event is
// re-armed) or when the session was closed.
bool Session::takeProxyHeader() {
  const auto reject = [this](std::string_view why) {
    log::proxy()->debug("[C{:x}] PROXY header from {}: {}", id_, client_address_.toString(), why);
    frontendCells().rejected[rejectIndex(runtime::RejectReason::ProxyProtocol)].add();
    close(Termination::BadProxyHeader);
    return false;
  };
  std::array<char, kMaxProxyHeader> peeked{};
  const ssize_t n = ::recv(client_fd_, peeked.data(), kMaxProxyHeader - proxy_header_.size(), MSG_PEEK);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    return reject("connection closed before a complete header");
  }
  const size_t taken_before = proxy_header_.size();
  proxy_header_.append(peeked.data(), static_cast<size_t>(std::max<ssize_t>(n, 0)));
  const auto header = protocol::parseProxyHeader(proxy_header_);
  if (header.isBad()) {
    return reject(header.error);
  }
  if (header.needsMore() && proxy_header_.size() >= kMaxProxyHeader) {
    return reject("header longer than 4096 bytes");
  }
  // Every byte seen so far belongs to the header (a prefix needs more; a done header says where
  // it ends): take those bytes off the socket and leave the rest.
  const size_t own = header.isDone() ? header.value.consumed - taken_before
                                     : proxy_header_.size() - taken_before;
  if (own > 0 && ::recv(client_fd_, peeked.data(), own, 0) != static_cast<ssize_t>(own)) {
    return reject("connection failed while reading the header");
  }
  if (header.needsMore()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        preamble_deadline_ - std::chrono::steady_clock::now());
    const timeval delay = toTimeval(std::max(left, std::chrono::milliseconds(0)));
    event_add(&idle_timer_, &delay);
    return false;
  }
  if (header.value.source) { // LOCAL and UNKNOWN keep the connection's own addresses (§2.1, §2.2)
    client_address_ = *header.value.source;
    proxied_destination_ = header.value.destination;
  }
  std::string().swap(proxy_header_);
  return true;
}

void Session::openClient() {
  if (frontend_.tls != nullptr) {
    openTlsClient(client_fd_);
  } else {
    client_.bev = bufferevent_socket_new(worker_.base(), client_fd_, BEV_OPT_CLOSE_ON_FREE);
  }
  if (client_.bev == nullptr) {
    log::proxy()->error("[C{:x}] out of memory for a client connection", id_);
    close(Termination::ClientError);
    return;
  }
  bufferevent_setcb(client_.bev, readCallback, writeCallback, eventCallback, this);
  bufferevent_set_max_single_read(client_.bev, kMaxSingleRead);
  // Until the server is connected the client's bytes wait in its input buffer; cap it.
  bufferevent_setwatermark(client_.bev, EV_READ, 0, kHighWatermark);
  bufferevent_setwatermark(client_.bev, EV_WRITE, kLowWatermark, 0);
  bufferevent_enable(client_.bev, EV_READ);
  if (client_.tls) {
    phase_ = Phase::Handshake; // onClientHandshake() goes on
    armPreambleTimer();
    return;
  }
  routeClient();
}

void Session::routeClient() {
  if (frontend_.config->tls_passthrough) {
    phase_ = Phase::ClientHello; // readClientHello() picks the backend
    armPreambleTimer();
    return;
  }
  useBackend(frontend_.backend);
  beginBackend();
}

void Session::useBackend(size_t index) {
  backend_index_ = index;
  backend_ = &snapshot_->backends[index];
  switch (backend_->placement()) {
  case config::Balance::LeastConnections:
    chosen_by_ = ChosenBy::LeastConnections;
    break;
  case config::Balance::IpHash:
    chosen_by_ = ChosenBy::IpHash;
    client_key_ = balance::clientKey(client_address_, backend_->config->ip_hash.ipv4_prefix,
                                     backend_->config->ip_hash.ipv6_prefix);
    break;
  default:
    chosen_by_ = ChosenBy::RoundRobin;
  }
}

void Session::beginBackend() {
  event_del(&idle_timer_);
  if (backend_->config->balance == config::Balance::StickyCookie) {
    phase_ = Phase::RequestHead; // readRequestHead() connects once the head is in
    const timeval header_timeout = toTimeval(backend_->config->sticky_cookie.header_timeout);
    evtimer_add(&idle_timer_, &header_timeout);
    // A TLS client may have sent its request right behind its last handshake message.
    if (evbuffer_get_length(bufferevent_get_input(client_.bev)) > 0) {
      readRequestHead();
    }
    return;
  }
  phase_ = Phase::Relay;
  armIdleTimer();
  connectServer();
}

// tls_passthrough: the backend is chosen by the ClientHello's server name. The hello stays in the
// input buffer and goes to the server first, byte for byte: corral never decrypts.
void Session::readClientHello() {
  evbuffer* input = bufferevent_get_input(client_.bev);
  const auto hello = protocol::parseClientHello(pullup(input, kMaxClientHelloBytes));
  if (hello.needsMore() && !client_.read_eof &&
      evbuffer_get_length(input) < kMaxClientHelloBytes) {
    return; // the preamble timer bounds the wait
  }
  if (!hello.isDone()) {
    log::proxy()->debug("[C{:x}] no ClientHello from {}: {}", id_, client_address_.toString(),
                        hello.isBad() ? std::string_view(hello.error) : "incomplete");
    frontendCells().rejected[rejectIndex(runtime::RejectReason::Tls)].add();
    close(Termination::ClientError);
    return;
  }
  const auto& name = hello.value.server_name;
  const size_t backend = name ? frontend_.routeSni(*name) : frontend_.backend;
  if (name) {
    passthrough_sni_ = *name;
  }
  if (backend == runtime::Frontend::kNoBackend) {
    log::proxy()->debug("[C{:x}] no route for server name \"{}\"", id_, passthrough_sni_);
    frontendCells().rejected[rejectIndex(runtime::RejectReason::NoServer)].add();
    close(Termination::NoServer);
    return;
  }
  useBackend(backend);
  beginBackend();
}

// send_proxy_protocol: the client's address (or the one an upstream PROXY header gave) and the
// address it connected to.
std::string Session::proxyHeaderBytes() const {
  const SocketAddress destination =
      proxied_destination_ ? *proxied_destination_ : localAddress(client_fd_);
  return backend_->config->send_proxy_protocol == config::ProxyProtocol::V1
             ? protocol::writeProxyV1(client_address_, destination)
             : protocol::writeProxyV2(client_address_, destination);
}

void Session::sendProxyHeader() {
  const std::string header = proxyHeaderBytes();
  evbuffer_add(bufferevent_get_output(server_.bev), header.data(), header.size());
}

void Session::proxyHeaderCallback(evutil_socket_t, short events, void* self) {
  auto* session = static_cast<Session*>(self);
  if (events & EV_TIMEOUT) {
    log::proxy()->debug("[C{:x}] no complete PROXY header in time", session->id_);
    session->frontendCells().rejected[rejectIndex(runtime::RejectReason::ProxyProtocol)].add();
    session->close(Termination::BadProxyHeader);
    return;
  }
  session->onProxyHeaderEvent();
}

} // namespace corral::proxy

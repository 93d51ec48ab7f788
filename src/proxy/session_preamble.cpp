// The preamble of a session, before a server is picked: the PROXY header of an upstream balancer,
// the client's TLS handshake, and the ClientHello of a tls_passthrough frontend. Each step is
// bounded in bytes and in time, because the client has not proved anything yet.

#include <sys/socket.h>

#include <event2/event.h>

#include <array>
#include <cerrno>

#include "corral/balance/client_key.h"
#include "corral/core/cidr.h"
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
  evtimer_add(&timer_, &timeout);
}

// The header is read with MSG_PEEK and only its own bytes are taken off the socket, so that what
// follows (a TLS ClientHello, the client's request) is still there for the next step. The
// preamble timer bounds the whole header.
void Session::onProxyHeaderEvent() {
  if (!takeProxyHeader()) {
    return; // closed, or waiting for more
  }
  event_del(&timer_);
  client_.readable = true; // what followed the header is still in the socket
  if (admitSource()) {
    openClient();
  }
}

// trusted_proxies: only the listed senders may speak for a client; anyone else is closed before
// a byte is read (with no list, check allows accept_proxy_protocol on loopback only).
bool Session::trustedSender() {
  const auto& senders = frontend_.config->trusted_proxies;
  if (senders.empty() || anyContains(senders, toIp16(client_address_))) {
    return true;
  }
  log::proxy()->debug("[C{:x}] PROXY header expected from {}, which is not a trusted proxy", id_,
                      client_address_.toString());
  frontendCells().rejected[rejectIndex(runtime::RejectReason::UntrustedProxy)].add();
  close(Termination::BadProxyHeader);
  return false;
}

// The source rules, on the client's address (the PROXY header's when the frontend takes one):
// deny wins, and a non-empty allow list admits only what it holds. Both lists are immutable
// (snapshot), so this takes no lock.
bool Session::admitSource() {
  const Ip16 ip = toIp16(client_address_);
  const auto& config = *frontend_.config;
  if (anyContains(config.deny, ip) || (!config.allow.empty() && !anyContains(config.allow, ip))) {
    log::proxy()->debug("[C{:x}] {} denied by the source rules", id_, client_address_.toString());
    frontendCells().rejected[rejectIndex(runtime::RejectReason::Denied)].add();
    close(Termination::Denied);
    return false;
  }
  return admitClient(ip);
}

// max_connections_per_client and connection_rate_per_client, in the frontend's table shared by
// every worker (runtime/client_table.h: one shard's lock, here only).
bool Session::admitClient(const Ip16& ip) {
  if (!frontend_.clients) {
    return true;
  }
  const auto& config = *frontend_.config;
  const auto verdict = frontend_.clients->admit(
      ip,
      {.max_connections = config.max_connections_per_client,
       .rate = config.connection_rate_per_client},
      runtime::steadyMs(), client_ticket_);
  if (verdict == runtime::ClientTable::Verdict::Admitted) {
    return true;
  }
  const bool too_fast = verdict == runtime::ClientTable::Verdict::TooFast;
  log::proxy()->debug("[C{:x}] {} over {}", id_, client_address_.toString(),
                      too_fast ? "connection_rate_per_client" : "max_connections_per_client");
  frontendCells().rejected[rejectIndex(too_fast ? runtime::RejectReason::ClientRate
                                                : runtime::RejectReason::ClientLimit)].add();
  close(too_fast ? Termination::ClientRate : Termination::ClientLimit);
  return false;
}

void Session::rejectProxyHeader(std::string_view why) {
  log::proxy()->debug("[C{:x}] PROXY header from {}: {}", id_, client_address_.toString(), why);
  frontendCells().rejected[rejectIndex(runtime::RejectReason::ProxyProtocol)].add();
  close(Termination::BadProxyHeader);
}

// Returns true once the whole header has been taken; false when it needs more (the next edge
// brings it) or when the session was closed. Every peek sees the header from its first byte.
bool Session::takeProxyHeader() {
  if (!client_.readable) {
    return false;
  }
  std::array<char, kMaxProxyHeader> peeked;
  const ssize_t n = ::recv(client_.fd, peeked.data(), peeked.size(), MSG_PEEK);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    rejectProxyHeader("connection closed before a complete header");
    return false;
  }
  if (n < 0) {
    client_.readable = false;
    return false;
  }
  const std::string_view seen(peeked.data(), static_cast<size_t>(n));
  const auto header = protocol::parseProxyHeader(seen);
  if (header.isBad()) {
    rejectProxyHeader(header.error);
    return false;
  }
  if (header.needsMore()) {
    if (seen.size() >= kMaxProxyHeader) {
      rejectProxyHeader("header longer than 4096 bytes");
    } else {
      client_.readable = false; // more bytes bring a new edge
    }
    return false;
  }
  // Take exactly the header's bytes off the socket and leave the rest.
  const size_t own = header.value.consumed;
  if (::recv(client_.fd, peeked.data(), own, 0) != static_cast<ssize_t>(own)) {
    rejectProxyHeader("connection failed while reading the header");
    return false;
  }
  if (header.value.source) { // LOCAL and UNKNOWN keep the connection's own addresses (§2.1, §2.2)
    client_address_ = *header.value.source;
    proxied_destination_ = header.value.destination;
  }
  return true;
}

void Session::openClient() {
  if (frontend_.tls != nullptr) {
    if (!openTlsClient()) {
      log::proxy()->error("[C{:x}] out of memory for a TLS connection", id_);
      close(Termination::ClientError);
      return;
    }
    phase_ = Phase::Handshake; // continueClientHandshake() goes on
    armPreambleTimer();
    continueClientHandshake();
    return;
  }
  routeClient();
}

void Session::routeClient() {
  if (frontend_.config->tls_passthrough) {
    phase_ = Phase::ClientHello; // readClientHello() picks the backend
    armPreambleTimer();
    if (readPreamble()) {
      readClientHello();
    }
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
  event_del(&timer_);
  if (needsRequestHead()) {
    phase_ = Phase::RequestHead; // readRequestHead() connects once the head is in
    const timeval header_timeout = toTimeval(backend_->config->sticky_cookie.header_timeout);
    evtimer_add(&timer_, &header_timeout);
    // A TLS client may have sent its request right behind its last handshake message.
    if (readPreamble()) {
      readRequestHead();
    }
    return;
  }
  keyFromConnection();
  phase_ = Phase::Relay;
  armIdleTimer();
  connectServer();
}

// Reads what the client has sent so far into the client→server buffer, where the preamble looks
// at it and from where it goes to the server once one is connected. Returns false when the
// session closed.
bool Session::readPreamble() {
  while (client_.readable && !up_.eof) {
    if (up_.buffer == nullptr) {
      up_.buffer = worker_.buffers().take();
    }
    if (up_.buffer->room() == 0) {
      return true;
    }
    const Io io = client_.receive(up_.buffer->space(), up_.buffer->room());
    up_.buffer->commit(io.bytes);
    up_.bytes += io.bytes;
    if (io.status == IoStatus::Closed) {
      up_.eof = true;
    } else if (io.status == IoStatus::Failed) {
      close(Termination::ClientError);
      return false;
    } else if (io.status == IoStatus::Blocked) {
      break;
    }
  }
  return true;
}

/// What the preamble has read so far, at most `limit` bytes.
std::string_view Session::preambleBytes(size_t limit) const {
  if (up_.buffer == nullptr) {
    return {};
  }
  return {up_.buffer->data(), std::min(up_.buffer->size(), limit)};
}

// tls_passthrough: the backend is chosen by the ClientHello's server name. The hello stays in the
// input buffer and goes to the server first, byte for byte: corral never decrypts.
void Session::readClientHello() {
  const auto hello = protocol::parseClientHello(preambleBytes(kMaxClientHelloBytes));
  if (hello.needsMore() && !up_.eof && up_.buffer->size() < kMaxClientHelloBytes) {
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
      proxied_destination_ ? *proxied_destination_ : localAddress(client_.fd);
  return backend_->config->send_proxy_protocol == config::ProxyProtocol::V1
             ? protocol::writeProxyV1(client_address_, destination)
             : protocol::writeProxyV2(client_address_, destination);
}

} // namespace corral::proxy

#pragma once
// One client connection and its server connection: accept → (PROXY header) → (TLS handshake, or
// the ClientHello of a passthrough frontend) → (first request head, cookie mode) → pick server →
// connect with timeout (and TLS), retry elsewhere → relay both ways with watermarks → pass
// half-closes through → close, log once.

#include <event2/bufferevent.h>
#include <event2/event_struct.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <optional>
#include <span>

#include "corral/core/address.h"
#include "corral/runtime/snapshot.h"
#include "corral/tls/handshake.h"

namespace corral::proxy {

class Worker;
struct AccessLogEntry;

/// Why a session ended, as the access log names it.
enum class Termination {
  ClientClosed,
  ServerClosed,
  ClientTimeout,
  ServerTimeout,
  ClientError,
  ServerError,
  ConnectFailed,
  NoServer,
  LimitReached,
  Shutdown,           // still open when the drain timeout ran out
  TlsHandshakeFailed, // the client's TLS handshake failed or timed out (counted by reason)
  BadProxyHeader,     // accept_proxy_protocol: the PROXY header was missing, malformed or late
};
std::string_view terminationName(Termination termination);

/// How the server was chosen, as the access log names it.
enum class ChosenBy { RoundRobin, LeastConnections, IpHash, Cookie, Redispatch };
std::string_view chosenByName(ChosenBy chosen_by);

class Session {
public:
  Session(Worker& worker, runtime::SnapshotPtr snapshot, const runtime::Frontend& frontend,
          int client_fd, const SocketAddress& client);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Starts the pipeline; the session may close (and delete itself) before this returns.
  void start();
  /// Closes now, for the drain deadline.
  void shutdown() { close(Termination::Shutdown); }
  const runtime::Frontend& frontend() const { return frontend_; }

  // Intrusive list of the worker's sessions: no allocation beyond the session itself.
  Session* prev = nullptr;
  Session* next = nullptr;

private:
  /// What the session waits for; everything before Relay is the bounded preamble.
  enum class Phase : uint8_t { ProxyHeader, Handshake, ClientHello, RequestHead, Relay };

  struct Peer {
    bufferevent* bev = nullptr;
    bool read_eof = false;   // the peer shut down its sending side
    bool write_shut = false; // we shut down our sending side towards it
    bool tls = false;        // bev is an OpenSSL bufferevent
    uint64_t bytes = 0;      // bytes read from this peer
  };

  // The preamble (session_preamble.cpp): PROXY header, then the client's bufferevent, then the
  // ClientHello of a passthrough frontend; each step bounded in size and time.
  void readProxyHeader();
  void onProxyHeaderEvent();
  bool takeProxyHeader();
  void openClient();
  void routeClient();
  void readClientHello();
  void useBackend(size_t index);
  void beginBackend();
  void armPreambleTimer();
  std::string proxyHeaderBytes() const;
  void sendProxyHeader();
  // TLS (session_tls.cpp): the client's handshake, TLS to servers, close_notify on half-close.
  void openTlsClient(int fd);
  void onClientHandshake(short events);
  void countHandshakeFailure(tls::HandshakeFailure failure);
  bufferevent* newServerBufferevent();
  void setUpServerBufferevent();
  void upgradeServerToTls();
  std::string serverTlsFailure();
  static void sendCloseNotify(const Peer& peer);
  void addTlsFields(AccessLogEntry& entry) const;

  void connectServer();
  std::optional<size_t> pickServer();
  // Sticky cookie mode (session_http.cpp): read the first request head, route by its cookie, and
  // put a fresh Set-Cookie into the first response head when the client needs one.
  void readRequestHead();
  void routeByCookie(std::span<const std::string_view> cookie_headers);
  void placeWithoutCookie(runtime::StickyResult result);
  void forwardResponseHead();
  std::string setCookieHeader() const;
  void onServerConnectEvent(short events);
  void onConnected();
  void onConnectFailed(std::string_view why);
  void countPassiveFailure();
  void onReadable(Peer& from);
  void onPreambleReadable();
  void forward(Peer& from);
  void onWritable(Peer& to);
  bool passHalfClose(Peer& to);
  void onEvent(Peer& peer, short events);
  void onEof(Peer& from);
  void flushThenClose();
  void finishIfDone();
  void armIdleTimer();
  void onIdleTimer();
  void close(Termination termination);
  std::string accessLogLine(Termination termination) const;
  runtime::FrontendCells& frontendCells() const;

  Peer& other(Peer& peer) { return &peer == &client_ ? server_ : client_; }
  Peer& peerOf(bufferevent* bev) { return bev == client_.bev ? client_ : server_; }
  static void readCallback(bufferevent* bev, void* self);
  static void writeCallback(bufferevent* bev, void* self);
  static void eventCallback(bufferevent* bev, short events, void* self);
  static void timerCallback(evutil_socket_t, short, void* self);
  static void proxyHeaderCallback(evutil_socket_t, short events, void* self);
  uint64_t nowMs() const;

  Worker& worker_;
  runtime::SnapshotPtr snapshot_; // kept for the session's life: a reload does not move it
  const runtime::Frontend& frontend_;
  const runtime::Backend* backend_ = nullptr; // set once the route is known (useBackend)
  size_t backend_index_ = 0;
  SocketAddress client_address_;  // the PROXY header's source, when the frontend accepts one
  std::optional<SocketAddress> proxied_destination_; // the PROXY header's destination
  std::string proxy_header_;      // accept_proxy_protocol: the header bytes taken so far
  std::string passthrough_sni_;   // tls_passthrough: the ClientHello's server name, for the log
  int client_fd_;
  uint64_t id_;
  Peer client_;
  Peer server_;
  Phase phase_ = Phase::Relay;
  bool connected_ = false;
  bool handshake_done_ = false;
  std::optional<tls::HandshakeFailure> tls_failure_; // why the client's handshake failed
  const runtime::Server* server_choice_ = nullptr;
  runtime::ServerStats* counted_ = nullptr; // the server whose active count we raised
  static constexpr size_t kMaxTries = 11;   // retries <= 10 (config/)
  std::array<uint32_t, kMaxTries> tried_{};
  uint32_t attempts_ = 0;
  event idle_timer_{}; // also watches the client's socket while the PROXY header is read
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point connect_started_;
  std::chrono::steady_clock::time_point preamble_deadline_;
  double connect_seconds_ = 0;
  uint64_t last_activity_ms_ = 0;
  bool server_closed_first_ = false;
  bool insert_cookie_ = false;            // a Set-Cookie goes into the first response head
  std::optional<size_t> sticky_target_;   // the server the client's cookie names
  ChosenBy chosen_by_ = ChosenBy::RoundRobin;
  uint64_t client_key_ = 0;               // hash of the client address, for ip_hash
  bool flushing_ = false; // the server failed: only the client's pending output still moves
  bool closing_ = false;
};

} // namespace corral::proxy

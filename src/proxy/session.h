#pragma once
// One client connection and its server connection: accept → (PROXY header) → (TLS handshake, or
// the ClientHello of a passthrough frontend) → (first request head, cookie mode) → pick server →
// connect with timeout (and TLS), retry elsewhere → relay both ways → pass half-closes through →
// close, log once.
//
// The relay reads and writes in the same callback: a read is written to the other side at once,
// and only what a short write leaves behind waits, in a pooled buffer (or, spliced, in a pooled
// pipe). While a direction has bytes waiting its source is not read, so a session holds at most
// one buffer or pipe per direction.

#include <event2/event_struct.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "corral/balance/balancer.h"
#include "corral/core/address.h"
#include "corral/runtime/snapshot.h"
#include "corral/tls/handshake.h"
#include "endpoint.h"
#include "pools.h"

namespace corral::proxy {

class Worker;
class QueuedClient;
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
  BadProxyHeader,     // accept_proxy_protocol: the PROXY header was missing, malformed, late or
                      // from a sender not in trusted_proxies
  QueueTimeout,       // waited queue.timeout for a server under its max_connections
  QueueFull,          // every server was at its limit and queue.max clients waited already
  Denied,             // the source address is denied, or not allowed (allow/deny)
  ClientLimit,        // max_connections_per_client
  ClientRate,         // connection_rate_per_client
  TunnelTimeout,      // idle past tunnel_timeout, once a tunnel (after 101 or a non-HTTP exchange)
  MaxLifetime,        // older than max_lifetime, closed at a quiet moment
  BadRequest,         // sticky_cookie: the request head is longer than max_header_size
};
std::string_view terminationName(Termination termination);

/// How the server was chosen, as the access log names it.
enum class ChosenBy { RoundRobin, LeastConnections, IpHash, Cookie, Redispatch, Hash };
std::string_view chosenByName(ChosenBy chosen_by);

class Session {
public:
  Session(Worker& worker, runtime::SnapshotPtr snapshot, const runtime::Frontend& frontend,
          int client_fd, const SocketAddress& client);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Starts the pipeline; the session may close (and be destroyed) before this returns.
  void start();
  /// Closes now, for the drain deadline.
  void shutdown() { close(Termination::Shutdown); }
  /// An epoll event (or, with events 0, a turn asked for with Poller::again) for the socket that
  /// `token` names; stale tokens (an earlier server socket, a closed session) are ignored.
  void onPoll(uint64_t token, uint32_t events);
  /// The session a Poller token names.
  static Session* fromToken(uint64_t token) {
    return reinterpret_cast<Session*>(token & ~uint64_t{kTokenBits});
  }
  const runtime::Frontend& frontend() const { return frontend_; }
  /// Its turn in the backend's queue came: a slot on a server is held for it (session_queue.cpp).
  void onQueueTurn();

  // Intrusive list of the worker's sessions: no allocation beyond the session itself.
  Session* prev = nullptr;
  Session* next = nullptr;

private:
  /// What the session waits for; everything before Relay is the bounded preamble.
  enum class Phase : uint8_t { ProxyHeader, Handshake, ClientHello, RequestHead, Relay };

  /// One direction of the relay. Bytes read from its source wait in `buffer` or `pipe` only until
  /// its destination takes them.
  struct Flow {
    Buffer* buffer = nullptr;
    Pipe pipe;
    uint32_t in_pipe = 0;
    bool splice = false; // reads go into the pipe (both sides plain TCP, per `splice:`)
    bool eof = false;    // the source will send nothing more
    bool shut = false;   // we passed that on: the destination's sending side is shut
    uint64_t bytes = 0;  // read from the source
  };

  // The preamble (session_preamble.cpp): PROXY header, then the client's TLS handshake, then the
  // ClientHello of a passthrough frontend; each step bounded in size and time.
  void onProxyHeaderEvent();
  bool takeProxyHeader();
  bool admitSource();
  bool trustedSender();
  bool admitClient(const Ip16& ip);
  void rejectProxyHeader(std::string_view why);
  void openClient();
  void routeClient();
  bool readPreamble();
  std::string_view preambleBytes(size_t limit) const;
  void readClientHello();
  void useBackend(size_t index);
  void beginBackend();
  void armPreambleTimer();
  std::string proxyHeaderBytes() const;
  // TLS (session_tls.cpp): the client's handshake, TLS to servers.
  bool openTlsClient();
  void continueClientHandshake();
  void countHandshakeFailure(tls::HandshakeFailure failure);
  bool startServerTls();
  void continueServerHandshake();
  std::string serverTlsFailure();
  void addTlsFields(AccessLogEntry& entry) const;
  // Sticky cookie mode (session_http.cpp): read the first request head, route by its cookie, and
  // put a fresh Set-Cookie into the first response head when the client needs one.
  void readRequestHead();
  void routeByCookie(std::span<const std::string_view> cookie_headers);
  void placeWithoutCookie(runtime::StickyResult result);
  void insertCookie();
  std::string setCookieHeader() const;
  // balance: hash (session_key.cpp): the key from the connection or the first request head.
  bool needsRequestHead() const;
  std::string_view requestHeadHeader() const;
  void keyFromConnection();
  void placeByKey(std::optional<std::string_view> value);
  void setHashKey(std::optional<uint64_t> key);
  std::optional<size_t> pickByKey();
  // Placement and connect (session.cpp).
  void connectServer();
  std::optional<size_t> pickServer();
  void connectTo(size_t server);
  // Server limits and the backend's queue (session_queue.cpp).
  struct Claim {
    std::optional<size_t> server; // a slot on it is ours
    bool full = false;            // some server could take the client but is at its limit
    std::optional<size_t> wait_for; // the full server this client waits for (sticky, hashed)
  };
  Claim claimServer();
  bool waitsForItsServer() const;
  void skipFullServers(std::vector<balance::Candidate>& candidates);
  void waitInQueue(std::optional<size_t> wait_for);
  void onQueueTimeout();
  void leaveQueue(bool give_back);
  void releaseServerSlot();
  void startConnect();
  void continueConnect(uint32_t events);
  void onConnected();
  void onConnectFailed(std::string_view why);
  void onLocalConnectError(int error);
  void countPassiveFailure();
  // The relay (session_relay.cpp).
  void pump();
  bool move(Flow& flow);
  bool fill(Flow& flow);
  bool flush(Flow& flow);
  bool onIoFailure(Flow& flow, bool reading);
  void passHalfClose(Flow& flow);
  void flushThenClose();
  void release(Flow& flow);
  void discard(Flow& flow);
  bool spliceAllowed(const Flow& flow) const;
  size_t pending(const Flow& flow) const { return flow.in_pipe + (flow.buffer ? flow.buffer->size() : 0); }
  size_t ready(const Flow& flow) const;
  size_t readLimit(const Flow& flow) const;
  void account(Flow& flow, size_t bytes);
  Endpoint& source(const Flow& flow) { return &flow == &up_ ? client_ : server_; }
  Endpoint& destination(const Flow& flow) { return &flow == &up_ ? server_ : client_; }

  // A Poller token: the session's address (16-byte aligned) with the side in bit 0 and, for the
  // server, which connect attempt it is in bits 1-2, so that an event still queued for a socket
  // closed by a failed connect does not reach its successor.
  static constexpr uintptr_t kTokenBits = 0x7;
  uint64_t token(bool server_side) const;
  bool registerSocket(const Endpoint& endpoint);
  void onClientEvent(uint32_t events);
  void onServerEvent(uint32_t events);
  void finishIfDone();
  void armIdleTimer();
  void onIdleTimer();
  uint64_t idleLimitMs() const;
  uint64_t untilLifetimeCheckMs(uint64_t delay, uint64_t now) const;
  bool closeIfPastLifetime(uint64_t now, uint64_t idle);
  void noteTraffic(const Flow& flow, size_t bytes);
  void close(Termination termination);
  std::string accessLogLine(Termination termination) const;
  runtime::FrontendCells& frontendCells() const;
  runtime::ServerCells& serverCells() const;
  static void timerCallback(evutil_socket_t, short, void* self);
  uint64_t nowMs() const;

  Worker& worker_;
  runtime::SnapshotPtr snapshot_; // kept for the session's life: a reload does not move it
  const runtime::Frontend& frontend_;
  const runtime::Backend* backend_ = nullptr; // set once the route is known (useBackend)
  size_t backend_index_ = 0;
  SocketAddress client_address_;  // the PROXY header's source, when the frontend accepts one
  std::optional<SocketAddress> proxied_destination_; // the PROXY header's destination
  std::string passthrough_sni_;   // tls_passthrough: the ClientHello's server name, for the log
  uint64_t id_;
  Endpoint client_;
  Endpoint server_;
  Flow up_;   // client → server
  Flow down_; // server → client
  Phase phase_ = Phase::Relay;
  bool tcp_connected_ = false; // the server's TCP connect completed (TLS may follow)
  bool connected_ = false;     // ... and its TLS handshake, if any: relaying
  bool handshake_done_ = false;
  bool server_closed_first_ = false;
  bool insert_cookie_ = false; // a Set-Cookie goes into the first response head
  bool flushing_ = false;      // the server failed: only what the client is owed still moves
  bool closing_ = false;
  ChosenBy chosen_by_ = ChosenBy::RoundRobin;
  std::optional<tls::HandshakeFailure> tls_failure_; // why the client's handshake failed
  uint32_t cookie_scan_ = 0; // insert_cookie_: bytes of down_.buffer whose heads are done
  const runtime::Server* server_choice_ = nullptr;
  runtime::ServerStats* counted_ = nullptr; // the server whose active count we raised
  static constexpr size_t kMaxTries = 11;   // retries <= 10 (config/)
  std::array<uint32_t, kMaxTries> tried_{}; // indexes of the servers tried
  uint32_t attempts_ = 0;
  std::optional<size_t> sticky_target_;     // the server the client's cookie names
  bool saw_full_ = false;                   // the last pickServer passed over a full server
  std::shared_ptr<QueuedClient> queued_;    // while waiting in the backend's queue
  std::chrono::steady_clock::time_point queued_since_;
  event timer_{}; // the preamble's deadline, then the connect timeout, then the idle timeout
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point connect_started_;
  double connect_seconds_ = 0;
  uint64_t last_activity_ms_ = 0;
  uint64_t started_ms_ = 0; // on nowMs()'s clock, for max_lifetime
  uint64_t client_key_ = 0; // hash of the client address, for ip_hash
  /// What the relay has learnt of the protocol, for tunnel_timeout: the client's first bytes look
  /// like an HTTP request (then a 101 answer makes a tunnel) or not (then the first exchange does).
  enum class Traffic : uint8_t { Unknown, Http, Settled, Tunnel };
  Traffic traffic_ = Traffic::Unknown;
  runtime::ClientTable::Ticket client_ticket_; // counted in frontend_.clients until released
  std::optional<uint64_t> hash_key_; // balance: hash, when the connection carries the key
};

} // namespace corral::proxy

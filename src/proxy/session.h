#pragma once
// One client connection and its server connection: accept → pick server → connect with timeout,
// retry elsewhere → relay both ways with watermarks → pass half-closes through → close, log once.

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

namespace corral::proxy {

class Worker;

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
  Shutdown, // still open when the drain timeout ran out
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
  struct Peer {
    bufferevent* bev = nullptr;
    bool read_eof = false;   // the peer shut down its sending side
    bool write_shut = false; // we shut down our sending side towards it
    uint64_t bytes = 0;      // bytes read from this peer
  };

  void connectServer();
  std::optional<size_t> pickServer();
  // Sticky cookie mode (session_http.cpp): read the first request head, route by its cookie, and
  // put a fresh Set-Cookie into the first response head when the client needs one.
  void readRequestHead();
  void routeByCookie(std::span<const std::string_view> cookie_headers);
  void placeWithoutCookie(runtime::StickyResult result);
  void forwardResponseHead();
  std::string setCookieHeader() const;
  void onConnected();
  void onConnectFailed(std::string_view why);
  void countPassiveFailure();
  void onReadable(Peer& from);
  void forward(Peer& from);
  void onWritable(Peer& to);
  bool passHalfClose(Peer& to);
  void onEvent(Peer& peer, short events);
  void onEof(Peer& from);
  void finishIfDone();
  void armIdleTimer();
  void onIdleTimer();
  void close(Termination termination);
  std::string accessLogLine(Termination termination) const;

  Peer& other(Peer& peer) { return &peer == &client_ ? server_ : client_; }
  Peer& peerOf(bufferevent* bev) { return bev == client_.bev ? client_ : server_; }
  static void readCallback(bufferevent* bev, void* self);
  static void writeCallback(bufferevent* bev, void* self);
  static void eventCallback(bufferevent* bev, short events, void* self);
  static void timerCallback(evutil_socket_t, short, void* self);
  uint64_t nowMs() const;

  Worker& worker_;
  runtime::SnapshotPtr snapshot_; // kept for the session's life: a reload does not move it
  const runtime::Frontend& frontend_;
  const runtime::Backend& backend_;
  SocketAddress client_address_;
  uint64_t id_;
  Peer client_;
  Peer server_;
  bool connected_ = false;
  const runtime::Server* server_choice_ = nullptr;
  runtime::ServerStats* counted_ = nullptr; // the server whose active count we raised
  static constexpr size_t kMaxTries = 11;   // retries <= 10 (config/)
  std::array<uint32_t, kMaxTries> tried_{};
  uint32_t attempts_ = 0;
  event idle_timer_{};
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point connect_started_;
  double connect_seconds_ = 0;
  uint64_t last_activity_ms_ = 0;
  bool server_closed_first_ = false;
  bool reading_head_ = false;             // sticky_cookie: waiting for the first request head
  bool insert_cookie_ = false;            // a Set-Cookie goes into the first response head
  std::optional<size_t> sticky_target_;   // the server the client's cookie names
  ChosenBy chosen_by_ = ChosenBy::RoundRobin;
  uint64_t client_key_ = 0;               // hash of the client address, for ip_hash
  bool closing_ = false;
};

} // namespace corral::proxy

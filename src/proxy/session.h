#pragma once
// One client connection and its server connection: accept → pick server → connect with timeout,
// retry elsewhere → relay both ways with watermarks → pass half-closes through → close, log once.

#include <event2/bufferevent.h>
#include <event2/event_struct.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

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
  void onConnected();
  void onConnectFailed(std::string_view why);
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
  uint64_t started_ms_ = 0;
  uint64_t connect_started_ms_ = 0;
  uint64_t connect_ms_ = 0;
  uint64_t last_activity_ms_ = 0;
  bool server_closed_first_ = false;
  bool closing_ = false;
};

} // namespace corral::proxy

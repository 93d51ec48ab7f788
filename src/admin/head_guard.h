#pragma once
// Slow clients on the admin API. evhttp's timeout restarts on every byte and it has no connection
// cap, so a client sending its request head at 1 byte/s held a socket forever, and a few hundred
// such clients would exhaust descriptors. HeadGuard bounds both without patching evhttp:
// - every connection must deliver a whole request head within kHeadTimeout of its accept (or of
//   the end of its previous request on a keep-alive connection), else it is shut down;
// - at most kMaxConnections are open; a new one beyond that shuts the oldest connection that is
//   still waiting for a head, so an operator's `ctl status` (whose head arrives at once) is served
//   however many slow clients there are.
//
// evhttp 2.1 tells a program of a new connection only through its bufferevent callback (before the
// socket is set) and never of a freed one. So the guard learns the socket right after evhttp set
// it up (an event made active in that callback runs before any I/O of the new socket), records its
// inode, and every second drops the connections whose descriptor no longer names that socket
// (evhttp closed it). It never touches a connection evhttp may have freed: it acts through the
// descriptor only (shutdown(2), which evhttp sees as the client's EOF).

#include <event2/event.h>
#include <event2/http.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

namespace corral::admin {

class HeadGuard {
public:
  static constexpr std::chrono::seconds kHeadTimeout{60};
  static constexpr size_t kMaxConnections = 256;

  /// Installs itself on `http` (its bufferevent callback) and starts the sweep on `base`.
  HeadGuard(event_base* base, evhttp* http, std::chrono::milliseconds head_timeout = kHeadTimeout);
  ~HeadGuard();
  HeadGuard(const HeadGuard&) = delete;
  HeadGuard& operator=(const HeadGuard&) = delete;

  /// A whole request head arrived on `request`'s connection: no deadline until its reply is done.
  void onRequest(evhttp_request* request);
  /// Connections open and not yet shut by the guard.
  size_t connections() const;

private:
  using Clock = std::chrono::steady_clock;
  struct Tracked {
    HeadGuard* guard = nullptr;
    bufferevent* bev = nullptr; // only until settled: evhttp may free it later, unseen
    event* settle = nullptr;
    int fd = -1;
    ino_t inode = 0;
    Clock::time_point deadline;
    bool serving = false; // a request is being answered (a log stream may last)
    bool shut = false;    // shut down by the guard; evhttp will close it
  };

  static bufferevent* onNewConnection(event_base* base, void* self);
  static void onSettle(evutil_socket_t, short, void* tracked);
  static void onSweep(evutil_socket_t, short, void* self);
  static void onRequestComplete(evhttp_request* request, void* self);
  Tracked* find(evhttp_request* request);
  bool alive(const Tracked& tracked) const;
  void shut(Tracked& tracked);
  bool evictOldestWaiting(); // false when none is waiting

  event_base* base_;
  std::chrono::milliseconds head_timeout_;
  event* sweep_ = nullptr;
  std::vector<std::unique_ptr<Tracked>> tracked_;
};

} // namespace corral::admin

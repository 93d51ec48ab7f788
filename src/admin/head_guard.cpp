#include "admin/head_guard.h"

#include <event2/bufferevent.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>

#include "corral/core/log.h"

namespace corral::admin {
namespace {

constexpr timeval kSweepInterval{1, 0};

ino_t socketInode(int fd) {
  struct stat info {};
  return fd >= 0 && ::fstat(fd, &info) == 0 && S_ISSOCK(info.st_mode) ? info.st_ino : 0;
}

} // namespace

HeadGuard::HeadGuard(event_base* base, evhttp* http, std::chrono::milliseconds head_timeout)
    : base_(base), head_timeout_(head_timeout) {
  evhttp_set_bevcb(http, &HeadGuard::onNewConnection, this);
  sweep_ = event_new(base, -1, EV_PERSIST, &HeadGuard::onSweep, this);
  event_add(sweep_, &kSweepInterval);
}

HeadGuard::~HeadGuard() {
  event_free(sweep_);
  for (const auto& tracked : tracked_) {
    if (tracked->settle != nullptr) {
      event_free(tracked->settle);
    }
  }
}

// evhttp asks for the bufferevent of a connection it just accepted; the socket is set on it
// right after this returns, so the guard looks again once this callback chain is over.
bufferevent* HeadGuard::onNewConnection(event_base* base, void* self) {
  auto& guard = *static_cast<HeadGuard*>(self);
  bufferevent* bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  auto tracked = std::make_unique<Tracked>();
  tracked->guard = &guard;
  tracked->bev = bev;
  tracked->deadline = Clock::now() + guard.head_timeout_;
  tracked->settle = event_new(base, -1, 0, &HeadGuard::onSettle, tracked.get());
  event_active(tracked->settle, EV_TIMEOUT, 0);
  guard.tracked_.push_back(std::move(tracked));
  return bev;
}

void HeadGuard::onSettle(evutil_socket_t, short, void* raw) {
  auto& tracked = *static_cast<Tracked*>(raw);
  event_free(tracked.settle);
  tracked.settle = nullptr;
  tracked.fd = bufferevent_getfd(tracked.bev);
  tracked.inode = socketInode(tracked.fd);
  tracked.bev = nullptr;
  // Past the cap, shed here rather than at accept: one accept callback can take hundreds of
  // connections before any has settled, and only settled ones can be shut.
  auto& guard = *tracked.guard;
  while (guard.connections() > kMaxConnections && guard.evictOldestWaiting()) {
  }
}

bool HeadGuard::alive(const Tracked& tracked) const {
  return tracked.settle != nullptr || (tracked.inode != 0 && socketInode(tracked.fd) == tracked.inode);
}

void HeadGuard::shut(Tracked& tracked) {
  if (!tracked.shut && tracked.settle == nullptr && alive(tracked)) {
    ::shutdown(tracked.fd, SHUT_RDWR); // evhttp reads EOF and frees the connection
  }
  tracked.shut = true;
}

bool HeadGuard::evictOldestWaiting() {
  Tracked* oldest = nullptr;
  for (const auto& tracked : tracked_) {
    if (!tracked->shut && !tracked->serving && tracked->settle == nullptr &&
        (oldest == nullptr || tracked->deadline < oldest->deadline)) {
      oldest = tracked.get();
    }
  }
  if (oldest != nullptr) {
    log::admin()->debug("admin API: {} connections, closing the oldest without a request",
                        kMaxConnections);
    shut(*oldest);
  }
  return oldest != nullptr;
}

// Once a second: forget connections evhttp closed, shut those past their head deadline.
void HeadGuard::onSweep(evutil_socket_t, short, void* self) {
  auto& guard = *static_cast<HeadGuard*>(self);
  const auto now = Clock::now();
  std::erase_if(guard.tracked_, [&](const std::unique_ptr<Tracked>& tracked) {
    if (!guard.alive(*tracked)) {
      return true;
    }
    if (!tracked->serving && tracked->settle == nullptr && now >= tracked->deadline) {
      guard.shut(*tracked);
    }
    return false;
  });
}

size_t HeadGuard::connections() const {
  return static_cast<size_t>(std::count_if(tracked_.begin(), tracked_.end(),
                                           [](const auto& tracked) { return !tracked->shut; }));
}

HeadGuard::Tracked* HeadGuard::find(evhttp_request* request) {
  evhttp_connection* connection = evhttp_request_get_connection(request);
  if (connection == nullptr) {
    return nullptr;
  }
  const int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(connection));
  const ino_t inode = socketInode(fd);
  for (const auto& tracked : tracked_) {
    if (tracked->fd == fd && tracked->inode == inode && tracked->settle == nullptr) {
      return tracked.get();
    }
  }
  return nullptr;
}

void HeadGuard::onRequest(evhttp_request* request) {
  if (Tracked* tracked = find(request)) {
    tracked->serving = true;
    evhttp_request_set_on_complete_cb(request, &HeadGuard::onRequestComplete, this);
  }
}

// The reply is out; on a keep-alive connection the next head has kHeadTimeout from now.
void HeadGuard::onRequestComplete(evhttp_request* request, void* self) {
  auto& guard = *static_cast<HeadGuard*>(self);
  if (Tracked* tracked = guard.find(request)) {
    tracked->serving = false;
    tracked->deadline = Clock::now() + guard.head_timeout_;
  }
}

} // namespace corral::admin

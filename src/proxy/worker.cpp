#include "worker.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "corral/core/log.h"
#include "session.h"
#include "session_internal.h"

namespace corral::proxy {
namespace {

constexpr timeval kAcceptBackoff{0, 100 * 1000}; // after EMFILE: let sessions close some fds
constexpr timeval kLogFlushInterval{0, 50 * 1000};

std::unique_ptr<balance::Balancer> makeBalancer(const runtime::Backend& backend) {
  switch (backend.placement()) {
  case config::Balance::LeastConnections:
    return balance::makeLeastConnections(backend.servers.size());
  case config::Balance::IpHash:
    return balance::makeIpHash(backend.maglev);
  default:
    return balance::makeRoundRobin(backend.servers.size());
  }
}

} // namespace

Worker::Worker(size_t id, runtime::SnapshotPtr snapshot, std::vector<int> listen_fds,
               AccessLog& access_log)
    : id_(id), snapshot_(std::move(snapshot)) {
  base_ = event_base_new();
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (base_ == nullptr || wake_fd_ < 0) {
    log::proxy()->critical("worker {}: cannot create its event loop", id_);
    std::abort();
  }
  if (access_log.enabled()) {
    access_log_ = &access_log.buffer(id);
  }
  for (const runtime::Backend& backend : snapshot_->backends) {
    balancers_.push_back(makeBalancer(backend));
  }
  for (size_t i = 0; i < listen_fds.size(); ++i) {
    listeners_.push_back(makeListener(i, listen_fds[i]));
  }
  event_assign(&wake_event_, base_, wake_fd_, EV_READ | EV_PERSIST,
               [](evutil_socket_t, short, void* w) { static_cast<Worker*>(w)->runPosted(); },
               this);
  event_add(&wake_event_, nullptr);
  evtimer_assign(&drain_timer_, base_,
                 [](evutil_socket_t, short, void* w) { static_cast<Worker*>(w)->onDrainTimer(); },
                 this);
  event_assign(&log_timer_, base_, -1, EV_PERSIST, [](evutil_socket_t, short, void* w) {
    auto* worker = static_cast<Worker*>(w);
    if (worker->access_log_ != nullptr) {
      worker->access_log_->flush();
    }
  }, this);
  if (access_log_ != nullptr) {
    event_add(&log_timer_, &kLogFlushInterval);
  }
}

Worker::~Worker() {
  join();
  while (sessions_ != nullptr) {
    delete sessions_; // only if the loop ended abnormally; unlinks itself via onSessionClosed
  }
  for (auto& listener : listeners_) {
    freeListener(*listener);
  }
  event_del(&wake_event_);
  event_del(&drain_timer_);
  event_del(&log_timer_);
  event_base_free(base_);
  ::close(wake_fd_);
}

std::unique_ptr<Worker::Listener> Worker::makeListener(size_t frontend, int fd) {
  auto listener = std::make_unique<Listener>();
  listener->worker = this;
  listener->frontend = frontend;
  // backlog 0: the socket is already listening (listener.cpp set the backlog).
  listener->listener =
      evconnlistener_new(base_, acceptCallback, listener.get(), LEV_OPT_CLOSE_ON_FREE, 0, fd);
  evconnlistener_set_error_cb(listener->listener, acceptErrorCallback);
  evtimer_assign(&listener->backoff, base_, [](evutil_socket_t, short, void* l) {
    evconnlistener_enable(static_cast<Listener*>(l)->listener);
  }, listener.get());
  return listener;
}

void Worker::freeListener(Listener& listener) {
  event_del(&listener.backoff);
  if (listener.listener != nullptr) {
    evconnlistener_free(listener.listener);
    listener.listener = nullptr;
  }
}

void Worker::adopt(runtime::SnapshotPtr next, const std::vector<int>& fds) {
  if (draining_) {
    for (int fd : fds) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
    return;
  }
  std::vector<std::unique_ptr<Listener>> kept;
  for (size_t f = 0; f < next->frontends.size(); ++f) {
    if (fds[f] >= 0) {
      kept.push_back(makeListener(f, fds[f]));
      continue;
    }
    for (auto& old : listeners_) {
      if (old && snapshot_->frontends[old->frontend].config->name == next->frontends[f].config->name) {
        old->frontend = f;
        kept.push_back(std::move(old));
        break;
      }
    }
  }
  for (auto& removed : listeners_) {
    if (removed) {
      freeListener(*removed);
    }
  }
  listeners_ = std::move(kept);
  snapshot_ = std::move(next);
  balancers_.clear();
  for (const runtime::Backend& backend : snapshot_->backends) {
    balancers_.push_back(makeBalancer(backend));
  }
}

void Worker::replaceMaglev(const runtime::Snapshot* snapshot, size_t backend,
                           std::shared_ptr<const balance::MaglevTable> table) {
  if (snapshot_.get() == snapshot && backend < balancers_.size()) {
    balancers_[backend] = balance::makeIpHash(std::move(table));
  }
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Worker::run() {
  event_base_loop(base_, 0);
  if (access_log_ != nullptr) {
    access_log_->flush();
  }
  finished_.store(true, std::memory_order_release);
}

void Worker::post(std::function<void()> task) {
  {
    std::lock_guard lock(mailbox_mutex_);
    mailbox_.push_back(std::move(task));
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
}

void Worker::runPosted() {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof(count));
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(mailbox_mutex_);
    tasks.swap(mailbox_);
  }
  for (auto& task : tasks) {
    task();
  }
}

void Worker::acceptCallback(evconnlistener*, evutil_socket_t fd, sockaddr* address, int length,
                            void* listener) {
  auto* l = static_cast<Listener*>(listener);
  l->worker->onAccept(*l, fd, address, length);
}

void Worker::acceptErrorCallback(evconnlistener*, void* listener) {
  auto* l = static_cast<Listener*>(listener);
  l->worker->onAcceptError(*l);
}

void Worker::onAccept(Listener& listener, int fd, const sockaddr* address, int length) {
  listener.paused_before = false;
  const runtime::Frontend& frontend = snapshot_->frontends[listener.frontend];
  const SocketAddress client =
      SocketAddress::fromSockaddr(address, static_cast<socklen_t>(length));
  auto* session = new Session(*this, snapshot_, frontend, fd, client);
  session->next = sessions_;
  if (sessions_ != nullptr) {
    sessions_->prev = session;
  }
  sessions_ = session;
  ++session_count_;
  session->start();
}

// Out of file descriptors (or another accept error): the listening socket stays readable, so
// accepting again at once would spin the CPU. Pause this listener briefly; sessions that end
// meanwhile give descriptors back.
void Worker::onAcceptError(Listener& listener) {
  const int error = EVUTIL_SOCKET_ERROR();
  runtime::AcceptError reason = runtime::AcceptError::Other;
  if (error == EMFILE) {
    reason = runtime::AcceptError::Emfile;
  } else if (error == ENFILE) {
    reason = runtime::AcceptError::Enfile;
  } else if (error == ENOMEM || error == ENOBUFS) {
    reason = runtime::AcceptError::Enomem;
  }
  snapshot_->worker_cells->at(id_).accept_errors[static_cast<size_t>(reason)].add();
  if (!listener.paused_before) { // one line per episode, not one per 100 ms
    log::proxy()->warn("worker {}: accept failed on frontend {}: {}; pausing accepts", id_,
                       snapshot_->frontends[listener.frontend].config->name,
                       evutil_socket_error_to_string(error));
  }
  listener.paused_before = true;
  evconnlistener_disable(listener.listener);
  evtimer_add(&listener.backoff, &kAcceptBackoff);
}

void Worker::onSessionClosed(Session* session) {
  if (session->prev != nullptr) {
    session->prev->next = session->next;
  } else {
    sessions_ = session->next;
  }
  if (session->next != nullptr) {
    session->next->prev = session->prev;
  }
  --session_count_;
  if (draining_ && session_count_ == 0) {
    event_base_loopexit(base_, nullptr);
  }
}

void Worker::beginDrain() {
  if (draining_) {
    return;
  }
  draining_ = true;
  std::chrono::milliseconds longest{0};
  for (auto& listener : listeners_) {
    freeListener(*listener);
    longest = std::max(longest, snapshot_->frontends[listener->frontend].config->drain_timeout);
  }
  if (session_count_ == 0) {
    event_base_loopexit(base_, nullptr);
    return;
  }
  const timeval deadline = toTimeval(longest);
  evtimer_add(&drain_timer_, &deadline);
}

// The drain time is up: close what is left. (All frontends share the longest drain_timeout.)
void Worker::onDrainTimer() {
  while (sessions_ != nullptr) {
    sessions_->shutdown();
  }
}

} // namespace corral::proxy

#include "worker.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "corral/core/log.h"
#include "corral/runtime/placement.h"
#include "session.h"
#include "session_internal.h"

namespace corral::proxy {
namespace {

constexpr timeval kAcceptBackoff{0, 100 * 1000}; // after EMFILE: let sessions close some fds
constexpr timeval kLogFlushInterval{0, 50 * 1000};
// Connections accepted per readable listener before the loop serves the others; the kernel's
// queue keeps the rest and the listener stays readable.
constexpr int kAcceptBatch = 64;
// Session-sized blocks kept for reuse after a burst of connections ended.
constexpr size_t kMaxFreeSessions = 1024;

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
  poller_ = std::make_unique<Poller>(
      base_,
      [](void*, uint64_t token, uint32_t events) {
        Session::fromToken(token)->onPoll(token, events);
      },
      [](void* worker) { static_cast<Worker*>(worker)->destroyClosed(); }, this);
  makeBalancers();
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
  useAccessLog(access_log.enabled() ? &access_log.buffer(id) : nullptr);
}

void Worker::useAccessLog(AccessLog::Buffer* buffer) {
  if (access_log_ != nullptr) {
    access_log_->flush(); // what the writer has not taken yet goes out at finish()
    event_del(&log_timer_);
  }
  access_log_ = buffer;
  if (access_log_ != nullptr) {
    event_add(&log_timer_, &kLogFlushInterval);
  }
}

Worker::~Worker() {
  join();
  while (sessions_ != nullptr) {
    destroy(sessions_); // only if the loop ended abnormally; unlinks itself via onSessionClosed
  }
  destroyClosed();
  for (void* storage : free_sessions_) {
    ::operator delete(storage);
  }
  poller_.reset();
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
  listener->fd = fd; // already listening (listener.cpp set the backlog) and non-blocking
  event_assign(&listener->accept, base_, fd, EV_READ | EV_PERSIST, [](evutil_socket_t, short, void* l) {
    auto* self = static_cast<Listener*>(l);
    self->worker->acceptBatch(*self);
  }, listener.get());
  event_add(&listener->accept, nullptr);
  evtimer_assign(&listener->backoff, base_, [](evutil_socket_t, short, void* l) {
    event_add(&static_cast<Listener*>(l)->accept, nullptr);
  }, listener.get());
  return listener;
}

void Worker::freeListener(Listener& listener) {
  event_del(&listener.backoff);
  if (listener.fd >= 0) {
    event_del(&listener.accept);
    ::close(listener.fd);
    listener.fd = -1;
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
  makeBalancers();
}

void Worker::makeBalancers() {
  auto balancers = std::make_shared<Balancers>(Balancers{.snapshot = snapshot_, .by_backend = {}});
  tables_.clear();
  for (const runtime::Backend& backend : snapshot_->backends) {
    balancers->by_backend.push_back(runtime::makeBalancer(backend));
    tables_.push_back(backend.maglev);
  }
  balancers_ = balancers;
  published_.store(std::move(balancers));
}

void Worker::replaceMaglev(const runtime::Snapshot* snapshot, size_t backend,
                           std::shared_ptr<const balance::MaglevTable> table) {
  if (snapshot_.get() != snapshot || backend >= balancers_->by_backend.size()) {
    return;
  }
  tables_[backend] = table;
  auto balancers = std::make_shared<Balancers>(*balancers_); // a published set stays as it is
  balancers->by_backend[backend] = runtime::makeBalancer(snapshot_->backends[backend],
                                                         std::move(table));
  balancers_ = balancers;
  published_.store(std::move(balancers));
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

// Level-triggered: a batch that stops before EAGAIN is picked up again on the next loop turn.
void Worker::acceptBatch(Listener& listener) {
  for (int i = 0; i < kAcceptBatch && listener.fd >= 0; ++i) {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    const int fd = ::accept4(listener.fd, reinterpret_cast<sockaddr*>(&address), &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      onAccept(listener, fd, reinterpret_cast<const sockaddr*>(&address), length);
      continue;
    }
    const int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR || error == ECONNABORTED) {
      return; // ECONNABORTED: that client left the queue before we took it
    }
    onAcceptError(listener, error);
    return;
  }
}

void Worker::onAccept(Listener& listener, int fd, const sockaddr* address, socklen_t length) {
  if (listener.paused_before) {
    log::proxy()->info("worker {}: accepting again on frontend {} ({} accepts failed)", id_,
                       snapshot_->frontends[listener.frontend].config->name, listener.failed);
    listener.paused_before = false;
    listener.failed = 0;
  }
  const runtime::Frontend& frontend = snapshot_->frontends[listener.frontend];
  const SocketAddress client = SocketAddress::fromSockaddr(address, length);
  auto* session = new (sessionStorage()) Session(*this, snapshot_, frontend, fd, client);
  session->next = sessions_;
  if (sessions_ != nullptr) {
    sessions_->prev = session;
  }
  sessions_ = session;
  ++session_count_;
  session->start();
}

void* Worker::sessionStorage() {
  if (free_sessions_.empty()) {
    return ::operator new(sizeof(Session));
  }
  void* storage = free_sessions_.back();
  free_sessions_.pop_back();
  return storage;
}

// A session closed while the poller hands out a batch may still be named by a later event of that
// batch (it ignores it, being closed): it is destroyed once the batch is over.
void Worker::destroy(Session* session) {
  if (poller_->dispatching()) {
    closed_.push_back(session);
    return;
  }
  release(session);
}

void Worker::destroyClosed() {
  for (Session* session : closed_) {
    release(session);
  }
  closed_.clear();
}

void Worker::release(Session* session) {
  session->~Session();
  if (free_sessions_.size() < kMaxFreeSessions) {
    free_sessions_.push_back(session);
  } else {
    ::operator delete(session);
  }
}

// Out of file descriptors (or another accept error): the listening socket stays readable, so
// accepting again at once would spin the CPU. Pause this listener briefly; sessions that end
// meanwhile give descriptors back. One log line per episode, and one when it ends.
void Worker::onAcceptError(Listener& listener, int error) {
  runtime::AcceptError reason = runtime::AcceptError::Other;
  if (error == EMFILE) {
    reason = runtime::AcceptError::Emfile;
  } else if (error == ENFILE) {
    reason = runtime::AcceptError::Enfile;
  } else if (error == ENOMEM || error == ENOBUFS) {
    reason = runtime::AcceptError::Enomem;
  }
  snapshot_->worker_cells->at(id_).accept_errors[static_cast<size_t>(reason)].add();
  ++listener.failed;
  if (!listener.paused_before) {
    log::proxy()->warn("worker {}: accept failed on frontend {}: {}; pausing accepts", id_,
                       snapshot_->frontends[listener.frontend].config->name,
                       evutil_socket_error_to_string(error));
  }
  listener.paused_before = true;
  event_del(&listener.accept);
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

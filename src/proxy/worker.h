#pragma once
// A worker thread: its own event_base, its own listening socket per frontend, its own sessions
// and balancer state. Nothing here is shared with other workers except atomics in the snapshot.

#include <event2/event.h>
#include <event2/event_struct.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "access_log.h"
#include "corral/balance/balancer.h"
#include "corral/runtime/snapshot.h"
#include "poller.h"
#include "pools.h"

namespace corral::proxy {

class Session;

class Worker {
public:
  /// listen_fds: one bound, listening socket per frontend of the snapshot, in its order.
  Worker(size_t id, runtime::SnapshotPtr snapshot, std::vector<int> listen_fds,
         AccessLog& access_log);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  /// Runs `task` on this worker's thread; callable from any thread.
  void post(std::function<void()> task);
  /// Stops accepting and ends the thread once sessions are done or their drain time is up.
  void drain() {
    post([this] { beginDrain(); });
  }
  void join();
  /// True once the thread's loop has ended (after drain()); any thread may ask.
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  /// On this worker's thread: route new connections with `next`. fds[f] is a new listening socket
  /// for next's frontend f, or -1 to keep the listener of the frontend with the same name.
  void adopt(runtime::SnapshotPtr next, const std::vector<int>& fds);
  /// On this worker's thread: use `table` for ip_hash or hash backend `backend` if still on
  /// `snapshot`.
  void replaceMaglev(const runtime::Snapshot* snapshot, size_t backend,
                     std::shared_ptr<const balance::MaglevTable> table);

  /// The balancers this worker routes with, and the snapshot they were made for. Any thread may
  /// read them (`ctl route` peeks at what the next pick would be); the worker publishes a new
  /// set when it replaces one, and never changes a published set's vector.
  struct Balancers {
    runtime::SnapshotPtr snapshot;
    std::vector<std::shared_ptr<balance::Balancer>> by_backend;
  };
  std::shared_ptr<const Balancers> balancers() const { return published_.load(); }

  // For sessions, on this worker's thread only.
  event_base* base() const { return base_; }
  size_t id() const { return id_; }
  uint64_t nextSessionId() { return (uint64_t{id_} << 48) | ++session_counter_; }
  balance::Balancer& balancer(size_t backend) { return *balancers_->by_backend[backend]; }
  /// The Maglev table `backend` routes with now (the snapshot's, or a newer replaceMaglev one);
  /// null unless the backend usesMaglev().
  const balance::MaglevTable* maglev(size_t backend) const { return tables_[backend].get(); }
  std::vector<balance::Candidate>& candidates() { return candidates_; }
  AccessLog::Buffer* accessLog() { return access_log_; }
  /// Where this worker's sessions log from now on; null: nowhere (`access_log: off`).
  void useAccessLog(AccessLog::Buffer* buffer);
  BufferPool& buffers() { return buffers_; }
  PipePool& pipes() { return pipes_; }
  Poller& poller() { return *poller_; }
  /// Unlinks a session that is being destroyed (its destructor calls this).
  void onSessionClosed(Session* session);
  /// Ends `session`: destroys it and keeps its memory for the next one.
  void destroy(Session* session);

private:
  struct Listener {
    Worker* worker = nullptr;
    size_t frontend = 0;
    int fd = -1;
    event accept{};             // readable listening socket
    event backoff{};            // re-enables accepting after EMFILE
    bool paused_before = false; // the last accept failed too: do not log again
    uint64_t failed = 0;        // accepts that failed in this episode
  };

  void run();
  std::unique_ptr<Listener> makeListener(size_t frontend, int fd);
  void freeListener(Listener& listener);
  void beginDrain();
  void onDrainTimer();
  void acceptBatch(Listener& listener);
  void onAccept(Listener& listener, int fd, const sockaddr* address, socklen_t length);
  void onAcceptError(Listener& listener, int error);
  void runPosted();
  /// New balancers for every backend of snapshot_, published.
  void makeBalancers();
  void* sessionStorage();
  void release(Session* session);
  void destroyClosed();

  size_t id_;
  runtime::SnapshotPtr snapshot_;
  event_base* base_ = nullptr;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::shared_ptr<Balancers> balancers_; // one balancer per backend of snapshot_
  std::atomic<std::shared_ptr<const Balancers>> published_; // balancers_, for other threads
  std::vector<std::shared_ptr<const balance::MaglevTable>> tables_; // one per backend (maglev())
  std::vector<balance::Candidate> candidates_;                // scratch for pick()
  AccessLog::Buffer* access_log_ = nullptr;
  BufferPool buffers_;
  PipePool pipes_;
  std::unique_ptr<Poller> poller_;
  std::vector<void*> free_sessions_;  // memory of ended sessions, for the next ones
  std::vector<Session*> closed_;      // closed while the poller hands out a batch
  Session* sessions_ = nullptr; // intrusive list head
  size_t session_count_ = 0;
  uint64_t session_counter_ = 0;
  bool draining_ = false;
  event drain_timer_{};
  event log_timer_{};
  int wake_fd_ = -1; // eventfd: post() wakes the loop
  event wake_event_{};
  std::mutex mailbox_mutex_; // control messages only, never on the connection path
  std::vector<std::function<void()>> mailbox_;
  std::thread thread_;
  std::atomic<bool> finished_{false};
};

} // namespace corral::proxy

// Per-server connection limits and the backend's queue (runtime/backend_queue.h): a client whose
// servers are all at their max_connections waits, cheaply, until a server frees a slot for it, for
// at most queue.timeout. A sticky or hashed client waits for its own server while that server is
// up; once it is not, any server that frees a slot takes the client (redispatch).

#include <event2/event.h>

#include <chrono>
#include <span>

#include "corral/core/log.h"
#include "corral/runtime/backend_queue.h"
#include "corral/runtime/placement.h"
#include "session.h"
#include "session_internal.h"
#include "worker.h"

namespace corral::proxy {

/// One session's place in its backend's queue, shared by the session, the queue and the wake-up
/// posted to the session's worker. What a releasing thread reads (backend, tried servers, the
/// server waited for) is fixed before the waiter is queued; `session` is touched only on the
/// session's own worker, and `granted` only under the queue's lock.
class QueuedClient final : public runtime::BackendQueue::Waiter,
                           public std::enable_shared_from_this<QueuedClient> {
public:
  QueuedClient(Session& session, Worker& worker, const runtime::Backend& backend,
               std::span<const uint32_t> tried, std::optional<size_t> wait_for, bool sticky)
      : session(&session), worker_(worker), backend_(backend), tried_(tried.begin(), tried.end()),
        wait_for_(wait_for), sticky_(sticky) {}

  Take tryTake(runtime::ServerStats& freed, bool held) override {
    const int64_t now = runtime::steadyMs();
    for (size_t i = 0; i < backend_.servers.size(); ++i) {
      const runtime::Server& server = backend_.servers[i];
      if (server.stats.get() != &freed || !mayUse(i, now)) {
        continue;
      }
      if (!held && !runtime::claimSlot(freed, server.max_connections)) {
        return Take::Full;
      }
      granted = i;
      return Take::Taken;
    }
    return Take::NotMine;
  }

  void wake() override {
    worker_.post([self = shared_from_this()] {
      if (self->session != nullptr) {
        self->session->onQueueTurn();
      }
    });
  }

  Session* session;
  std::optional<size_t> granted; // the server whose slot is held for this client

private:
  // A client waiting for its own server takes no other while that one can still serve it.
  bool mayUse(size_t index, int64_t now) const {
    if (wait_for_) {
      const runtime::ServerStats& own = *backend_.servers[*wait_for_].stats;
      const bool own_serves = sticky_ ? own.acceptsSticky(now) : own.acceptsNew(now);
      if (own_serves) {
        return index == *wait_for_;
      }
    }
    return runtime::mayTakeNew(backend_, index, tried_, now);
  }

  Worker& worker_;
  const runtime::Backend& backend_;
  std::vector<uint32_t> tried_;
  std::optional<size_t> wait_for_;
  bool sticky_;
};

// A client with a valid cookie (first try), an ip_hash key or a balance: hash key belongs on one
// server: when that server is full it waits for it rather than moving elsewhere.
bool Session::waitsForItsServer() const {
  return (sticky_target_ && attempts_ == 0) || hash_key_.has_value() ||
         backend_->placement() == config::Balance::IpHash;
}

void Session::skipFullServers(std::vector<balance::Candidate>& candidates) {
  if (waitsForItsServer()) {
    return;
  }
  for (size_t i = 0; i < candidates.size(); ++i) {
    const runtime::Server& server = backend_->servers[i];
    if (candidates[i].eligible && server.max_connections > 0 &&
        server.stats->active.load(std::memory_order_relaxed) >= server.max_connections) {
      candidates[i].eligible = false;
      saw_full_ = true;
    }
  }
}

// A pick, then a slot on it. A slot another worker took between the look and the claim is retried
// once per server: the next pick sees that server full and passes it over.
Session::Claim Session::claimServer() {
  Claim claim;
  for (size_t round = 0; round <= backend_->servers.size(); ++round) {
    saw_full_ = false;
    const auto pick = pickServer();
    claim.full = claim.full || saw_full_;
    if (!pick) {
      return claim;
    }
    const runtime::Server& server = backend_->servers[*pick];
    if (runtime::claimSlot(*server.stats, server.max_connections)) {
      claim.server = pick;
      return claim;
    }
    claim.full = true;
    if (waitsForItsServer()) {
      claim.wait_for = pick;
      return claim;
    }
  }
  return claim;
}

void Session::waitInQueue(std::optional<size_t> wait_for) {
  auto waiter = std::make_shared<QueuedClient>(*this, worker_, *backend_,
                                               std::span(tried_.data(), attempts_), wait_for,
                                               sticky_target_.has_value() && attempts_ == 0);
  Claim again;
  const auto outcome = backend_->stats->queue.enter(waiter, backend_->config->queue.max, [&] {
    again = claimServer();
    return again.server.has_value();
  });
  if (outcome == runtime::BackendQueue::Outcome::Placed) {
    connectTo(*again.server);
    return;
  }
  if (outcome == runtime::BackendQueue::Outcome::Full) {
    const auto full = static_cast<size_t>(runtime::QueueRejection::Full);
    backend_->stats->cells.at(worker_.id()).queue_rejections[full].add();
    close(Termination::QueueFull);
    return;
  }
  queued_ = std::move(waiter);
  queued_since_ = std::chrono::steady_clock::now();
  const timeval timeout = toTimeval(backend_->config->queue.timeout);
  evtimer_add(&timer_, &timeout);
}

void Session::onQueueTurn() {
  const size_t server = *queued_->granted;
  leaveQueue(false);
  if (sticky_target_ && attempts_ == 0 && server != *sticky_target_) {
    chosen_by_ = ChosenBy::Redispatch; // its own server went down while it waited
    insert_cookie_ = true;
    const auto redispatch = static_cast<size_t>(runtime::StickyResult::Redispatch);
    backend_->stats->cells.at(worker_.id()).sticky[redispatch].add();
  }
  connectTo(server);
}

void Session::onQueueTimeout() {
  if (!backend_->stats->queue.leave(queued_.get())) {
    onQueueTurn(); // a slot came for it just now; its wake-up will find the session gone
    return;
  }
  leaveQueue(false);
  const auto timeout = static_cast<size_t>(runtime::QueueRejection::Timeout);
  backend_->stats->cells.at(worker_.id()).queue_rejections[timeout].add();
  log::proxy()->debug("[C{:x}] no server slot within queue.timeout", id_);
  close(Termination::QueueTimeout);
}

// Out of the queue, whichever way. `give_back`: the session is ending, so a slot handed to it goes
// back (to the next waiter, if any).
void Session::leaveQueue(bool give_back) {
  if (queued_ == nullptr) {
    return;
  }
  runtime::BackendQueue& queue = backend_->stats->queue;
  if (!queue.leave(queued_.get()) && give_back && queued_->granted) {
    runtime::releaseSlot(*backend_->servers[*queued_->granted].stats, queue);
  }
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - queued_since_).count();
  snapshot_->worker_cells->at(worker_.id()).queue_duration.observe(waited);
  queued_->session = nullptr;
  queued_.reset();
}

void Session::releaseServerSlot() {
  if (counted_ != nullptr) {
    runtime::releaseSlot(*counted_, backend_->stats->queue);
    counted_ = nullptr;
  }
}

} // namespace corral::proxy

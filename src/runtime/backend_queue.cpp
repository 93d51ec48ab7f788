#include "corral/runtime/backend_queue.h"

#include <algorithm>

#include "corral/runtime/snapshot.h"

namespace corral::runtime {

bool claimSlot(ServerStats& stats, uint32_t limit) {
  if (limit == 0) {
    stats.active.fetch_add(1, std::memory_order_seq_cst);
    return true;
  }
  // A compare-and-swap rather than add-then-undo: the count never shows more than the limit, so a
  // releaser's hand-off never fails on a slot that is only transiently taken.
  uint32_t active = stats.active.load(std::memory_order_seq_cst);
  while (active < limit) {
    if (stats.active.compare_exchange_weak(active, active + 1, std::memory_order_seq_cst)) {
      return true;
    }
  }
  return false;
}

void releaseSlot(ServerStats& stats, BackendQueue& queue) {
  if (queue.length() > 0 && queue.handOff(stats, true)) {
    return; // the slot stays counted: it is the waiter's now
  }
  stats.active.fetch_sub(1, std::memory_order_seq_cst);
  if (queue.length() > 0) {
    queue.handOff(stats, false); // someone started waiting since the first look
  }
}

void offerFreeSlots(const Backend& backend) {
  BackendQueue& queue = backend.stats->queue;
  for (const Server& server : backend.servers) {
    // Each hand-off claims one slot; it fails once the server is full or nobody left may use it.
    while (queue.length() > 0 && queue.handOff(*server.stats, false)) {
    }
  }
}

bool BackendQueue::leave(const Waiter* waiter) {
  std::lock_guard lock(mutex_);
  const auto found = std::find_if(waiters_.begin(), waiters_.end(),
                                  [&](const WaiterPtr& w) { return w.get() == waiter; });
  if (found == waiters_.end()) {
    return false;
  }
  waiters_.erase(found);
  length_.fetch_sub(1, std::memory_order_seq_cst);
  return true;
}

// Oldest first. A waiter that the server cannot serve (a sticky client of another server) is
// skipped and keeps its place; the first one that finds the server full again ends the walk, since
// the slot went to a newcomer between the release and this lock.
bool BackendQueue::handOff(ServerStats& freed, bool held) {
  std::lock_guard lock(mutex_);
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    const Waiter::Take take = (*it)->tryTake(freed, held);
    if (take == Waiter::Take::Full) {
      return false;
    }
    if (take == Waiter::Take::Taken) {
      WaiterPtr waiter = std::move(*it);
      waiters_.erase(it);
      length_.fetch_sub(1, std::memory_order_seq_cst);
      waiter->wake();
      return true;
    }
  }
  return false;
}

} // namespace corral::runtime

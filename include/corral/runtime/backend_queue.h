#pragma once
// Per-server connection limits and the queue of a backend (`max_connections`, `queue:`), shared by
// every worker of the process.
//
// A slot on a limited server is claimed with a compare-and-swap on its active count (never above
// the limit, no lock). The queue is taken only when someone waits: a client whose servers are all
// full first announces itself (length + 1), tries once more under the queue's lock, and waits only
// if that fails. A session that frees a slot while someone waits hands it, still counted, to the
// oldest waiter that server may serve, so a newcomer cannot take it first; when none may, it gives
// the slot back and looks once more. Both sides use sequentially consistent operations, so either
// the releaser sees the announced waiter or the waiter's last try sees the freed slot: no waiter
// sleeps beside a free slot it may take.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

namespace corral::runtime {

struct ServerStats;
struct Backend;

/// Takes one slot of `stats.active` unless that would pass `limit` (0: no limit).
bool claimSlot(ServerStats& stats, uint32_t limit);

class BackendQueue {
public:
  /// A client waiting for a slot. Its methods run on whichever thread frees a slot, under the
  /// queue's lock, so they read only what the waiter fixed before it was queued.
  class Waiter {
  public:
    virtual ~Waiter() = default;
    enum class Take { Taken, NotMine, Full };
    /// Takes a slot on `freed` if this waiter may be served by that server: the releaser's own
    /// slot when `held`, else one claimed here (claimSlot, which may find it Full).
    virtual Take tryTake(ServerStats& freed, bool held) = 0;
    /// Called once after Taken, still under the lock: schedule the waiter on its own thread.
    virtual void wake() = 0;
  };
  using WaiterPtr = std::shared_ptr<Waiter>;

  /// Waiting clients, plus any that are deciding whether to wait.
  uint32_t length() const { return length_.load(std::memory_order_seq_cst); }

  /// Slow path of a client whose servers are full: `retry` (called under the lock, after the
  /// client was counted in length) claims a slot if one came free; otherwise the waiter is queued
  /// unless `max` clients already wait. Returns Placed, Queued or Full.
  enum class Outcome { Placed, Queued, Full };
  template <class Retry>
  Outcome enter(WaiterPtr waiter, uint32_t max, Retry&& retry) {
    std::lock_guard lock(mutex_);
    length_.fetch_add(1, std::memory_order_seq_cst);
    if (retry()) {
      length_.fetch_sub(1, std::memory_order_seq_cst);
      return Outcome::Placed;
    }
    if (waiters_.size() >= max) {
      length_.fetch_sub(1, std::memory_order_seq_cst);
      return Outcome::Full;
    }
    waiters_.push_back(std::move(waiter));
    return Outcome::Queued;
  }

  /// Takes `waiter` out if it is still queued (a timeout, a closed client). False: it was given a
  /// slot already (its wake() ran or is about to).
  bool leave(const Waiter* waiter);

  /// Hands a slot of `freed` to the oldest waiter that server may serve: the caller's own slot
  /// when `held` (true if someone took it), else a free one. Call releaseSlot instead.
  bool handOff(ServerStats& freed, bool held);

private:
  std::atomic<uint32_t> length_{0};
  std::mutex mutex_; // taken only while someone waits or decides to
  std::deque<WaiterPtr> waiters_;
};

/// Gives back a slot of `stats` and, when someone waits, hands it on through `queue`.
void releaseSlot(ServerStats& stats, BackendQueue& queue);

/// A server can take waiters without a session having freed a slot on it: it came up or was
/// enabled; or the server a sticky or hashed client waits for went down, drained or was disabled,
/// so the client may go elsewhere. Offers every server's free slots
/// to the waiters, oldest first. Called on the control thread after such a change (and once a
/// second, for what changes with time: an ejection that ends); nothing happens when nobody waits.
void offerFreeSlots(const Backend& backend);

} // namespace corral::runtime

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "corral/runtime/backend_queue.h"
#include "corral/runtime/snapshot.h"

#include "tests/unit/runtime/runtime_test_support.h"

namespace corral::runtime {
namespace {

// A waiter that may use one server (or any, when `only` is null), as the proxy's would.
class TestWaiter final : public BackendQueue::Waiter {
public:
  TestWaiter(ServerStats* only, uint32_t limit) : only_(only), limit_(limit) {}
  Take tryTake(ServerStats& freed, bool held) override {
    if (only_ != nullptr && only_ != &freed) {
      return Take::NotMine;
    }
    if (!held && !claimSlot(freed, limit_)) {
      return Take::Full;
    }
    return Take::Taken;
  }
  void wake() override { woken.store(true); }
  std::atomic<bool> woken{false};

private:
  ServerStats* only_;
  uint32_t limit_;
};

TEST(ClaimSlotTest, NeverPassesTheLimit) {
  ServerStats stats(1);
  EXPECT_TRUE(claimSlot(stats, 2));
  EXPECT_TRUE(claimSlot(stats, 2));
  EXPECT_FALSE(claimSlot(stats, 2));
  EXPECT_EQ(stats.active.load(), 2u);
  EXPECT_TRUE(claimSlot(stats, 0)); // no limit
  EXPECT_EQ(stats.active.load(), 3u);
}

// A freed slot goes, still counted, to the oldest waiter that server may serve; a waiter for
// another server keeps its place.
TEST(BackendQueueTest, HandsAFreedSlotToTheOldestWaiterItMayServe) {
  ServerStats a(1), b(1);
  BackendQueue queue;
  ASSERT_TRUE(claimSlot(a, 1));
  ASSERT_TRUE(claimSlot(b, 1));
  auto for_b = std::make_shared<TestWaiter>(&b, 1);
  auto any1 = std::make_shared<TestWaiter>(nullptr, 1);
  auto any2 = std::make_shared<TestWaiter>(nullptr, 1);
  for (const auto& waiter : {for_b, any1, any2}) {
    EXPECT_EQ(queue.enter(waiter, 10, [] { return false; }), BackendQueue::Outcome::Queued);
  }
  EXPECT_EQ(queue.length(), 3u);
  releaseSlot(a, queue);
  EXPECT_FALSE(for_b->woken);
  EXPECT_TRUE(any1->woken);
  EXPECT_FALSE(any2->woken);
  EXPECT_EQ(a.active.load(), 1u); // handed over, not freed
  releaseSlot(b, queue);
  EXPECT_TRUE(for_b->woken);
  EXPECT_EQ(queue.length(), 1u);
  EXPECT_TRUE(queue.leave(any2.get()));
  EXPECT_FALSE(queue.leave(any2.get()));
  EXPECT_EQ(queue.length(), 0u);
  releaseSlot(a, queue);
  EXPECT_EQ(a.active.load(), 0u); // nobody waits: the slot is free
}

// Nobody frees a slot, yet a server can take waiters (it came up, say): offerFreeSlots gives each
// of its free slots to the oldest waiter it may serve, and stops at its limit.
TEST(BackendQueueTest, OfferFreeSlotsPlacesWaitersUpToEachServersLimit) {
  const config::BackendConfig config;
  const Backend backend = backendOf(config, {1, 1});
  ServerStats& a = *backend.servers[0].stats;
  ServerStats& b = *backend.servers[1].stats;
  ASSERT_TRUE(claimSlot(a, 1));
  BackendQueue& queue = backend.stats->queue;
  auto for_a = std::make_shared<TestWaiter>(&a, 1);
  auto any1 = std::make_shared<TestWaiter>(nullptr, 2);
  auto any2 = std::make_shared<TestWaiter>(nullptr, 2);
  auto any3 = std::make_shared<TestWaiter>(nullptr, 2);
  for (const auto& waiter : {for_a, any1, any2, any3}) {
    ASSERT_EQ(queue.enter(waiter, 10, [] { return false; }), BackendQueue::Outcome::Queued);
  }
  offerFreeSlots(backend);
  EXPECT_FALSE(for_a->woken); // a is full
  EXPECT_TRUE(any1->woken);
  EXPECT_TRUE(any2->woken);
  EXPECT_FALSE(any3->woken); // b's two slots are taken
  EXPECT_EQ(b.active.load(), 2u);
  EXPECT_EQ(queue.length(), 2u);
  offerFreeSlots(backend); // nothing changed: nobody moves
  EXPECT_FALSE(any3->woken);
  EXPECT_EQ(queue.length(), 2u);
}

TEST(BackendQueueTest, RefusesPastMaxAndPlacesWhenTheRetryFindsASlot) {
  BackendQueue queue;
  auto waiter = std::make_shared<TestWaiter>(nullptr, 1);
  EXPECT_EQ(queue.enter(waiter, 0, [] { return false; }), BackendQueue::Outcome::Full);
  EXPECT_EQ(queue.enter(waiter, 5, [] { return true; }), BackendQueue::Outcome::Placed);
  EXPECT_EQ(queue.length(), 0u);
}

// Releasers and waiters on several threads: every waiter that entered is served (none sleeps
// beside a free slot), and the server never holds more than its limit.
TEST(BackendQueueTest, NoWaiterIsLeftBehindUnderConcurrentReleases) {
  constexpr uint32_t kLimit = 2;
  constexpr int kThreads = 4, kPerThread = 500;
  ServerStats server(1);
  BackendQueue queue;
  std::atomic<uint32_t> most{0};
  auto work = [&] {
    for (int i = 0; i < kPerThread; ++i) {
      auto waiter = std::make_shared<TestWaiter>(&server, kLimit);
      const auto outcome =
          queue.enter(waiter, 1000, [&] { return claimSlot(server, kLimit); });
      if (outcome == BackendQueue::Outcome::Queued) {
        while (!waiter->woken.load()) {
          std::this_thread::yield();
        }
      }
      uint32_t now = server.active.load();
      uint32_t seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      releaseSlot(server, queue);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back(work);
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(server.active.load(), 0u);
  EXPECT_EQ(queue.length(), 0u);
  EXPECT_LE(most.load(), kLimit);
}

} // namespace
} // namespace corral::runtime

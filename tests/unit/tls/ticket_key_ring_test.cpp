#include "tls/ticket_key_ring.h"

#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace corral::tls {
namespace {

using namespace std::chrono_literals;
using Clock = TicketKeyRing::Clock;

const Clock::time_point kStart{}; // a fixed origin: the ring takes `now` from the caller

TEST(TicketKeyRingTest, KeysStayTheSameWithinAnInterval) {
  TicketKeyRing ring(12h, kStart);
  const auto first = ring.keysAt(kStart);
  const auto later = ring.keysAt(kStart + 12h - 1s);
  EXPECT_EQ(first->current.name, later->current.name);
  EXPECT_FALSE(later->previous);
}

// After a rotation the old key decrypts (tickets issued before it) but no longer encrypts.
TEST(TicketKeyRingTest, AfterAnIntervalTheOldKeyOnlyDecrypts) {
  TicketKeyRing ring(12h, kStart);
  const auto old_keys = ring.keysAt(kStart);
  const auto new_keys = ring.keysAt(kStart + 12h);
  EXPECT_NE(new_keys->current.name, old_keys->current.name);
  ASSERT_NE(new_keys->find(old_keys->current.name.data()), nullptr);
  EXPECT_EQ(new_keys->find(old_keys->current.name.data()), &*new_keys->previous);
  EXPECT_EQ(new_keys->find(new_keys->current.name.data()), &new_keys->current);
}

// So that no ticket is honoured for more than two intervals, even after a long quiet spell.
TEST(TicketKeyRingTest, AKeyTwoIntervalsOldIsDroppedAltogether) {
  TicketKeyRing ring(12h, kStart);
  const auto old_keys = ring.keysAt(kStart);
  const auto new_keys = ring.keysAt(kStart + 24h);
  EXPECT_FALSE(new_keys->previous);
  EXPECT_EQ(new_keys->find(old_keys->current.name.data()), nullptr);
}

TEST(TicketKeyRingTest, AnExplicitRotationKeepsOnePreviousKey) {
  TicketKeyRing ring(12h, kStart);
  const auto first = ring.keysAt(kStart);
  ring.rotate(kStart);
  ring.rotate(kStart);
  const auto third = ring.keysAt(kStart);
  EXPECT_NE(third->current.name, first->current.name);
  EXPECT_EQ(third->find(first->current.name.data()), nullptr); // two rotations ago
  EXPECT_NE(third->previous->name, first->current.name);
}

// Worker threads that all find the key due at the same moment agree on one new key.
TEST(TicketKeyRingTest, ThreadsFindingTheKeyDueTogetherRotateItOnce) {
  TicketKeyRing ring(12h, kStart);
  const auto old_name = ring.keysAt(kStart)->current.name;
  std::vector<std::array<unsigned char, 16>> seen(8);
  std::vector<std::thread> threads;
  for (auto& name : seen) {
    threads.emplace_back([&ring, &name] { name = ring.keysAt(kStart + 12h)->current.name; });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  const std::set<std::array<unsigned char, 16>> distinct(seen.begin(), seen.end());
  EXPECT_EQ(distinct.size(), 1u);
  EXPECT_NE(*distinct.begin(), old_name);
  EXPECT_EQ(ring.keysAt(kStart + 12h)->previous->name, old_name);
}

} // namespace
} // namespace corral::tls

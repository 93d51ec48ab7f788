// The one-shot timer of the control loop: fires once after its delay, a negative delay on the next
// turn, a cancelled or destroyed one never, and its callback may destroy it.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "corral/core/timer.h"

namespace corral {
namespace {

using namespace std::chrono_literals;

class TimerTest : public ::testing::Test {
protected:
  void SetUp() override { base_ = event_base_new(); }
  void TearDown() override { event_base_free(base_); }
  void run() { event_base_dispatch(base_); } // returns once no event is pending
  event_base* base_ = nullptr;
};

TEST_F(TimerTest, FiresOnceAfterItsDelay) {
  int fired = 0;
  Timer timer(base_, [&] { ++fired; });
  const auto start = std::chrono::steady_clock::now();
  timer.start(20ms);
  EXPECT_TRUE(timer.pending());
  run();
  EXPECT_EQ(fired, 1);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_FALSE(timer.pending());
}

TEST_F(TimerTest, ANegativeDelayFiresOnTheNextTurn) {
  int fired = 0;
  Timer timer(base_, [&] { ++fired; });
  timer.start(-5s);
  run();
  EXPECT_EQ(fired, 1);
}

TEST_F(TimerTest, RestartingReplacesThePendingOne) {
  int fired = 0;
  Timer timer(base_, [&] { ++fired; });
  timer.start(10s);
  timer.start(1ms);
  run();
  EXPECT_EQ(fired, 1);
}

TEST_F(TimerTest, ACancelledOrDestroyedTimerNeverFires) {
  int fired = 0;
  Timer cancelled(base_, [&] { ++fired; });
  cancelled.start(1ms);
  cancelled.cancel();
  {
    Timer destroyed(base_, [&] { ++fired; });
    destroyed.start(1ms);
  }
  run();
  EXPECT_EQ(fired, 0);
}

TEST_F(TimerTest, ItsCallbackMayDestroyIt) {
  int fired = 0;
  std::unique_ptr<Timer> timer;
  timer = std::make_unique<Timer>(base_, [&] {
    ++fired;
    timer.reset();
  });
  timer->start(1ms);
  run();
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(timer, nullptr);
}

} // namespace
} // namespace corral

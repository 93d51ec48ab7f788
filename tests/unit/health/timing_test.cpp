// Check jitter and the slow-start curve: properties over the whole range of their inputs.

#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "corral/health/timing.h"

namespace corral::health {
namespace {

using namespace std::chrono_literals;
using std::chrono::microseconds;

// Every delay stays within ±10% of the interval, for random numbers from both ends of the range
// and a million in between.
TEST(TimingTest, NextDelayStaysWithinTenPercentOfTheInterval) {
  std::mt19937_64 random(42);
  for (const std::chrono::milliseconds interval : {1ms, 7ms, 50ms, 2000ms, 3600000ms}) {
    const microseconds low = microseconds(interval) * 9 / 10;
    const microseconds high = microseconds(interval) * 11 / 10;
    for (uint64_t r : {uint64_t{0}, std::numeric_limits<uint64_t>::max()}) {
      EXPECT_GE(nextDelay(interval, r), low);
      EXPECT_LE(nextDelay(interval, r), high);
    }
    for (int i = 0; i < 200'000; ++i) {
      const microseconds delay = nextDelay(interval, random());
      ASSERT_GE(delay, low) << interval.count() << " ms";
      ASSERT_LE(delay, high) << interval.count() << " ms";
    }
  }
}

// The jitter is spread over the whole ±10% band, not bunched: with 100k draws for a 2 s interval,
// each tenth of the band holds about a tenth of the delays, and both edges are reached.
TEST(TimingTest, NextDelayCoversTheWholeBandEvenly) {
  std::mt19937_64 random(7);
  constexpr int kDraws = 100'000;
  int buckets[10] = {};
  microseconds smallest = 1h, largest = 0us;
  for (int i = 0; i < kDraws; ++i) {
    const microseconds delay = nextDelay(2s, random());
    smallest = std::min(smallest, delay);
    largest = std::max(largest, delay);
    const auto bucket = (delay - 1800ms) * 10 / 400ms;
    ++buckets[std::min<int64_t>(bucket, 9)];
  }
  for (int count : buckets) {
    EXPECT_NEAR(count, kDraws / 10, kDraws / 100);
  }
  EXPECT_LT(smallest, 1801ms);
  EXPECT_GT(largest, 2199ms);
}

TEST(TimingTest, FirstDelayIsAtMostAHundredMilliseconds) {
  std::mt19937_64 random(1);
  for (int i = 0; i < 100'000; ++i) {
    const microseconds delay = firstDelay(2s, random());
    ASSERT_GE(delay, 0us);
    ASSERT_LE(delay, 100ms);
  }
  EXPECT_EQ(firstDelay(2s, 0), 0us);
  EXPECT_EQ(firstDelay(2s, 100'000), 100ms);
}

TEST(TimingTest, FirstDelayIsAtMostTheIntervalWhenThatIsShorter) {
  std::mt19937_64 random(2);
  for (int i = 0; i < 100'000; ++i) {
    ASSERT_LE(firstDelay(20ms, random()), 20ms);
  }
}

} // namespace
} // namespace corral::health

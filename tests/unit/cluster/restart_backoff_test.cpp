#include "cluster/restart_backoff.h"

#include <gtest/gtest.h>

namespace corral::cluster {
namespace {

using namespace std::chrono_literals;

// A command that keeps exiting at once is retried 100 ms, 200 ms, 400 ms, ... and never more
// often than every 30 s once there.
TEST(RestartBackoffTest, DoublesFromTheInitialDelayUpToTheMaximum) {
  RestartBackoff backoff(100ms, 30s, 10s);
  std::vector<RestartBackoff::Duration> delays;
  for (int i = 0; i < 12; ++i) {
    delays.push_back(backoff.next(0ms));
  }
  EXPECT_EQ(delays[0], 100ms);
  EXPECT_EQ(delays[1], 200ms);
  EXPECT_EQ(delays[2], 400ms);
  EXPECT_EQ(delays[8], 25600ms);
  EXPECT_EQ(delays[9], 30s);
  EXPECT_EQ(delays[11], 30s);
}

// One crash after a long healthy run is respawned quickly, however bad its past.
TEST(RestartBackoffTest, AnInstanceThatStayedUpLongEnoughStartsOverAtTheInitialDelay) {
  RestartBackoff backoff(100ms, 30s, 10s);
  for (int i = 0; i < 6; ++i) {
    backoff.next(1s);
  }
  EXPECT_EQ(backoff.next(9999ms), 6400ms); // just short of stable: still growing
  EXPECT_EQ(backoff.next(10s), 100ms);
  EXPECT_EQ(backoff.next(0ms), 200ms);
}

} // namespace
} // namespace corral::cluster

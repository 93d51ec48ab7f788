#include "cluster/output_ring.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace corral::cluster {
namespace {

OutputLine line(int n) { return OutputLine{.pid = 7, .stream = Stream::Out, .text = std::to_string(n)}; }

std::vector<std::string> texts(const std::vector<OutputLine>& lines) {
  std::vector<std::string> result;
  for (const auto& l : lines) {
    result.push_back(l.text);
  }
  return result;
}

// `ctl logs` shows the last `capacity` lines, oldest first.
TEST(OutputRingTest, KeepsTheLastLinesOldestFirst) {
  OutputRing ring(3);
  for (int n = 1; n <= 5; ++n) {
    ring.push(line(n));
  }
  EXPECT_THAT(texts(ring.lines()), ::testing::ElementsAre("3", "4", "5"));
}

TEST(OutputRingTest, FollowersSeeNewLinesUntilTheyUnfollow) {
  OutputRing ring(10);
  std::vector<std::string> seen;
  ring.follow(1, [&seen](const OutputLine& l) { seen.push_back(l.text); });
  ring.push(line(1));
  EXPECT_TRUE(ring.unfollow(1));
  ring.push(line(2));
  EXPECT_THAT(seen, ::testing::ElementsAre("1"));
  EXPECT_FALSE(ring.unfollow(1));
}

// A follower whose client went away unfollows from inside its callback; the others still get the
// line.
TEST(OutputRingTest, AFollowerMayUnfollowDuringItsCallback) {
  OutputRing ring(10);
  int first = 0, second = 0;
  ring.follow(1, [&](const OutputLine&) {
    ++first;
    ring.unfollow(1);
  });
  ring.follow(2, [&](const OutputLine&) { ++second; });
  ring.push(line(1));
  ring.push(line(2));
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 2);
}

} // namespace
} // namespace corral::cluster

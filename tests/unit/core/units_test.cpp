#include <gtest/gtest.h>

#include "corral/core/units.h"

namespace corral {
namespace {

using namespace std::chrono_literals;

TEST(UnitsTest, ParsesEveryDurationUnit) {
  EXPECT_EQ(parseDuration("250ms").value(), 250ms);
  EXPECT_EQ(parseDuration("5s").value(), 5s);
  EXPECT_EQ(parseDuration("1m").value(), 1min);
  EXPECT_EQ(parseDuration("2h").value(), 2h);
  EXPECT_EQ(parseDuration("0").value(), 0ms);
}

TEST(UnitsTest, RejectsBadDurationsWithTheTextInTheMessage) {
  for (const char* bad : {"", "5", "5x", "s", "-1s", "1.5s", "5 s", "99999999999999999999h"}) {
    auto parsed = parseDuration(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_NE(parsed.error().message.find("duration"), std::string::npos) << bad;
  }
  EXPECT_EQ(parseDuration("5x").error().message,
            "expected a duration such as 250ms, 5s or 1m, got \"5x\"");
}

TEST(UnitsTest, ParsesSizesAsPowersOfTwo) {
  EXPECT_EQ(parseSize("512").value(), 512u);
  EXPECT_EQ(parseSize("16KiB").value(), 16384u);
  EXPECT_EQ(parseSize("1MiB").value(), 1048576u);
  EXPECT_EQ(parseSize("2GiB").value(), 2147483648u);
  for (const char* bad : {"", "KiB", "1TiB", "1.5MiB", "-1"}) {
    EXPECT_FALSE(parseSize(bad)) << bad;
  }
}

TEST(UnitsTest, FormatsTheShortestExactDuration) {
  EXPECT_EQ(formatDuration(1500ms), "1500ms");
  EXPECT_EQ(formatDuration(5s), "5s");
  EXPECT_EQ(formatDuration(2min), "2m");
  EXPECT_EQ(formatDuration(0ms), "0ms");
}

} // namespace
} // namespace corral

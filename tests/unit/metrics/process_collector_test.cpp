#include "corral/metrics/process_collector.h"

#include <unistd.h>

#include <chrono>

#include <gtest/gtest.h>

#include "tests/unit/metrics/metrics_test_support.h"

namespace corral::metrics {
namespace {

using namespace testing;

// A /proc/PID/stat line whose command name holds a space and a ')' (as `(a) b)` would), which
// is why fields are counted from the last ')'. Fields 14, 15, 22, 23, 24 are 11, 12, 19, 20, 21.
TEST(ProcessCollectorTest, ParsesProcStatAfterTheLastParenthesis) {
  const auto stat = parseProcStat(
      "42 (a) b) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22\n");
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->user_ticks, 11);
  EXPECT_EQ(stat->system_ticks, 12);
  EXPECT_EQ(stat->start_ticks, 19);
  EXPECT_EQ(stat->virtual_bytes, 20);
  EXPECT_EQ(stat->resident_pages, 21);
}

TEST(ProcessCollectorTest, RejectsATruncatedOrGarbledProcStat) {
  EXPECT_FALSE(parseProcStat("42 (corral) S 1 2 3").has_value());
  EXPECT_FALSE(parseProcStat("no parenthesis at all").has_value());
  EXPECT_FALSE(parseProcStat("1 (x) S 1 2 3 4 5 6 7 8 9 10 x 12 13 14 15 16 17 19 20 21 22 23")
                   .has_value());
}

TEST(ProcessCollectorTest, FindsTheBootTimeInProcStat) {
  EXPECT_EQ(parseBootTime("cpu  1 2 3\nintr 5 6\nbtime 1700000000\nprocesses 9\n"), 1700000000);
  EXPECT_FALSE(parseBootTime("cpu  1 2 3\n").has_value());
}

// Read from this test process: it has memory, open descriptors, and started before now.
TEST(ProcessCollectorTest, ReportsThisProcess) {
  const auto families = ProcessCollector().Collect();
  EXPECT_GT(valueOf(families, "process_resident_memory_bytes", {}).value_or(0), 1 << 20);
  EXPECT_GE(valueOf(families, "process_open_fds", {}).value_or(0), 3); // stdin, stdout, stderr
  EXPECT_GE(valueOf(families, "process_max_fds", {}).value_or(0),
            valueOf(families, "process_open_fds", {}).value_or(0));
  EXPECT_GE(valueOf(families, "process_cpu_seconds_total", {}).value_or(-1), 0);
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  const double started = valueOf(families, "process_start_time_seconds", {}).value_or(0);
  EXPECT_LE(started, now + 1);  // ticks are 10 ms; btime is whole seconds
  EXPECT_GT(started, now - 600); // this test binary started minutes ago at most
}

} // namespace
} // namespace corral::metrics

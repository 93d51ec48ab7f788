#include <event2/event.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "corral/cluster/supervisor.h"

namespace corral::cluster {
namespace {

using ::testing::HasSubstr;

struct Base {
  event_base* base = event_base_new();
  ~Base() { event_base_free(base); }
};

SupervisorOptions options(uint32_t instances, uint16_t first, uint16_t last) {
  return SupervisorOptions{.backend = "app",
                           .spawn = {.command = {"/bin/true"},
                                     .instances = instances,
                                     .port_first = first,
                                     .port_last = last}};
}

// Each instance needs a port, and a rolling restart one more for the replacement.
TEST(MakeSupervisorTest, RejectsAPortRangeWithoutASparePort) {
  Base loop;
  auto supervisor = makeSupervisor(loop.base, options(4, 9001, 9004));
  ASSERT_FALSE(supervisor);
  EXPECT_EQ(supervisor.error().code, ErrorCode::BadConfig);
  EXPECT_THAT(supervisor.error().message, HasSubstr("9001-9004"));
  EXPECT_TRUE(makeSupervisor(loop.base, options(4, 9001, 9005)));
}

TEST(MakeSupervisorTest, RejectsAnEmptyCommand) {
  Base loop;
  SupervisorOptions bad = options(1, 9001, 9002);
  bad.spawn.command.clear();
  auto supervisor = makeSupervisor(loop.base, bad);
  ASSERT_FALSE(supervisor);
  EXPECT_THAT(supervisor.error().message, HasSubstr("command"));
}

TEST(MakeSupervisorTest, RejectsAHostNameForTheInstances) {
  Base loop;
  SupervisorOptions bad = options(1, 9001, 9002);
  bad.host = "localhost";
  EXPECT_FALSE(makeSupervisor(loop.base, bad));
}

// `instances: auto` is resolved to a count by the loader; a supervisor never sees 0.
TEST(MakeSupervisorTest, RejectsZeroInstances) {
  Base loop;
  auto supervisor = makeSupervisor(loop.base, options(0, 9001, 9999));
  ASSERT_FALSE(supervisor);
  EXPECT_THAT(supervisor.error().message, HasSubstr("spawn.instances is 0"));
}

// Instances are named app#0 .. app#N-1 and stopped on consecutive ports before anything starts.
TEST(MakeSupervisorTest, NamesEachSlotAndGivesItAPortBeforeStarting) {
  Base loop;
  auto supervisor = makeSupervisor(loop.base, options(3, 9001, 9999));
  ASSERT_TRUE(supervisor);
  EXPECT_EQ((*supervisor)->instances(), 3u);
  const auto status = (*supervisor)->status();
  ASSERT_EQ(status.size(), 3u);
  EXPECT_EQ(status.back().name, instanceName("app", 2));
  EXPECT_EQ(status.back().port, 9003);
  EXPECT_EQ(status.front().state, InstanceState::Stopped);
  EXPECT_EQ(status.front().port, 9001);
}

TEST(ExitStatusTest, DescribesEachWayAnInstanceEnds) {
  EXPECT_EQ(ExitStatus{.code = 3}.describe(), "exited with status 3");
  EXPECT_EQ(ExitStatus{.signal = 9}.describe(), "killed by signal 9 (KILL)");
  EXPECT_EQ(ExitStatus{.exec_error = ENOENT}.describe(),
            "could not start: No such file or directory");
}

} // namespace
} // namespace corral::cluster

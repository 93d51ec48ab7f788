// The keeper process (src/cluster/keeper.h) with real children: it spawns on request, reports
// each exit with its wait status, and stops its children once the last holder of its socket is
// gone (corral killed outright).
#include "cluster/keeper.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include <event2/event.h>
#include <gtest/gtest.h>

#include "cluster/child_reaper.h"
#include "tests/support/wait.h"

namespace corral::cluster {
namespace {

using namespace std::chrono_literals;

class KeeperTest : public ::testing::Test {
protected:
  void SetUp() override {
    auto keeper = startKeeper();
    ASSERT_TRUE(keeper) << keeper.error().message;
    socket_ = *keeper;
    useKeeper(socket_);
    reaper_ = ChildReaper::forBase(base_);
  }
  void TearDown() override {
    reaper_.reset();
    useKeeper(-1);
    if (socket_ >= 0) {
      close(socket_);
    }
    event_base_free(base_);
  }
  ForkedChild spawn(const std::string& script) {
    auto forked = reaper_->spawn(makeExecSpec({"/bin/sh", "-c", script}, "", {}), "test", 1s);
    EXPECT_TRUE(forked) << forked.error().message;
    for (int fd : {forked->out, forked->err, forked->exec_status}) {
      close(fd);
    }
    return *forked;
  }

  event_base* base_ = event_base_new();
  int socket_ = -1;
  std::shared_ptr<ChildReaper> reaper_;
};

TEST_F(KeeperTest, SpawnsAChildAndReportsItsExitStatus) {
  const ForkedChild child = spawn("exit 3");
  ASSERT_GT(child.pid, 0);
  std::optional<int> status;
  reaper_->watch(child.pid, [&status](int wait_status) { status = wait_status; });
  EXPECT_TRUE(test::pollUntil([&] {
    event_base_loop(base_, EVLOOP_NONBLOCK);
    return status.has_value();
  }, 10s));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 3);
}

TEST_F(KeeperTest, StopsItsChildrenWhenTheLastHolderOfItsSocketIsGone) {
  const ForkedChild child = spawn("exec sleep 100");
  ASSERT_GT(child.pid, 0);
  EXPECT_EQ(kill(child.pid, 0), 0);
  reaper_.reset();
  close(socket_);
  socket_ = -1;
  EXPECT_TRUE(test::pollUntil([&] { return kill(child.pid, 0) != 0; }, 10s))
      << "the child outlived the keeper's last holder";
}

} // namespace
} // namespace corral::cluster

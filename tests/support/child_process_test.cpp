#include <signal.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/child_process.h"
#include "tests/support/files.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

using ::testing::HasSubstr;

// stdin, stdout, stderr, the exit code and the extra environment each reach the right place.
TEST(ChildProcessTest, RunsACommandWithInputEnvironmentAndSeparateOutputs) {
  const CommandResult result =
      runCommand({"sh", "-c", "read line; echo \"$line $GREETING\"; echo oops >&2; exit 3"},
                 {.input = "hello\n", .environment = {{"GREETING", "world"}}});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.out, "hello world\n");
  EXPECT_EQ(result.err, "oops\n");
}

TEST(ChildProcessTest, MergedOutputKeepsTheOrderOfWrites) {
  const CommandResult result =
      runCommand({"sh", "-c", "echo one; echo two >&2; echo three"}, {.merge_output = true});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "one\ntwo\nthree\n");
}

TEST(ChildProcessTest, AProgramThatCannotRunExits127AndSaysWhy) {
  const CommandResult result = runCommand({"/nonexistent/program"});
  EXPECT_EQ(result.exit_code, 127);
  EXPECT_THAT(result.err, HasSubstr("exec failed: /nonexistent/program"));
}

// stop() asks with SIGTERM first: a child that handles it exits on its own terms.
TEST(ChildProcessTest, StopSendsSigtermFirst) {
  const TempDir dir;
  ChildProcess child(
      {"sh", "-c", "trap 'echo term; exit 7' TERM; echo up; while :; do sleep 0.05; done"},
      {.stdout_path = dir.path() / "out"});
  ASSERT_TRUE(pollUntil([&] { return readFile(dir.path() / "out") == "up\n"; }, 10s));
  EXPECT_EQ(child.stop(), ExitStatus::exited(7));
  EXPECT_EQ(readFile(dir.path() / "out"), "up\nterm\n");
}

// A child that ignores SIGTERM is killed once the grace period is over.
TEST(ChildProcessTest, StopKillsAChildThatIgnoresSigterm) {
  const TempDir dir;
  ChildProcess child({"sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.05; done"},
                     {.stdout_path = dir.path() / "out"});
  ASSERT_TRUE(pollUntil([&] { return readFile(dir.path() / "out") == "up\n"; }, 10s));
  EXPECT_EQ(child.stop(200ms), std::nullopt);
  ASSERT_TRUE(child.status());
  EXPECT_EQ(child.status()->signal, SIGKILL);
}

// A descriptor of the test process reaches the child under the number asked for.
TEST(ChildProcessTest, PassesADescriptorUnderItsNumber) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  {
    ChildProcess child({"sh", "-c", "echo through >&5"}, {.descriptors = {{fds[1], 5}}});
    EXPECT_EQ(child.waitExit(10s), ExitStatus::exited(0));
  }
  ::close(fds[1]);
  char buffer[16] = {};
  EXPECT_EQ(::read(fds[0], buffer, sizeof(buffer)), 8);
  EXPECT_STREQ(buffer, "through\n");
  ::close(fds[0]);
}

} // namespace
} // namespace corral::test

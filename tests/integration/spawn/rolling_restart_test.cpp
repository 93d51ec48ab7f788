// `corral ctl restart app`: a rolling restart, one slot at a time, under load. Clients that
// open a new connection per request lose none, every slot ends up with a new process, and a
// client whose cookie names app#2 follows the slot to its new process without a new cookie.
#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/spawn/client_load.h"
#include "tests/integration/spawn/cluster_config.h"
#include "tests/integration/spawn/http_exchange.h"
#include "tests/integration/spawn/spawned_cluster.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr std::string_view kRollFinished = "app: rolling restart finished";
constexpr std::string_view kRollStopped = "rolling restart stopped";

struct Roll {
  bool finished = false; // corral logged the end of the roll, successful or not
  bool succeeded = false;
  Clock::time_point started; // ctl restart was run
  Clock::time_point ended;   // its end was seen in corral's log
};

// Starts the roll with ctl and waits until corral logs its end.
Roll rollingRestart(const SpawnedCluster& cluster, std::chrono::milliseconds timeout) {
  Roll roll{.started = Clock::now()};
  const CommandResult restart = cluster.ctl({"restart", "app"});
  EXPECT_EQ(restart.exit_code, 0) << restart.out << restart.err;
  EXPECT_NE(restart.out.find("rolling restart started"), std::string::npos) << restart.out;
  roll.finished = pollUntil(
      [&] {
        return !cluster.stderrLinesWith(kRollFinished).empty() ||
               !cluster.stderrLinesWith(kRollStopped).empty();
      },
      timeout, 10ms);
  roll.ended = Clock::now();
  roll.succeeded = !cluster.stderrLinesWith(kRollFinished).empty();
  return roll;
}

std::map<std::string, pid_t> pidsBySlot(const std::vector<Instance>& instances) {
  std::map<std::string, pid_t> pids;
  for (const Instance& instance : instances) {
    pids[instance.name] = instance.pid;
  }
  return pids;
}

// Four clients, each a new connection per request, from before the roll until it has ended and
// every new process has answered (or 30 s). Not one request may fail; each slot gets a new pid,
// and the processes it replaced end.
TEST(SpawnRollingRestartTest, RollingRestartUnderLoadLosesNoRequestAndReplacesEveryProcess) {
  SpawnedCluster cluster(kClusterConfig, clusterSubstitutions());
  ASSERT_TRUE(cluster.ready());
  const auto before = cluster.waitAllUp(kInstances, 15s);
  ASSERT_TRUE(before) << cluster.corral().stderrText();
  const auto old_pids = pidsBySlot(*before);
  ClientLoad load(cluster.frontend(), {.clients = 4, .max_requests = 100000, .max_duration = 30s});
  const auto load_started = Clock::now();
  ASSERT_TRUE(pollUntil([&] { return load.records().size() >= 20; }, 10s));

  const Roll roll = rollingRestart(cluster, 30s);
  ASSERT_TRUE(roll.finished) << "the rolling restart did not end within 30 s:\n"
                             << cluster.corral().stderrText();
  EXPECT_TRUE(roll.succeeded) << cluster.corral().stderrText();
  const auto after = cluster.waitAllUp(kInstances, 10s);
  ASSERT_TRUE(after) << cluster.corral().stderrText();
  for (const auto& [slot, pid] : pidsBySlot(*after)) {
    EXPECT_TRUE(pollUntil(
        [&] {
          return load.any(load_started,
                          [pid = pid](const LoadRecord& r) { return r.exchange.pid == pid; });
        },
        10s))
        << slot << " (pid " << pid << ") got no request";
  }
  load.stop();
  const auto records = load.records();
  const auto during = std::count_if(records.begin(), records.end(), [&](const LoadRecord& r) {
    return r.started >= roll.started && r.ended <= roll.ended;
  });
  fmt::print("rolling restart of 4 instances took {} ms (until corral logged its end), {} "
             "requests within it; over the whole load: {}\n",
             duration_cast<milliseconds>(roll.ended - roll.started).count(), during,
             describeFailures(records));
  EXPECT_TRUE(std::all_of(records.begin(), records.end(), [](const LoadRecord& r) {
    return r.exchange.ok();
  })) << describeFailures(records, 20);
  for (const auto& [slot, pid] : pidsBySlot(*after)) {
    EXPECT_NE(pid, old_pids.at(slot)) << slot << " kept its process";
    EXPECT_EQ(std::count_if(old_pids.begin(), old_pids.end(),
                            [pid = pid](const auto& old) { return old.second == pid; }),
              0)
        << slot << " was given another slot's old process " << pid;
  }
  for (const auto& [slot, pid] : old_pids) {
    EXPECT_TRUE(pollUntil([pid = pid] { return !isRunning(pid); }, 5s))
        << "the old process of " << slot << " (pid " << pid << ") still runs";
  }
}

// New connections without a cookie until one lands on app#2 (round robin fallback, at most 40),
// whose reply carries the cookie that names app#2.
std::optional<std::string> cookieForSlot2(const std::string& frontend) {
  for (int i = 0; i < 40; ++i) {
    const HttpExchange reply = httpExchange(frontend);
    EXPECT_TRUE(reply.ok()) << reply.error << reply.body;
    EXPECT_TRUE(reply.set_cookie) << "a client without a cookie got none from " << reply.instance;
    if (reply.instance == "demo-2" && reply.set_cookie) {
      return cookiePair(*reply.set_cookie);
    }
  }
  return std::nullopt;
}

// The cookie names the slot, not an address: after the roll the same cookie reaches the process
// that now serves app#2, and corral sees no reason to issue a new one.
TEST(SpawnRollingRestartTest, ClientWithAnApp2CookieReachesTheNewApp2ProcessWithoutANewCookie) {
  SpawnedCluster cluster(kClusterConfig, clusterSubstitutions("sticky_cookie"));
  ASSERT_TRUE(cluster.ready());
  const auto before = cluster.waitAllUp(kInstances, 15s);
  ASSERT_TRUE(before) << cluster.corral().stderrText();
  const pid_t old_pid = pidsBySlot(*before).at(slotName(2));
  const auto cookie = cookieForSlot2(cluster.frontend());
  ASSERT_TRUE(cookie) << "no reply from demo-2 in 40 requests";
  const HttpExchange sticky_before = httpExchange(cluster.frontend(), *cookie);
  ASSERT_TRUE(sticky_before.ok()) << sticky_before.error;
  EXPECT_EQ(sticky_before.pid, old_pid);
  EXPECT_FALSE(sticky_before.set_cookie) << *sticky_before.set_cookie;

  const Roll roll = rollingRestart(cluster, 30s);
  ASSERT_TRUE(roll.finished && roll.succeeded) << cluster.corral().stderrText();
  const auto after = cluster.waitAllUp(kInstances, 10s);
  ASSERT_TRUE(after) << cluster.corral().stderrText();
  const pid_t new_pid = pidsBySlot(*after).at(slotName(2));
  ASSERT_NE(new_pid, old_pid);
  for (int i = 0; i < 3; ++i) { // the same answer on each new connection
    const HttpExchange sticky_after = httpExchange(cluster.frontend(), *cookie);
    ASSERT_TRUE(sticky_after.ok()) << sticky_after.error;
    EXPECT_EQ(sticky_after.instance, "demo-2");
    EXPECT_EQ(sticky_after.pid, new_pid) << "old app#2 pid " << old_pid;
    EXPECT_FALSE(sticky_after.set_cookie) << "re-issued: " << *sticky_after.set_cookie;
  }
  fmt::print("app#2 cookie: pid {} before the roll, {} after it, no new cookie\n", old_pid,
             new_pid);
}

} // namespace
} // namespace corral::test

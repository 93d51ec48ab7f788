// Instances never outlive corral: SIGKILL of corral takes them down with it (PR_SET_PDEATHSIG),
// and SIGTERM drains the open sessions, stops every instance, reaps it and exits 0.
#include <signal.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/spawn/cluster_config.h"
#include "tests/integration/spawn/spawned_cluster.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

std::vector<pid_t> runningPids(const std::vector<Instance>& instances) {
  std::vector<pid_t> pids;
  for (const Instance& instance : instances) {
    EXPECT_TRUE(isRunning(instance.pid)) << instance.name << " pid " << instance.pid;
    pids.push_back(instance.pid);
  }
  return pids;
}

// corral cannot clean up after SIGKILL: the kernel's parent-death signal must end each instance.
// Their zombies then belong to PID 1, which may not reap them here, so a zombie counts as ended.
TEST(SpawnLifetimeTest, SigkillOfCorralLeavesNoInstanceRunning) {
  SpawnedCluster cluster(kClusterConfig, clusterSubstitutions());
  ASSERT_TRUE(cluster.ready());
  const auto instances = cluster.waitAllUp(kInstances, 15s);
  ASSERT_TRUE(instances) << cluster.corral().stderrText();
  const auto pids = runningPids(*instances);
  cluster.corral().sendSignal(SIGKILL);
  EXPECT_EQ(cluster.corral().waitExit(5s), ExitStatus{.signal = SIGKILL});
  for (const pid_t pid : pids) {
    EXPECT_TRUE(pollUntil([pid] { return !isRunning(pid); }, 5s))
        << "instance pid " << pid << " outlived corral";
  }
}

std::string askOnSession(TcpClient& client) {
  if (!client.writeAll("GET / HTTP/1.1\r\nHost: corral.test\r\n\r\n")) {
    return "write failed: " + client.error();
  }
  return readKeepAliveReply(client, 5s);
}

// A client in the middle of a keep-alive session when SIGTERM arrives is still answered by the
// same instance: corral drains before it stops the instances. Once the session ends, corral stops
// and reaps every instance (no zombie either, as corral is their parent) and exits 0.
TEST(SpawnLifetimeTest, SigtermDrainsThenStopsEveryInstanceAndExitsZero) {
  SpawnedCluster cluster(kClusterConfig, clusterSubstitutions());
  ASSERT_TRUE(cluster.ready());
  const auto instances = cluster.waitAllUp(kInstances, 15s);
  ASSERT_TRUE(instances) << cluster.corral().stderrText();
  const auto pids = runningPids(*instances);
  TcpClient session(cluster.frontend());
  ASSERT_TRUE(session.connected()) << session.error();
  const std::string first = askOnSession(session);
  ASSERT_NE(first.find(" request 1\n"), std::string::npos) << first;
  const std::string instance = first.substr(0, first.find(" request"));

  cluster.corral().sendSignal(SIGTERM);
  const std::string second = askOnSession(session);
  EXPECT_EQ(second, instance + " request 2\n") << "during the drain";
  session.shutdownWrite();
  EXPECT_EQ(session.readAll(5s), "");
  const auto exit = cluster.corral().waitExit(15s);
  EXPECT_EQ(exit, ExitStatus::exited(0)) << cluster.corral().stderrText();
  for (const pid_t pid : pids) {
    EXPECT_TRUE(isReaped(pid)) << "instance pid " << pid << " is left after corral exited"
                               << (isRunning(pid) ? " (running)" : " (a zombie)");
  }
  EXPECT_FALSE(cluster.stderrLinesWith("app: every instance has stopped").empty())
      << cluster.corral().stderrText();
}

} // namespace
} // namespace corral::test

// Cluster mode serving: four clones start and answer through corral, a clone killed with
// SIGKILL under load is respawned and serves again within 2 s, and a command that exits at once
// is retried with a growing delay while the other backend keeps serving.
#include <signal.h>

#include <algorithm>
#include <map>
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

std::set<pid_t> pidsOf(const std::vector<Instance>& instances) {
  std::set<pid_t> pids;
  for (const Instance& instance : instances) {
    pids.insert(instance.pid);
  }
  return pids;
}

std::optional<Instance> find(const std::optional<std::vector<Instance>>& instances,
                             std::string_view name) {
  if (!instances) {
    return std::nullopt;
  }
  for (const Instance& instance : *instances) {
    if (instance.name == name) {
      return instance;
    }
  }
  return std::nullopt;
}

// New connections until every pid in `expected` has answered; at most 10 per instance.
// Returns the name each pid answered with.
std::map<pid_t, std::string> pidsServing(const std::string& frontend,
                                         const std::set<pid_t>& expected) {
  std::map<pid_t, std::string> served;
  for (size_t i = 0; i < 10 * expected.size() && served.size() < expected.size(); ++i) {
    const HttpExchange reply = httpExchange(frontend);
    EXPECT_TRUE(reply.ok()) << reply.error << reply.body;
    served[reply.pid] = reply.instance;
  }
  return served;
}

// Every slot is listed by name with a pid of its own, and each pid answers through the frontend
// as "demo-N" of its own slot. Each clone's startup line reaches corral's stderr prefixed with
// its slot and pid, and `ctl logs app#N` keeps it.
TEST(SpawnServingTest, FourInstancesStartServeAndLogWithTheirSlotPrefix) {
  SpawnedCluster cluster(kClusterConfig, clusterSubstitutions());
  ASSERT_TRUE(cluster.ready());
  const auto instances = cluster.waitAllUp(kInstances, 15s);
  ASSERT_TRUE(instances) << "not all 4 instances up; stderr:\n" << cluster.corral().stderrText();
  ASSERT_EQ(instances->size(), 4u);
  for (int slot = 0; slot < kInstances; ++slot) {
    EXPECT_EQ((*instances)[slot].name, slotName(slot));
  }
  const std::set<pid_t> pids = pidsOf(*instances);
  ASSERT_EQ(pids.size(), 4u) << "two slots share a pid";
  const auto served = pidsServing(cluster.frontend(), pids);
  for (int slot = 0; slot < kInstances; ++slot) {
    const pid_t pid = (*instances)[slot].pid;
    const auto answered = served.find(pid);
    EXPECT_TRUE(answered != served.end() && answered->second == fmt::format("demo-{}", slot))
        << slotName(slot) << " (pid " << pid << ") did not answer as demo-" << slot;
  }
  EXPECT_EQ(served.size(), 4u) << "a pid that ctl status does not list answered";

  for (int slot = 0; slot < kInstances; ++slot) {
    const pid_t pid = (*instances)[slot].pid;
    const std::string prefixed = fmt::format(
        "{} [{}] demo-{} (pid {}) listening on 127.0.0.1:", slotName(slot), pid, slot, pid);
    EXPECT_TRUE(pollUntil([&] { return !cluster.stderrLinesWith(prefixed).empty(); }, 5s))
        << "no line \"" << prefixed << "\" in corral's stderr:\n"
        << cluster.corral().stderrText();
    const CommandResult logs = cluster.ctl({"logs", slotName(slot)});
    EXPECT_EQ(logs.exit_code, 0) << logs.err;
    EXPECT_NE(logs.out.find(fmt::format("[{}] demo-{} (pid {}) listening", pid, slot, pid)),
              std::string::npos)
        << "ctl logs " << slotName(slot) << ":\n"
        << logs.out;
  }
}

struct Respawn {
  Clock::time_point killed;
  Clock::time_point gone;                  // the killed process was seen dead (a zombie or reaped)
  std::optional<Clock::time_point> listed; // ctl status showed a new pid for the slot
  std::optional<pid_t> new_pid;
};

// SIGKILL to `victim` (slot `name`), then waits until the process is dead and ctl lists a new one.
Respawn killAndWaitForRespawn(const SpawnedCluster& cluster, const std::string& name,
                              pid_t victim) {
  Respawn respawn{.killed = Clock::now(), .gone = {}, .listed = {}, .new_pid = {}};
  EXPECT_EQ(::kill(victim, SIGKILL), 0);
  EXPECT_TRUE(pollUntil([&] { return !isRunning(victim); }, 5s, 1ms));
  respawn.gone = Clock::now();
  pollUntil(
      [&] {
        const auto now = find(cluster.instances(), name);
        if (now && now->pid != 0 && now->pid != victim) {
          respawn.listed = Clock::now();
          respawn.new_pid = now->pid;
        }
        return respawn.new_pid.has_value();
      },
      10s, 10ms);
  return respawn;
}

long long msBetween(Clock::time_point from, Clock::time_point to) {
  return duration_cast<milliseconds>(to - from).count();
}

// What the clients saw around the kill of `victim`, a process of slot demo-1.
struct KillOutcome {
  std::optional<Clock::time_point> served; // first reply of the slot's new process
  std::vector<LoadRecord> failed;
  size_t served_by_others = 0; // after the victim died, before the new process served
};

KillOutcome outcomeOf(const std::vector<LoadRecord>& records, const Respawn& respawn,
                      pid_t victim) {
  KillOutcome outcome;
  for (const LoadRecord& record : records) {
    const auto& reply = record.exchange;
    if (reply.ok() && reply.instance == "demo-1" && reply.pid != victim &&
        (!outcome.served || record.ended < *outcome.served)) {
      outcome.served = record.ended;
    }
  }
  for (const LoadRecord& record : records) {
    if (!record.exchange.ok()) {
      outcome.failed.push_back(record);
    } else if (record.ended > respawn.gone && record.exchange.pid != victim && // its last replies
               (!outcome.served || record.ended < *outcome.served)) {          // may be late
      ++outcome.served_by_others;
    }
  }
  return outcome;
}

void printOutcome(const Respawn& respawn, pid_t victim, const KillOutcome& outcome,
                  const std::vector<LoadRecord>& records) {
  fmt::print("app#1 kill -9: pid {} dead after {} ms, new pid {} listed after {} ms, serving "
             "after {}; {} requests served by the others meanwhile; {}\n",
             victim, msBetween(respawn.killed, respawn.gone), respawn.new_pid.value_or(0),
             respawn.listed ? msBetween(respawn.killed, *respawn.listed) : -1,
             outcome.served ? fmt::format("{} ms", msBetween(respawn.killed, *outcome.served))
                            : std::string("never"),
             outcome.served_by_others, describeFailures(records));
}

// Four clients, a new connection per request. app#1 is killed with SIGKILL: the slot gets a new
// process that answers within 2 s of the kill. Only requests that were in flight when the process
// died may fail (at most one per client); the other clones take the rest of the traffic.
TEST(SpawnServingTest, KilledInstanceIsRespawnedAndServesAgainWithinTwoSeconds) {
  SpawnedCluster cluster(kClusterConfig, clusterSubstitutions());
  ASSERT_TRUE(cluster.ready());
  const auto before = cluster.waitAllUp(kInstances, 15s);
  ASSERT_TRUE(before) << cluster.corral().stderrText();
  const pid_t victim = find(before, slotName(1))->pid;
  const LoadOptions options{.clients = 4, .max_requests = 50000, .max_duration = 30s};
  ClientLoad load(cluster.frontend(), options);
  const auto load_started = Clock::now();
  ASSERT_TRUE(pollUntil(
      [&] {
        return load.any(load_started,
                        [&](const LoadRecord& r) { return r.exchange.pid == victim; });
      },
      10s))
      << "app#1 got no request under load";

  const Respawn respawn = killAndWaitForRespawn(cluster, slotName(1), victim);
  ASSERT_TRUE(respawn.new_pid) << "app#1 was not respawned within 10 s:\n"
                               << cluster.corral().stderrText();
  if (!pollUntil(
          [&] {
            return load.any(respawn.killed, [&](const LoadRecord& r) {
              return r.exchange.ok() && r.exchange.pid == *respawn.new_pid;
            });
          },
          10s, 1ms)) {
    const auto slot = find(cluster.instances(), slotName(1));
    ADD_FAILURE() << "the new app#1 (pid " << *respawn.new_pid << ") got no request within 10 s "
                  << "of the kill; ctl status shows it " << (slot ? slot->state : "?") << " ("
                  << (slot ? slot->reason : "") << ")";
  }
  load.stop();
  const auto records = load.records();
  const KillOutcome outcome = outcomeOf(records, respawn, victim);
  printOutcome(respawn, victim, outcome, records);
  ASSERT_TRUE(outcome.served);
  EXPECT_LT(msBetween(respawn.killed, *outcome.served), 8000); // generous: ASan, 2 loaded cores
  EXPECT_LE(outcome.failed.size(), static_cast<size_t>(options.clients));
  for (const LoadRecord& record : outcome.failed) {
    EXPECT_LT(record.started, respawn.gone)
        << "a request that began after app#1 died failed: " << record.exchange.error;
  }
  EXPECT_GT(outcome.served_by_others, 0u) << "no request was served while app#1 was away";
}

// 100, 200, 400, 800 and 1600 ms: the first five respawn delays (RestartBackoff).
constexpr std::chrono::milliseconds kFirstFiveBackoffs{3100};

// A YAML list item under `backends:` (CorralProcess substitutes in one pass, so the ports go in
// here rather than as a ${name} of their own).
std::string crashBackend(const std::string& ports) {
  return fmt::format(R"(  - name: crash
    spawn: {{command: [/bin/sh, -c, "exit 3"], instances: 1, ports: "{}", stop_timeout: 2s}})",
                     ports);
}

// A second backend whose command exits with status 3 at once: corral names the instance and its
// status, waits twice as long before each respawn (so within the first 3.1 s after the first exit
// it can respawn at most four times, where a tight loop would respawn hundreds of times), and
// ctl status shows the growing restart count. app keeps serving every request meanwhile.
TEST(SpawnServingTest, CrashLoopingCommandBacksOffWhileTheOtherBackendKeepsServing) {
  // One free range for both backends, so that their ports cannot overlap.
  const int first = freePorts(kPorts + 2);
  Substitutions substitutions = clusterSubstitutions();
  substitutions["ports"] = portRange(first, kPorts);
  substitutions["extra_backends"] = crashBackend(portRange(first + kPorts, 2));
  const auto launched = Clock::now();
  SpawnedCluster cluster(kClusterConfig, substitutions);
  ASSERT_TRUE(cluster.ready());
  ASSERT_TRUE(cluster.waitAllUp(kInstances, 15s)) << cluster.corral().stderrText();
  ClientLoad load(cluster.frontend(), {.clients = 2, .max_requests = 20000, .max_duration = 20s});

  std::optional<Instance> crash;
  ASSERT_TRUE(pollUntil(
      [&] {
        crash = find(cluster.instances("crash"), "crash#0");
        return crash && crash->restarts >= 5;
      },
      15s, 20ms))
      << "crash#0 restarts: " << (crash ? crash->restarts : 0);
  const auto fifth_restart_seen = Clock::now();
  load.stop();
  const auto records = load.records();
  fmt::print("crash#0: {} restarts seen {} ms after corral was launched; app: {}\n",
             crash->restarts, msBetween(launched, fifth_restart_seen), describeFailures(records));
  EXPECT_GE(fifth_restart_seen - launched, kFirstFiveBackoffs);
  EXPECT_LE(crash->restarts, 6u) << "more restarts than the backoff allows in the time it took";
  const auto exits = cluster.stderrLinesWith("crash#0 [");
  const auto status3 = std::count_if(exits.begin(), exits.end(), [](const std::string& line) {
    return line.find("exited with status 3") != std::string::npos;
  });
  EXPECT_GE(status3, 5) << cluster.corral().stderrText();
  for (int delay : {100, 200, 400, 800, 1600}) {
    EXPECT_FALSE(cluster.stderrLinesWith(fmt::format("respawning in {} ms", delay)).empty())
        << "no respawn delay of " << delay << " ms in:\n"
        << cluster.corral().stderrText();
  }
  EXPECT_GT(records.size(), 0u);
  EXPECT_TRUE(std::all_of(records.begin(), records.end(), [](const LoadRecord& r) {
    return r.exchange.ok();
  })) << describeFailures(records);
}

} // namespace
} // namespace corral::test

// The supervisor with real child processes on 127.0.0.1. Every wait runs the event loop until an
// observable fact holds or a deadline passes; no test sleeps.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <event2/event.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include "corral/cluster/supervisor.h"
#include "corral/core/log.h"

#include "tests/support/child_process.h"
#include "tests/support/connect_probe.h"
#include "tests/support/event_loop.h"

namespace corral::cluster {
namespace {

using namespace std::chrono_literals;
using test::Loop;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

/// Collects what the `cluster` logger writes while the test runs.
class LogCapture {
public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)) {
    log::cluster()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = log::cluster()->sinks();
    sinks.erase(std::find(sinks.begin(), sinks.end(), sink_));
  }
  std::string text() const { return text_.str(); }

private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

bool portFree(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {INADDR_ANY}};
  const bool free = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return free;
}

/// The first port of `count` consecutive free ones, spread by pid so parallel runs rarely meet.
uint16_t freePortRange(uint32_t count) {
  for (uint32_t first = 20000 + (getpid() % 200) * 50; first < 60000; first += count) {
    bool all_free = true;
    for (uint32_t port = first; port < first + count && all_free; ++port) {
      all_free = portFree(static_cast<uint16_t>(port));
    }
    if (all_free) {
      return static_cast<uint16_t>(first);
    }
  }
  ADD_FAILURE() << "no free port range";
  return 0;
}

bool canConnect(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{.sin_family = AF_INET, .sin_port = htons(port),
                      .sin_addr = {htonl(INADDR_LOOPBACK)}};
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

/// Whether `pid` still runs. A grandchild is reaped by init, which in a container may be slow or
/// absent, so a zombie counts as gone.
bool running(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t name_end = text.rfind(')');
  return name_end != std::string::npos && name_end + 2 < text.size() && text[name_end + 2] != 'Z';
}

SupervisorOptions shell(const std::string& script, uint32_t instances) {
  const uint16_t first = freePortRange(instances + 1);
  return SupervisorOptions{
      .backend = "app",
      .spawn = {.command = {"/bin/sh", "-c", script},
                .instances = instances,
                .port_first = first,
                .port_last = static_cast<uint16_t>(first + instances),
                .stop_timeout = 2s}};
}

/// A supervisor on `loop`; a rolling restart waits for a TCP connect unless the test says how.
std::unique_ptr<Supervisor> make(Loop& loop, SupervisorOptions options,
                                 SupervisorCallbacks callbacks = {}) {
  if (!callbacks.wait_healthy) {
    callbacks.wait_healthy = test::waitUntilConnects(loop.base());
  }
  auto supervisor = makeSupervisor(loop.base(), std::move(options), std::move(callbacks));
  EXPECT_TRUE(supervisor) << supervisor.error().message;
  return std::move(*supervisor);
}

bool allRunning(const Supervisor& supervisor) {
  const auto status = supervisor.status();
  return std::all_of(status.begin(), status.end(), [](const InstanceStatus& s) {
    return s.state == InstanceState::Running && s.pid != 0;
  });
}

std::vector<pid_t> pids(const Supervisor& supervisor) {
  std::vector<pid_t> result;
  for (const auto& s : supervisor.status()) {
    result.push_back(s.pid);
  }
  return result;
}

bool hasLine(const Supervisor& supervisor, uint32_t slot, const std::string& text) {
  const auto lines = supervisor.recentOutput(slot);
  return std::any_of(lines.begin(), lines.end(),
                     [&text](const OutputLine& line) { return line.text == text; });
}

constexpr const char* kSleeper = "echo slot $CORRAL_INSTANCE up; exec sleep 1000";

// Each slot gets its own port from the range, its 0-based index and the instance count, and the
// configured environment; corral is told where each slot serves.
TEST(SupervisorTest, StartsEachInstanceOnItsOwnPortWithItsSlotInTheEnvironment) {
  Loop loop;
  SupervisorOptions options = shell(
      "echo slot $CORRAL_INSTANCE of $CORRAL_INSTANCES on $PORT says $GREETING; exec sleep 1000", 3);
  options.spawn.env = {{"GREETING", "hi"}};
  const uint16_t first = options.spawn.port_first;
  std::map<uint32_t, uint16_t> announced;
  auto supervisor = make(loop, options, {.on_instance_changed = [&](uint32_t slot, const SocketAddress& a) {
                                           announced[slot] = a.port();
                                         }});
  supervisor->start();
  ASSERT_TRUE(loop.run([&] {
    return allRunning(*supervisor) && hasLine(*supervisor, 0, fmt::format("slot 0 of 3 on {} says hi", first)) &&
           hasLine(*supervisor, 1, fmt::format("slot 1 of 3 on {} says hi", first + 1)) &&
           hasLine(*supervisor, 2, fmt::format("slot 2 of 3 on {} says hi", first + 2));
  }, 5s));
  const auto all = pids(*supervisor);
  EXPECT_EQ(std::set<pid_t>(all.begin(), all.end()).size(), 3u);
  EXPECT_EQ(announced, (std::map<uint32_t, uint16_t>{{0, first}, {1, first + 1}, {2, first + 2}}));
  EXPECT_EQ(supervisor->status()[2].name, "app#2");
}

// Each line goes to corral's log as "app#0 [pid] text" and into the slot's ring, which keeps the
// last 500; a follower sees every line as it comes; stderr is captured too.
TEST(SupervisorTest, OutputIsLoggedWithItsPrefixAndTheLastLinesAreKept) {
  LogCapture log;
  Loop loop;
  auto supervisor = make(loop, shell("i=0; while [ $i -lt 600 ]; do echo line $i; i=$((i+1)); "
                                     "done; echo oops >&2; exec sleep 1000",
                                     1));
  std::vector<OutputLine> followed;
  supervisor->followOutput(0, [&followed](const OutputLine& line) { followed.push_back(line); });
  supervisor->start();
  ASSERT_TRUE(loop.run([&] { return hasLine(*supervisor, 0, "line 599") && hasLine(*supervisor, 0, "oops"); }, 5s));
  const pid_t pid = supervisor->status()[0].pid;
  const auto lines = supervisor->recentOutput(0);
  EXPECT_EQ(lines.size(), 500u);
  EXPECT_EQ(followed.size(), 601u);
  EXPECT_EQ(lines.back().pid, pid);
  const auto oops = std::find_if(followed.begin(), followed.end(),
                                 [](const OutputLine& l) { return l.text == "oops"; });
  ASSERT_NE(oops, followed.end());
  EXPECT_EQ(oops->stream, Stream::Err);
  EXPECT_THAT(log.text(), HasSubstr(fmt::format("app#0 [{}] line 599", pid)));
  EXPECT_THAT(log.text(), HasSubstr(fmt::format("app#0 [{}] oops", pid)));
}

// kill -9 of one instance: the slot gets a new process on the same port within 2 s and counts one
// restart; the other slot is untouched and the killed process is reaped.
TEST(SupervisorTest, AKilledInstanceIsRespawnedWithANewPidWithinTwoSeconds) {
  Loop loop;
  std::vector<uint32_t> restarted;
  auto supervisor = make(loop, shell(kSleeper, 2),
                         {.on_restart = [&restarted](uint32_t slot) { restarted.push_back(slot); }});
  supervisor->start();
  ASSERT_TRUE(loop.run([&] { return allRunning(*supervisor); }, 5s));
  const auto before = supervisor->status();
  const auto killed_at = Clock::now();
  ASSERT_EQ(kill(before[0].pid, SIGKILL), 0);
  ASSERT_TRUE(loop.run([&] {
    const auto now = supervisor->status()[0];
    return now.state == InstanceState::Running && now.pid != before[0].pid && now.pid != 0;
  }, 2s));
  const auto respawn_time = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at);
  RecordProperty("respawn_ms", static_cast<int>(respawn_time.count()));
  fmt::print("respawn after kill -9: {} ms\n", respawn_time.count());
  const auto after = supervisor->status();
  EXPECT_EQ(after[0].restarts, 1u);
  EXPECT_EQ(after[0].port, before[0].port);
  ASSERT_TRUE(after[0].last_exit);
  EXPECT_EQ(after[0].last_exit->signal, SIGKILL);
  EXPECT_EQ(after[1].pid, before[1].pid);
  EXPECT_EQ(after[1].restarts, 0u);
  EXPECT_EQ(restarted, std::vector<uint32_t>{0});
  EXPECT_EQ(kill(before[0].pid, 0), -1); // reaped: not even a zombie
  EXPECT_EQ(errno, ESRCH);
}

// A command that does not exist: a clear error naming the instance and the command, and retries
// at 0.1, 0.3, 0.7, 1.5 s rather than a tight loop.
TEST(SupervisorTest, ACommandThatDoesNotExistIsReportedAndBackedOff) {
  LogCapture log;
  Loop loop;
  SupervisorOptions options = shell("", 1);
  options.spawn.command = {"corral-no-such-command", "--flag"};
  auto supervisor = make(loop, options);
  const auto start = Clock::now();
  supervisor->start();
  // Counted in events, not in a window of wall-clock time: the third retry is announced after
  // waits of 100 and 200 ms at least, however slow the machine.
  ASSERT_TRUE(loop.run(
      [&] { return log.text().find("retrying in 400 ms") != std::string::npos; }, 20s))
      << log.text();
  EXPECT_GE(Clock::now() - start, 250ms) << "no backoff between the failures";
  const auto status = supervisor->status()[0];
  EXPECT_GE(status.restarts, 2u);
  EXPECT_EQ(status.state, InstanceState::Backoff);
  ASSERT_TRUE(status.last_exit);
  EXPECT_EQ(status.last_exit->exec_error, ENOENT);
  EXPECT_THAT(status.last_error,
              HasSubstr("cannot run `corral-no-such-command --flag`: No such file or directory"));
  EXPECT_THAT(log.text(), HasSubstr("app#0 ["));
  EXPECT_THAT(log.text(), HasSubstr("No such file or directory (exit 127); retrying in 400 ms"));
}

// A working directory that does not exist is reported like a missing command, naming it.
TEST(SupervisorTest, AMissingWorkingDirectoryIsReported) {
  Loop loop;
  SupervisorOptions options = shell(kSleeper, 1);
  options.spawn.cwd = "/nonexistent/corral-cwd";
  auto supervisor = make(loop, options);
  supervisor->start();
  ASSERT_TRUE(loop.run([&] { return !supervisor->status()[0].last_error.empty(); }, 2s));
  EXPECT_THAT(supervisor->status()[0].last_error, HasSubstr("in /nonexistent/corral-cwd"));
}

// An instance that exits at once is respawned ever more slowly, and its status says why.
TEST(SupervisorTest, ACrashLoopingCommandBacksOff) {
  LogCapture log;
  Loop loop;
  auto supervisor = make(loop, shell("exit 3", 1));
  const auto start = Clock::now();
  supervisor->start();
  // The fourth wait is announced after waits of 100, 200 and 400 ms at least: counted in events,
  // so a slow machine only takes longer.
  ASSERT_TRUE(loop.run(
      [&] { return log.text().find("respawning in 800 ms") != std::string::npos; }, 20s))
      << log.text();
  EXPECT_GE(Clock::now() - start, 600ms) << "no backoff between the crashes";
  const auto status = supervisor->status()[0];
  EXPECT_GE(status.restarts, 3u);
  ASSERT_TRUE(status.last_exit);
  EXPECT_EQ(status.last_exit->code, 3);
  EXPECT_THAT(log.text(), HasSubstr("exited with status 3"));
}

// Rolling restart of serving instances: every slot ends on a new process and a new port, each old
// process was drained and is gone, and every slot serves afterwards.
TEST(SupervisorTest, ARollingRestartGivesEverySlotANewProcessAndStopsTheOldOnes) {
  Loop loop;
  SupervisorOptions options = shell("", 3);
  options.spawn.command = {CORRAL_DEMO_BACKEND};
  std::vector<std::pair<uint32_t, uint16_t>> changes;
  std::vector<uint16_t> drained_ports;
  auto supervisor = make(loop, options,
                         {.on_instance_changed = [&](uint32_t slot, const SocketAddress& a) {
                            changes.emplace_back(slot, a.port());
                          },
                          .drain_old = [&](uint32_t, const SocketAddress& old, std::function<void()> drained) {
                            drained_ports.push_back(old.port());
                            drained();
                          }});
  supervisor->start();
  ASSERT_TRUE(loop.run([&] { return allRunning(*supervisor); }, 5s));
  const auto before = supervisor->status();
  std::optional<Result<void>> outcome;
  ASSERT_TRUE(supervisor->restart([&outcome](Result<void> r) { outcome = std::move(r); }));
  EXPECT_TRUE(supervisor->rolling());
  EXPECT_FALSE(supervisor->restart([](Result<void>) {})) << "one roll at a time";
  ASSERT_TRUE(loop.run([&] { return outcome.has_value(); }, 30s));
  ASSERT_TRUE(*outcome) << outcome->error().message;
  const auto after = supervisor->status();
  std::vector<uint16_t> old_ports;
  for (uint32_t slot = 0; slot < 3; ++slot) {
    EXPECT_NE(after[slot].pid, before[slot].pid);
    EXPECT_NE(after[slot].port, before[slot].port);
    EXPECT_EQ(after[slot].restarts, 0u);
    EXPECT_EQ(after[slot].state, InstanceState::Running);
    EXPECT_FALSE(running(before[slot].pid));
    EXPECT_TRUE(canConnect(after[slot].port));
    old_ports.push_back(before[slot].port);
  }
  EXPECT_EQ(drained_ports, old_ports);
  ASSERT_EQ(changes.size(), 6u); // 3 at start, 3 switches
  EXPECT_EQ(changes[3], std::make_pair(0u, after[0].port));
  EXPECT_EQ(changes[5], std::make_pair(2u, after[2].port));
}

// A replacement that fails its health check is stopped; the old process keeps its slot, and the
// roll stops there with an error.
TEST(SupervisorTest, ARollingRestartKeepsTheOldProcessWhenItsReplacementIsUnhealthy) {
  Loop loop;
  std::function<void(bool)> report_health;
  auto supervisor = make(loop, shell("echo pid $$; exec sleep 1000", 2),
                         {.wait_healthy = [&](const SocketAddress&, std::function<void(bool)> done) {
                           report_health = std::move(done);
                         }});
  supervisor->start();
  ASSERT_TRUE(loop.run([&] { return allRunning(*supervisor); }, 5s));
  const auto before = pids(*supervisor);
  std::optional<Result<void>> outcome;
  ASSERT_TRUE(supervisor->restart([&outcome](Result<void> r) { outcome = std::move(r); }));
  pid_t replacement = 0;
  ASSERT_TRUE(loop.run([&] {
    for (const auto& line : supervisor->recentOutput(0)) {
      replacement = line.pid != before[0] ? line.pid : replacement;
    }
    return replacement != 0 && report_health;
  }, 5s));
  report_health(false);
  ASSERT_TRUE(outcome.has_value());
  ASSERT_FALSE(*outcome);
  EXPECT_THAT(outcome->error().message, HasSubstr("app#0: replacement failed its health check"));
  EXPECT_EQ(pids(*supervisor), before);
  EXPECT_FALSE(supervisor->rolling());
  EXPECT_TRUE(loop.run([&] { return kill(replacement, 0) != 0; }, 3s)); // stopped and reaped
  report_health(true); // too late: ignored
  EXPECT_EQ(pids(*supervisor), before);
}

// With a TCP connect as the readiness check, an instance that never listens is given up after
// healthy_deadline.
TEST(SupervisorTest, ARollingRestartGivesUpOnAReplacementThatNeverListens) {
  Loop loop;
  SupervisorOptions options = shell(kSleeper, 1);
  options.healthy_deadline = 300ms;
  auto supervisor = make(loop, options);
  supervisor->start();
  ASSERT_TRUE(loop.run([&] { return allRunning(*supervisor); }, 5s));
  const auto before = pids(*supervisor);
  std::optional<Result<void>> outcome;
  ASSERT_TRUE(supervisor->restart([&outcome](Result<void> r) { outcome = std::move(r); }));
  ASSERT_TRUE(loop.run([&] { return outcome.has_value(); }, 5s));
  ASSERT_FALSE(*outcome);
  EXPECT_THAT(outcome->error().message, HasSubstr("was not healthy within 300ms"));
  EXPECT_EQ(pids(*supervisor), before);
}

// stop(): SIGTERM to every instance; one that ignores it gets SIGKILL after stop_timeout; done
// comes once all are reaped.
TEST(SupervisorTest, StopReapsEveryInstanceAndKillsOneThatIgnoresSigterm) {
  Loop loop;
  SupervisorOptions options =
      shell("if [ $CORRAL_INSTANCE = 1 ]; then trap '' TERM; fi; echo ready; "
            "while :; do sleep 0.1; done",
            2);
  options.spawn.stop_timeout = 300ms;
  auto supervisor = make(loop, options);
  supervisor->start();
  ASSERT_TRUE(loop.run([&] { return hasLine(*supervisor, 0, "ready") && hasLine(*supervisor, 1, "ready"); }, 5s));
  const auto started = pids(*supervisor);
  bool stopped = false;
  const auto stop_at = Clock::now();
  supervisor->stop([&stopped] { stopped = true; });
  ASSERT_TRUE(loop.run([&] { return stopped; }, 5s));
  EXPECT_GE(Clock::now() - stop_at, 250ms); // libevent's timer clock may run a little ahead
  for (const auto& status : supervisor->status()) {
    EXPECT_EQ(status.state, InstanceState::Stopped);
    EXPECT_EQ(status.pid, 0);
  }
  const auto statuses = supervisor->status();
  EXPECT_EQ(statuses[0].last_exit->signal, SIGTERM);
  EXPECT_EQ(statuses[1].last_exit->signal, SIGKILL);
  for (pid_t pid : started) {
    EXPECT_EQ(kill(pid, 0), -1);
  }
  EXPECT_FALSE(supervisor->restart([](Result<void>) {}));
}

// corral always waits for the health check; a supervisor built without a readiness check refuses
// to roll rather than switch clients to a replacement nobody checked.
TEST(SupervisorTest, ARollingRestartNeedsAReadinessCheck) {
  Loop loop;
  auto supervisor = makeSupervisor(loop.base(), shell(kSleeper, 1), {});
  ASSERT_TRUE(supervisor);
  (*supervisor)->start();
  ASSERT_TRUE(loop.run([&] { return allRunning(**supervisor); }, 5s));
  const auto refused = (*supervisor)->restart([](Result<void>) {});
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("needs a readiness check"));
  EXPECT_FALSE((*supervisor)->rolling());
}

// Destroying the supervisor kills every instance and whatever it started, synchronously.
TEST(SupervisorTest, DestroyingTheSupervisorLeavesNoChildRunning) {
  Loop loop;
  auto supervisor = make(loop, shell("sleep 1000 & echo child $!; wait", 2));
  supervisor->start();
  std::vector<pid_t> grandchildren;
  ASSERT_TRUE(loop.run([&] {
    grandchildren.clear();
    for (uint32_t slot = 0; slot < 2; ++slot) {
      for (const auto& line : supervisor->recentOutput(slot)) {
        grandchildren.push_back(std::stoi(line.text.substr(6)));
      }
    }
    return grandchildren.size() == 2;
  }, 5s));
  const auto children = pids(*supervisor);
  supervisor.reset();
  for (pid_t pid : children) {
    EXPECT_EQ(kill(pid, 0), -1) << pid;
    EXPECT_EQ(errno, ESRCH);
  }
  for (pid_t pid : grandchildren) {
    EXPECT_TRUE(loop.run([&] { return !running(pid); }, 2s)) << pid;
  }
}

// The program that runs the supervisor is killed with SIGKILL, so no destructor runs: the
// instances still die (PR_SET_PDEATHSIG), and do not linger as orphans.
TEST(SupervisorTest, InstancesDieWithTheProcessThatSupervisesThem) {
  int pid_pipe[2];
  ASSERT_EQ(pipe(pid_pipe), 0);
  const pid_t corral = fork();
  if (corral == 0) { // plays corral: supervises two instances and reports their pids
    Loop loop;
    auto supervisor = make(loop, shell(kSleeper, 2));
    supervisor->start();
    loop.run([&] { return allRunning(*supervisor); }, 5s);
    const auto instances = pids(*supervisor);
    [[maybe_unused]] auto written = write(pid_pipe[1], instances.data(), sizeof(pid_t) * 2);
    loop.runFor(60s);
    _exit(0);
  }
  close(pid_pipe[1]);
  pid_t instances[2] = {0, 0};
  ASSERT_EQ(read(pid_pipe[0], instances, sizeof(instances)), static_cast<ssize_t>(sizeof(instances)));
  close(pid_pipe[0]);
  ASSERT_TRUE(running(instances[0]) && running(instances[1]));
  kill(corral, SIGKILL);
  ASSERT_EQ(waitpid(corral, nullptr, 0), corral);
  Loop loop;
  EXPECT_TRUE(loop.run([&] { return !running(instances[0]) && !running(instances[1]); }, 2s));
}

// Two supervisors share the loop's SIGCHLD; each reaps only its own children, and a child the
// program started itself is left for its owner to reap.
TEST(SupervisorTest, SupervisorsReapOnlyTheirOwnChildren) {
  Loop loop;
  auto first = make(loop, shell(kSleeper, 1));
  SupervisorOptions other = shell(kSleeper, 1);
  other.backend = "other";
  other.spawn.port_first += 100;
  other.spawn.port_last += 100;
  auto second = make(loop, other);
  first->start();
  second->start();
  test::ChildProcess own({"/bin/sh", "-c", "exit 42"});
  ASSERT_TRUE(loop.run([&] { return allRunning(*first) && allRunning(*second); }, 5s));
  const pid_t killed = first->status()[0].pid;
  kill(killed, SIGKILL);
  ASSERT_TRUE(loop.run([&] { return first->status()[0].restarts == 1; }, 2s));
  EXPECT_EQ(second->status()[0].restarts, 0u);
  EXPECT_EQ(second->status()[0].state, InstanceState::Running);
  EXPECT_EQ(own.waitExit(10s), test::ExitStatus::exited(42));
}

} // namespace
} // namespace corral::cluster

// `corral ctl upgrade` (issue 14): a new corral process takes over the listening sockets and the
// spawned clones; no connection attempt fails, the clones keep their pids and ports, and a
// sticky cookie keeps its slot. A new process that fails leaves the old one serving.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/spawn/client_load.h"
#include "tests/integration/spawn/http_exchange.h"
#include "tests/integration/spawn/spawned_cluster.h"
#include "tests/support/files.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

constexpr int kInstances = 3;

constexpr std::string_view kConfig = R"(
workers: 2
access_log: "off"
admin: {listen: "127.0.0.1:0"}
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app, drain_timeout: 10s}
backends:
  - name: app
    balance: sticky_cookie
    sticky_cookie: {secret_file: "${secret}"}
    spawn: {command: ["${demo}"], instances: 3, ports: "${ports}", stop_timeout: 2s}
    health_check: {type: http, path: /healthz, interval: 200ms, timeout: 1s, rise: 1, fall: 2}
    connect_timeout: 1s
    retries: 2
)";

std::string writeSecret(const std::filesystem::path& path) {
  std::random_device random;
  std::ofstream(path) << fmt::format("{:08x}{:08x}{:08x}{:08x}\n", random(), random(), random(),
                                     random());
  std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::owner_write);
  return path.string();
}

std::string writeScript(const std::filesystem::path& path, std::string_view body) {
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path.string();
}

// The pid `ctl upgrade` printed for the new process ("... -> pid 123 (corral ...").
pid_t newPid(const std::string& out) {
  const size_t at = out.find("-> pid ");
  return at == std::string::npos ? 0 : std::stoi(out.substr(at + 7));
}

// SIGTERMs the corral that serves at the end of a test: after an upgrade it is not the child
// the test started.
struct KillAtEnd {
  pid_t pid = 0;
  ~KillAtEnd() {
    if (pid > 0 && kill(pid, SIGTERM) == 0) {
      pollUntil([this] { return !isRunning(pid); }, 15s);
    }
  }
};

struct Slot {
  pid_t pid;
  uint32_t restarts;
};
std::map<std::string, Slot> slotsOf(const std::vector<Instance>& instances) {
  std::map<std::string, Slot> slots;
  for (const Instance& instance : instances) {
    slots[instance.name] = {instance.pid, instance.restarts};
  }
  return slots;
}

// 20 keep-alive connections, each asking every 100 ms for 25 exchanges, then closing on its own
// (well within drain_timeout) and replaced by a new one; counts the answers and the failures.
class LongLived {
public:
  explicit LongLived(std::string address) : address_(std::move(address)) {
    for (int i = 0; i < 20; ++i) {
      clients_.push_back(std::make_unique<TcpClient>(address_));
    }
    thread_ = std::thread([this] { run(); });
  }
  ~LongLived() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  int answers() const { return answers_; }
  int failures() const { return failures_; }

private:
  void run() {
    for (int round = 1; !stop_; ++round) {
      for (size_t i = 0; i < clients_.size(); ++i) {
        TcpClient& client = *clients_[i];
        const bool ok = client.writeAll("GET / HTTP/1.1\r\nHost: corral.test\r\n\r\n") &&
                        readKeepAliveReply(client, 5s).find("demo-") == 0;
        (ok ? answers_ : failures_)++;
        if (!ok) {
          std::fprintf(stderr, "long-lived %zu failed: %s\n", i, client.error().c_str());
        }
        if ((round + static_cast<int>(i)) % 25 == 0) {
          clients_[i] = std::make_unique<TcpClient>(address_); // the old one closes on its own
        }
      }
      std::this_thread::sleep_for(100ms);
    }
  }
  std::string address_;
  std::vector<std::unique_ptr<TcpClient>> clients_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> answers_{0};
  std::atomic<int> failures_{0};
};

class UpgradeTest : public ::testing::Test {
protected:
  Substitutions substitutions() {
    return {{"demo", demoBackendBinary()},
            {"ports", portRange(freePorts(kInstances + 2), kInstances + 2)},
            {"secret", writeSecret(dir_.path() / "cookie.key")}};
  }
  TempDir dir_;
};

TEST_F(UpgradeTest, TenUpgradesUnderLoadLoseNothingAndKeepTheClones) {
  SpawnedCluster cluster(kConfig, substitutions());
  ASSERT_TRUE(cluster.ready());
  KillAtEnd last{cluster.corral().pid()};
  const auto before = cluster.waitAllUp(kInstances, 15s);
  ASSERT_TRUE(before) << cluster.corral().stderrText();
  const HttpExchange first = httpExchange(cluster.frontend());
  ASSERT_TRUE(first.ok() && first.set_cookie) << first.error;
  const std::string cookie = cookiePair(*first.set_cookie);

  LongLived long_lived(cluster.frontend());
  ClientLoad load(cluster.frontend(), {.clients = 4, .max_requests = 1'000'000, .max_duration = 120s});
  std::vector<int64_t> handovers;
  pid_t pid = cluster.corral().pid();
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(300ms);
    const CommandResult upgraded = cluster.ctl({"upgrade"}, 60s);
    ASSERT_EQ(upgraded.exit_code, 0) << upgraded.out << upgraded.err << cluster.corral().stderrText();
    const pid_t next = newPid(upgraded.out);
    ASSERT_GT(next, 0) << upgraded.out;
    ASSERT_NE(next, pid);
    last.pid = next;
    EXPECT_TRUE(pollUntil([pid] { return !isRunning(pid); }, 15s)) << "old corral " << pid;
    pid = next;
    const size_t at = upgraded.out.find(" in ");
    handovers.push_back(std::stoll(upgraded.out.substr(at + 4)));
  }
  std::this_thread::sleep_for(300ms);
  load.stop();
  long_lived.stop();

  const auto records = load.records();
  const size_t failed = std::count_if(records.begin(), records.end(),
                                      [](const LoadRecord& r) { return !r.exchange.ok(); });
  Clock::duration longest{0};
  for (const LoadRecord& record : records) {
    longest = std::max(longest, record.ended - record.started);
  }
  const auto span = records.back().ended - records.front().started;
  const double rate = records.size() / std::chrono::duration<double>(span).count();
  std::printf("[ figures ] 10 upgrades: %zu connections (%.0f/s), %zu failed; long-lived: %d "
              "answers, %d failed; longest request %lld ms; handover ms:",
              records.size(), rate, failed, long_lived.answers(), long_lived.failures(),
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(longest).count()));
  for (int64_t ms : handovers) {
    std::printf(" %lld", static_cast<long long>(ms));
  }
  std::printf("\n");
  EXPECT_EQ(failed, 0u) << describeFailures(records);
  EXPECT_EQ(long_lived.failures(), 0);
  EXPECT_GT(long_lived.answers(), 20 * 10);

  const auto after = cluster.instances();
  ASSERT_TRUE(after);
  EXPECT_EQ(slotsOf(*after).size(), slotsOf(*before).size());
  for (const auto& [name, slot] : slotsOf(*before)) {
    EXPECT_EQ(slotsOf(*after)[name].pid, slot.pid) << name;
    EXPECT_EQ(slotsOf(*after)[name].restarts, slot.restarts) << name;
  }
  const HttpExchange again = httpExchange(cluster.frontend(), cookie);
  EXPECT_EQ(again.pid, first.pid) << "the cookie's slot";

  // The new corral supervises: a clone killed is respawned, and kill -9 of corral takes them all.
  const pid_t victim = before->front().pid;
  kill(victim, SIGKILL);
  EXPECT_TRUE(pollUntil([&] {
    const auto now = cluster.instances();
    return now && slotsOf(*now)[before->front().name].pid != victim &&
           slotsOf(*now)[before->front().name].pid > 0;
  }, 15s)) << "respawn after an upgrade";
  const auto survivors = cluster.waitAllUp(kInstances, 15s);
  ASSERT_TRUE(survivors);
  kill(pid, SIGKILL);
  for (const Instance& instance : *survivors) {
    EXPECT_TRUE(pollUntil([&] { return !isRunning(instance.pid); }, 5s))
        << instance.name << " outlived corral";
  }
}

TEST_F(UpgradeTest, FailingNewProcessKeepsTheOldOneServing) {
  SpawnedCluster cluster(kConfig, substitutions());
  ASSERT_TRUE(cluster.ready());
  const auto before = cluster.waitAllUp(kInstances, 15s);
  ASSERT_TRUE(before);

  const CommandResult exits =
      cluster.ctl({"upgrade", "--binary", writeScript(dir_.path() / "exits.sh", "exit 3")}, 60s);
  EXPECT_EQ(exits.exit_code, 1);
  EXPECT_NE(exits.err.find("exited with status 3"), std::string::npos) << exits.err;
  EXPECT_TRUE(httpExchange(cluster.frontend()).ok());

  const std::string config = cluster.corral().configPath();
  std::filesystem::copy_file(config, dir_.path() / "good.yaml");
  std::ofstream(config, std::ios::app) << "bogus_key: 1\n";
  const CommandResult bad = cluster.ctl({"upgrade"}, 60s);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("bogus_key"), std::string::npos) << bad.err;
  std::filesystem::copy_file(dir_.path() / "good.yaml", config,
                             std::filesystem::copy_options::overwrite_existing);

  ClientLoad load(cluster.frontend(), {.clients = 2, .max_requests = 1'000'000, .max_duration = 60s});
  const CommandResult hangs =
      cluster.ctl({"upgrade", "--binary", writeScript(dir_.path() / "hangs.sh", "exec sleep 100"),
                   "--timeout", "2s"},
                  60s);
  EXPECT_EQ(hangs.exit_code, 1);
  EXPECT_NE(hangs.err.find("not ready within"), std::string::npos) << hangs.err;
  load.stop();
  const auto records = load.records();
  EXPECT_TRUE(std::all_of(records.begin(), records.end(),
                          [](const LoadRecord& r) { return r.exchange.ok(); }))
      << describeFailures(records);

  const auto after = cluster.instances();
  ASSERT_TRUE(after);
  for (const auto& [name, slot] : slotsOf(*before)) {
    EXPECT_EQ(slotsOf(*after)[name].pid, slot.pid) << name;
  }
  // Still the supervisor: an upgrade that works after the failures.
  const CommandResult works = cluster.ctl({"upgrade"}, 60s);
  EXPECT_EQ(works.exit_code, 0) << works.err << cluster.corral().stderrText();
  KillAtEnd last{newPid(works.out)};
}

// SIGUSR2 upgrades as `ctl upgrade` does; the new corral rolls the adopted clones on `ctl
// restart`, and SIGTERM stops it and every clone (reaped: none is left, not even a zombie).
TEST_F(UpgradeTest, Sigusr2UpgradesThenRestartRollsAndSigtermStopsEverything) {
  SpawnedCluster cluster(kConfig, substitutions());
  ASSERT_TRUE(cluster.ready());
  const auto before = cluster.waitAllUp(kInstances, 15s);
  ASSERT_TRUE(before);
  const pid_t old_pid = cluster.corral().pid();
  cluster.corral().sendSignal(SIGUSR2);
  EXPECT_EQ(cluster.corral().waitExit(20s), ExitStatus::exited(0)) << cluster.corral().stderrText();
  const auto lines = cluster.stderrLinesWith("took over in");
  ASSERT_EQ(lines.size(), 1u) << cluster.corral().stderrText();
  const pid_t pid = std::stoi(lines[0].substr(lines[0].find("upgrade: pid ") + 13));
  KillAtEnd last{pid};
  ASSERT_NE(pid, old_pid);
  const auto adopted = cluster.instances();
  ASSERT_TRUE(adopted);
  for (const auto& [name, slot] : slotsOf(*before)) {
    EXPECT_EQ(slotsOf(*adopted)[name].pid, slot.pid) << name;
  }

  ASSERT_EQ(cluster.ctl({"restart", "app"}).exit_code, 0);
  EXPECT_TRUE(pollUntil([&] {
    const auto now = cluster.instances();
    if (!now || now->size() != kInstances) {
      return false;
    }
    return std::all_of(now->begin(), now->end(), [&](const Instance& instance) {
      return instance.pid > 0 && instance.state == "up" &&
             instance.pid != slotsOf(*before)[instance.name].pid;
    });
  }, 30s)) << "every adopted clone replaced by the rolling restart";
  const auto rolled = cluster.instances();
  ASSERT_TRUE(rolled);

  kill(pid, SIGTERM);
  EXPECT_TRUE(pollUntil([pid] { return !isRunning(pid); }, 20s));
  for (const Instance& instance : *rolled) {
    EXPECT_TRUE(pollUntil([&] { return isReaped(instance.pid); }, 5s)) << instance.name;
  }
  for (const auto& [name, slot] : slotsOf(*before)) {
    EXPECT_TRUE(isReaped(slot.pid)) << name << " (rolled out)";
  }
}

// systemd socket activation: a listening socket passed as LISTEN_FDS is served, not bound again.
TEST_F(UpgradeTest, ServesTheSocketsOfSystemdSocketActivation) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 128), 0);
  socklen_t length = sizeof(address);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  const std::string listen_at = fmt::format("127.0.0.1:{}", ntohs(address.sin_port));
  // A plain socket without SO_REUSEPORT: binding it again would fail, so serving proves adoption.
  const auto config = dir_.path() / "activated.yaml";
  std::ofstream(config) << fmt::format(R"(
workers: 2
access_log: "off"
frontends:
  - {{name: web, listen: "{}", backend: app}}
backends:
  - name: app
    spawn: {{command: ["{}"], instances: 1, ports: "{}"}}
    # Up only once the clone listens: requests sent before that (a slow start under ASan) must
    # not get the server ejected for 30 s by failed connects.
    health_check: {{type: tcp, interval: 100ms, rise: 1, fall: 1}}
)", listen_at, demoBackendBinary(), portRange(freePorts(2), 2));
  // systemd names the process the sockets are for in LISTEN_PID: the shell learns its own pid,
  // and exec keeps it for corral.
  const auto log = dir_.path() / "activated.log";
  ChildProcess activated(
      {"/bin/sh", "-c", "export LISTEN_PID=$$; exec \"$0\" run -c \"$1\"", corralBinary(),
       config.string()},
      {.stderr_path = log, .environment = {{"LISTEN_FDS", "1"}}, .descriptors = {{listener, 3}}});
  close(listener);
  EXPECT_TRUE(pollUntil([&] { return httpExchange(listen_at, {}, 1s).ok(); }, 15s))
      << readFile(log);
  EXPECT_EQ(activated.stop(CorralProcess::kStopTimeout), ExitStatus::exited(0)) << readFile(log);
  EXPECT_EQ(sanitizerReport(readFile(log)), "");
}

// The parent pid of `pid`, from /proc/PID/stat ("pid (comm) state ppid ..."); 0 if unknown.
pid_t parentOf(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  std::istringstream rest(text.substr(close + 1));
  std::string state;
  pid_t parent = 0;
  rest >> state >> parent;
  return parent;
}

// `ctl scale` forks the new slots through the keeper like the others, and an upgrade keeps the
// scaled count and every clone, new slots included, although the file still says 3.
TEST_F(UpgradeTest, AnUpgradeAfterCtlScaleKeepsTheCountAndTheClones) {
  SpawnedCluster cluster(kConfig, substitutions());
  ASSERT_TRUE(cluster.ready());
  ASSERT_TRUE(cluster.waitAllUp(kInstances, 15s));
  ASSERT_EQ(cluster.ctl({"scale", "app", "4"}).exit_code, 0);
  const auto scaled = cluster.waitAllUp(4, 20s);
  ASSERT_TRUE(scaled) << cluster.corral().stderrText();
  const pid_t keeper = parentOf(slotsOf(*scaled)["app#0"].pid);
  EXPECT_NE(keeper, cluster.corral().pid());
  EXPECT_EQ(parentOf(slotsOf(*scaled)["app#3"].pid), keeper);
  const CommandResult upgraded = cluster.ctl({"upgrade"}, 60s);
  ASSERT_EQ(upgraded.exit_code, 0) << upgraded.err;
  KillAtEnd last{newPid(upgraded.out)};
  const auto adopted = cluster.waitAllUp(4, 20s);
  ASSERT_TRUE(adopted);
  for (const auto& [name, slot] : slotsOf(*scaled)) {
    EXPECT_EQ(slotsOf(*adopted)[name].pid, slot.pid) << name;
  }
  ASSERT_EQ(cluster.ctl({"reload"}).exit_code, 0); // the file's instances: 3 is unchanged
  EXPECT_EQ(cluster.instances()->size(), 4u);
}

// A reload refuses what it cannot apply live, naming the key; the upgrade applies it.
TEST_F(UpgradeTest, ReloadRefusesAWorkersChangeThatAnUpgradeApplies) {
  SpawnedCluster cluster(kConfig, substitutions());
  ASSERT_TRUE(cluster.ready());
  ASSERT_TRUE(cluster.waitAllUp(kInstances, 15s));
  const std::string path = cluster.corral().configPath();
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  std::string config = text.str();
  config.replace(config.find("workers: 2"), 10, "workers: 1");
  std::ofstream(path) << config;
  const CommandResult reload = cluster.ctl({"reload"});
  EXPECT_EQ(reload.exit_code, 1);
  EXPECT_NE(reload.err.find("workers"), std::string::npos) << reload.err;
  EXPECT_NE(reload.err.find("corral ctl upgrade"), std::string::npos) << reload.err;
  const CommandResult upgraded = cluster.ctl({"upgrade"}, 60s);
  ASSERT_EQ(upgraded.exit_code, 0) << upgraded.err;
  KillAtEnd last{newPid(upgraded.out)};
  EXPECT_FALSE(cluster.stderrLinesWith("(1 workers)").empty()) << cluster.corral().stderrText();
  EXPECT_TRUE(httpExchange(cluster.frontend()).ok());
}

TEST_F(UpgradeTest, AnotherCorralOnABusyPortFails) {
  SpawnedCluster cluster(kConfig, substitutions());
  ASSERT_TRUE(cluster.ready());
  const std::string busy = cluster.frontend();
  const auto path = dir_.path() / "second.yaml";
  std::ofstream(path) << fmt::format(R"(
access_log: "off"
frontends:
  - {{name: web, listen: "{}", backend: app}}
backends:
  - {{name: app, servers: [{{address: "127.0.0.1:9"}}]}}
)", busy);
  const CommandResult second = runCommand({corralBinary(), "run", "-c", path.string()},
                                          {.timeout = 30s, .merge_output = true});
  EXPECT_EQ(second.exit_code, 1) << second.out;
  EXPECT_NE(second.out.find(busy + " is in use by another process"), std::string::npos)
      << second.out;
  EXPECT_EQ(sanitizerReport(second.out), "");
}

} // namespace
} // namespace corral::test

// A reload applies every setting, or refuses to pretend (issue 14), and `corral ctl scale`: each
// setting is changed in the file of a running corral, reloaded (SIGHUP or `ctl reload`) and seen
// applied from outside: spawned instances through `ctl status` and their pids, a changed command
// through the replies under load, the access log in its new file, admin and metrics on their new
// ports and not the old ones.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/spawn/client_load.h"
#include "tests/integration/spawn/http_exchange.h"
#include "tests/integration/spawn/spawned_cluster.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

constexpr std::string_view kConfig = R"(
workers: 2
access_log: "${access_log}"
admin: {listen: "127.0.0.1:${admin_port}"}
metrics: {listen: "127.0.0.1:${metrics_port}"}
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app, drain_timeout: 10s}
backends:
  - name: app
    spawn: {command: ["${demo}"], instances: 2, ports: "${ports}", stop_timeout: 2s}
    health_check: {type: http, path: /healthz, interval: 200ms, timeout: 1s, rise: 1, fall: 2}
    connect_timeout: 1s
    retries: 2
  - name: static
    servers: [{address: "127.0.0.1:9"}]
)";

constexpr int kSpawnPorts = 6; // up to 5 instances and the spare

std::string textOf(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Replaces the one occurrence of `from` in corral's configuration file.
void editConfig(SpawnedCluster& cluster, std::string_view from, std::string_view to) {
  const auto path = cluster.corral().configPath();
  std::string text = textOf(path);
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from << " not in\n" << text;
  text.replace(at, from.size(), to);
  std::ofstream(path) << text;
}

size_t lineCount(const std::filesystem::path& path) {
  const std::string text = textOf(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The reply to `GET path` on a fresh connection to `address`; "" when nothing listens there.
std::string httpGet(const std::string& address, std::string_view path) {
  TcpClient client(address);
  if (!client.connected() ||
      !client.writeAll(fmt::format("GET {} HTTP/1.0\r\nHost: corral.test\r\n\r\n", path))) {
    return "";
  }
  return client.readAll(5s);
}

// A listening socket that another program holds, on 127.0.0.1:port.
class HeldPort {
public:
  explicit HeldPort(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {htonl(INADDR_LOOPBACK)}};
    bound_ = fd_ >= 0 &&
             ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
             ::listen(fd_, 8) == 0;
  }
  ~HeldPort() { ::close(fd_); }
  bool bound() const { return bound_; }

private:
  int fd_;
  bool bound_ = false;
};

std::map<std::string, pid_t> pidsOf(const std::vector<Instance>& instances) {
  std::map<std::string, pid_t> pids;
  for (const Instance& instance : instances) {
    pids[instance.name] = instance.pid;
  }
  return pids;
}

class ReloadApplyTest : public ::testing::Test {
protected:
  // Ports: the spawn range, then admin, metrics, two for moves and one another program holds.
  Substitutions substitutions(const std::string& access_log = "off") {
    first_ = freePorts(kSpawnPorts + 5);
    return {{"demo", demoBackendBinary()},
            {"ports", portRange(first_, kSpawnPorts)},
            {"admin_port", std::to_string(adminPort())},
            {"metrics_port", std::to_string(metricsPort())},
            {"access_log", access_log}};
  }
  int adminPort() const { return first_ + kSpawnPorts; }
  int metricsPort() const { return first_ + kSpawnPorts + 1; }
  int sparePort(int n) const { return first_ + kSpawnPorts + 2 + n; }

  TempDir dir_;
  int first_ = 0;
};

// ctl scale up and down: new slots start beside the running ones (their pids stay), surplus
// slots stop; a reload that leaves spawn.instances alone keeps the scaled count, one that changes
// it applies the file's.
TEST_F(ReloadApplyTest, CtlScaleAddsAndRemovesSlotsAndAReloadAppliesTheFilesCount) {
  SpawnedCluster cluster(kConfig, substitutions());
  ASSERT_TRUE(cluster.ready());
  const auto two = cluster.waitAllUp(2, 20s);
  ASSERT_TRUE(two);
  const auto first_pids = pidsOf(*two);

  const CommandResult up = cluster.ctl({"scale", "app", "4"});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_EQ(up.out, "app: scaling to 4 instances\n");
  const auto four = cluster.waitAllUp(4, 20s);
  ASSERT_TRUE(four) << cluster.corral().stderrText();
  for (const auto& [name, pid] : first_pids) {
    EXPECT_EQ(pidsOf(*four).at(name), pid) << name << " was restarted by a scale up";
  }
  std::set<std::string> answered;
  for (int i = 0; i < 40 && answered.size() < 4; ++i) {
    const HttpExchange exchange = httpExchange(cluster.frontend());
    ASSERT_TRUE(exchange.ok()) << exchange.error;
    answered.insert(exchange.instance);
  }
  EXPECT_EQ(answered.size(), 4u) << "round robin did not reach the new slots";

  const CommandResult down = cluster.ctl({"scale", "app", "1"});
  ASSERT_EQ(down.exit_code, 0) << down.err;
  ASSERT_TRUE(cluster.waitAllUp(1, 20s));
  for (const auto& [name, pid] : pidsOf(*four)) {
    if (name != "app#0") {
      EXPECT_TRUE(pollUntil([pid] { return !isRunning(pid); }, 15s)) << name << " still runs";
    }
  }
  EXPECT_TRUE(isRunning(first_pids.at("app#0")));

  ASSERT_EQ(cluster.ctl({"reload"}).exit_code, 0);
  EXPECT_EQ(cluster.instances()->size(), 1u) << "a reload without a change undid ctl scale";
  editConfig(cluster, "instances: 2", "instances: 3");
  cluster.corral().sendSignal(SIGHUP);
  EXPECT_TRUE(cluster.waitAllUp(3, 20s)) << cluster.corral().stderrText();
}

TEST_F(ReloadApplyTest, CtlScaleRefusesWhatItCannotRun) {
  SpawnedCluster cluster(kConfig, substitutions());
  ASSERT_TRUE(cluster.ready());
  const CommandResult zero = cluster.ctl({"scale", "app", "0"});
  EXPECT_EQ(zero.exit_code, 1);
  EXPECT_EQ(zero.err, "corral ctl: the number of instances must be a whole number from 1 to "
                      "1024, got \"0\"\n");
  const CommandResult too_many = cluster.ctl({"scale", "app", "6"}); // 6 ports: 5 and a spare
  EXPECT_EQ(too_many.exit_code, 1);
  EXPECT_NE(too_many.err.find("cannot hold 6 instances and a spare port"), std::string::npos)
      << too_many.err;
  const CommandResult not_spawned = cluster.ctl({"scale", "static", "2"});
  EXPECT_EQ(not_spawned.exit_code, 1);
  EXPECT_NE(not_spawned.err.find("backend static has no spawn section"), std::string::npos)
      << not_spawned.err;
  const CommandResult unknown = cluster.ctl({"scale", "nope", "2"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no backend named nope"), std::string::npos) << unknown.err;
  ASSERT_TRUE(cluster.waitAllUp(2, 20s)); // nothing changed
}

// A changed command rolls the instances one by one, health-gated: under load, no request fails,
// and afterwards every reply comes from the new command.
TEST_F(ReloadApplyTest, ACommandChangeRollsTheInstancesWithoutAFailedRequest) {
  SpawnedCluster cluster(kConfig, substitutions());
  ASSERT_TRUE(cluster.ready());
  const auto before = cluster.waitAllUp(2, 20s);
  ASSERT_TRUE(before);
  ClientLoad load(cluster.frontend(), {.clients = 2, .max_requests = 20000, .max_duration = 60s});
  ASSERT_TRUE(pollUntil([&] { return load.records().size() >= 50; }, 20s));
  const std::string command = "command: [\"" + demoBackendBinary() + "\"";
  editConfig(cluster, command + "]", command + ", --name, v2]");
  const CommandResult reload = cluster.ctl({"reload"});
  ASSERT_EQ(reload.exit_code, 0) << reload.err;
  const auto rolled = Clock::now();
  EXPECT_TRUE(pollUntil([&] { return cluster.stderrLinesWith("rolling restart done").size() == 1; },
                        60s))
      << cluster.corral().stderrText();
  const auto after_roll = Clock::now();
  auto startedAfterRoll = [&](const LoadRecord& r) { return r.started > after_roll; };
  ASSERT_TRUE(pollUntil([&] { return load.any(after_roll, startedAfterRoll); }, 10s));
  load.stop();
  const auto records = load.records();
  EXPECT_EQ(describeFailures(records), fmt::format("failed 0 of {} requests", records.size()));
  EXPECT_TRUE(load.any(rolled, [](const LoadRecord& r) { return r.exchange.instance == "v2"; }));
  // Every old process has exited once the roll is done: what starts now reaches the new command.
  EXPECT_FALSE(load.any(after_roll, [&](const LoadRecord& r) {
    return startedAfterRoll(r) && r.exchange.instance != "v2";
  }));
  const auto now = cluster.waitAllUp(2, 10s);
  ASSERT_TRUE(now);
  for (const auto& [name, pid] : pidsOf(*before)) {
    EXPECT_NE(pidsOf(*now).at(name), pid) << name << " was not rolled";
    EXPECT_TRUE(pollUntil([pid] { return !isRunning(pid); }, 15s));
  }
}

// A new access_log target takes the lines from the reload on; a reload with the same file
// reopens it (logrotate renamed it away).
TEST_F(ReloadApplyTest, AccessLogMovesToTheNewFileAndReopensOnReload) {
  const auto first_log = dir_.path() / "first.log";
  const auto second_log = dir_.path() / "second.log";
  SpawnedCluster cluster(kConfig, substitutions(first_log.string()));
  ASSERT_TRUE(cluster.ready());
  ASSERT_TRUE(cluster.waitAllUp(2, 20s));
  ASSERT_TRUE(httpExchange(cluster.frontend()).ok());
  ASSERT_TRUE(pollUntil([&] { return lineCount(first_log) >= 1; }, 10s));

  editConfig(cluster, first_log.string(), second_log.string());
  ASSERT_EQ(cluster.ctl({"reload"}).exit_code, 0);
  // The writer thread switches on its own; a request finished before it did logs to the old file.
  auto requestUntil = [&](const std::filesystem::path& log, size_t lines) {
    return pollUntil([&] { return httpExchange(cluster.frontend()).ok() && lineCount(log) >= lines; },
                     10s, 50ms);
  };
  ASSERT_TRUE(requestUntil(second_log, 3)) << textOf(second_log);
  EXPECT_NE(textOf(second_log).find(R"("frontend":"web")"), std::string::npos);

  const auto rotated = dir_.path() / "second.log.1";
  std::filesystem::rename(second_log, rotated);
  ASSERT_EQ(cluster.ctl({"reload"}).exit_code, 0);
  EXPECT_TRUE(requestUntil(second_log, 1)) << "the reload did not reopen the renamed access log";

  editConfig(cluster, second_log.string(), (dir_.path() / "missing" / "x.log").string());
  const CommandResult bad = cluster.ctl({"reload"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("cannot open access log"), std::string::npos) << bad.err;
}

// admin.listen and metrics.listen move: the new port answers and the old one is closed; a port
// another program holds fails the reload with "ADDR is in use", and the listener stays.
TEST_F(ReloadApplyTest, AdminAndMetricsMoveAndABusyPortFailsTheReload) {
  SpawnedCluster cluster(kConfig, substitutions());
  ASSERT_TRUE(cluster.ready());
  const std::string old_admin = fmt::format("127.0.0.1:{}", adminPort());
  const std::string old_metrics = fmt::format("127.0.0.1:{}", metricsPort());
  const std::string new_admin = fmt::format("127.0.0.1:{}", sparePort(0));
  const std::string new_metrics = fmt::format("127.0.0.1:{}", sparePort(1));
  ASSERT_NE(httpGet(old_metrics, "/metrics").find("corral_build_info"), std::string::npos);

  editConfig(cluster, old_admin, new_admin);
  editConfig(cluster, old_metrics, new_metrics);
  const CommandResult moved = cluster.ctl({"reload"}); // asked on the old address
  ASSERT_EQ(moved.exit_code, 0) << moved.err << cluster.corral().stderrText();
  EXPECT_NE(httpGet(new_admin, "/ready").find("200 OK"), std::string::npos);
  EXPECT_EQ(httpGet(old_admin, "/ready"), "");
  EXPECT_NE(httpGet(new_metrics, "/metrics").find("corral_build_info"), std::string::npos);
  EXPECT_EQ(httpGet(old_metrics, "/metrics"), "");

  const std::string busy = fmt::format("127.0.0.1:{}", sparePort(2));
  HeldPort held(static_cast<uint16_t>(sparePort(2)));
  ASSERT_TRUE(held.bound());
  editConfig(cluster, new_admin, busy);
  cluster.corral().sendSignal(SIGHUP);
  EXPECT_TRUE(pollUntil(
      [&] { return !cluster.stderrLinesWith(fmt::format("{} is in use", busy)).empty(); }, 10s))
      << cluster.corral().stderrText();
  EXPECT_NE(httpGet(new_admin, "/ready").find("200 OK"), std::string::npos);
  editConfig(cluster, busy, new_admin);
  editConfig(cluster, new_metrics, busy);
  cluster.corral().sendSignal(SIGHUP);
  EXPECT_TRUE(pollUntil(
      [&] {
        return !cluster.stderrLinesWith(fmt::format("metrics.listen {} is in use", busy)).empty();
      },
      10s))
      << cluster.corral().stderrText();
  EXPECT_NE(httpGet(new_metrics, "/metrics").find("corral_build_info"), std::string::npos);
}

} // namespace
} // namespace corral::test

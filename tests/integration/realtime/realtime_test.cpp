// Sticky sessions that real-time apps rely on (issue 16): the real socket.io server on Node,
// spawned by corral as three instances, and socket.io-client with its default transports
// (long-polling, then the upgrade to WebSocket). Engine.io keeps a session in one process's
// memory, so every request of a session, the WebSocket upgrade included, must reach the instance
// that opened it. balance: hash on the client's `room` query parameter keeps them together;
// round_robin, the control, must break them.

#include <filesystem>
#include <set>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/spawn/spawned_cluster.h"
#include "tests/support/child_process.h"

namespace corral::test {
namespace {

constexpr int kInstances = 3;
constexpr int kClients = 20;

constexpr std::string_view kConfig = R"(
workers: 2
access_log: "off"
admin: {listen: "127.0.0.1:0"}
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app}
backends:
  - name: app
    ${balance}
    spawn: {command: [node, server.js], instances: 3, ports: "${ports}", cwd: "${dir}",
            stop_timeout: 2s}
    health_check: {type: http, path: /healthz, interval: 200ms, timeout: 1s, rise: 1, fall: 2}
)";

const std::filesystem::path kDir = REALTIME_DIR;

struct ClientRun {
  int exit_code = -1;
  std::vector<nlohmann::json> reports; // one per client
  std::string out;
};

class RealtimeTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kDir / "node_modules/socket.io-client"))
        << "socket.io is not installed in " << kDir << ": run scripts/setup.sh";
  }

  // Starts corral with `balance` (YAML for the backend) and runs the 20 clients through it;
  // `keep` is client.js's KEEP (room or cookie).
  ClientRun run(const std::string& balance, const std::string& keep, int timeout_ms = 20000) {
    const int ports = freePorts(kInstances + 2);
    SpawnedCluster cluster(kConfig, {{"balance", balance},
                                     {"ports", portRange(ports, kInstances + 2)},
                                     {"dir", kDir.string()}});
    EXPECT_TRUE(cluster.ready());
    EXPECT_TRUE(cluster.waitAllUp(kInstances, 30s));
    const CommandResult result =
        runCommand({"node", (kDir / "client.js").string(), "http://" + cluster.frontend(),
                    std::to_string(kClients), std::to_string(timeout_ms), keep},
                   {.timeout = 60s, .merge_output = true});
    ClientRun run{.exit_code = result.exit_code, .out = result.out};
    std::istringstream lines(result.out);
    for (std::string line; std::getline(lines, line);) {
      auto report = nlohmann::json::parse(line, nullptr, false);
      if (report.is_object() && report.contains("client")) {
        run.reports.push_back(std::move(report));
      }
    }
    return run;
  }
};

// Every acknowledgement of a client comes from one instance, before and after the upgrade.
void expectEverySessionOnOneInstance(const ClientRun& result) {
  EXPECT_EQ(result.exit_code, 0) << result.out;
  ASSERT_EQ(result.reports.size(), static_cast<size_t>(kClients)) << result.out;
  std::set<std::string> instances;
  for (const auto& report : result.reports) {
    EXPECT_TRUE(report.value("ok", false)) << report.dump();
    for (const auto& ack : report["acks"]) {
      instances.insert(ack.value("instance", ""));
    }
  }
  EXPECT_GE(instances.size(), 2u) << "the sessions should spread over the instances";
}

TEST_F(RealtimeTest, HashOnTheRoomKeepsEverySessionOnOneInstanceThroughTheUpgrade) {
  expectEverySessionOnOneInstance(run("balance: hash\n    hash: {key: \"query:room\"}", "room"));
}

TEST_F(RealtimeTest, StickyCookieKeepsEverySessionOnOneInstanceThroughTheUpgrade) {
  expectEverySessionOnOneInstance(run("balance: sticky_cookie", "cookie"));
}

TEST_F(RealtimeTest, RoundRobinBreaksTheSameSessions) {
  // Both ways of keeping a session together are offered to round_robin, which honours neither.
  const ClientRun result = run("balance: round_robin", "room", 10000);
  EXPECT_NE(result.exit_code, 0) << result.out;
  int broken = 0;
  for (const auto& report : result.reports) {
    broken += report.value("ok", false) ? 0 : 1;
  }
  EXPECT_GT(broken, kClients / 2) << result.out;
}

} // namespace
} // namespace corral::test

// `ctl route` names the server that the next connection actually reaches, for every balance
// mode: it asks worker 0's own balancer what it would pick next (balance::Balancer::peek). Round
// robin and least connections keep their rotation per worker and the kernel spreads connections
// over the workers, so these tests run one worker: with several, the answer is worker 0's.
#include <csignal>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "control_harness.h"

#include "tests/support/corral_process.h"
#include "tests/support/fake_backend.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

// Three echo servers with weights 3, 1, 2; ${balance} and ${extra} (more keys of the backend).
constexpr std::string_view kConfig = R"(
workers: 1
admin: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    balance: ${balance}
${extra}
    servers:
      - {address: "${s1}", name: s1, weight: 3}
      - {address: "${s2}", name: s2, weight: 1}
      - {address: "${s3}", name: s3, weight: 2}
)";

struct Mode {
  std::string name;  // the test's name
  std::string balance;
  std::string extra; // keys of the backend, indented by four spaces
};

std::ostream& operator<<(std::ostream& out, const Mode& mode) { return out << mode.name; }

class RouteTest : public ::testing::TestWithParam<Mode> {
protected:
  // Every server up (its first health check passed), so none is skipped as unknown.
  void SetUp() override {
    ASSERT_TRUE(corral.ready());
    ASSERT_TRUE(pollUntil(
        [&] {
          return serverState(admin, "app", "s1") == "up" &&
                 serverState(admin, "app", "s2") == "up" && serverState(admin, "app", "s3") == "up";
        },
        10s));
  }

  // The server `ctl route app --client 127.0.0.1` names; "" after a failure.
  std::string routeSays() {
    const CommandResult route = runCtl(admin, {"route", "app", "--client", "127.0.0.1"});
    EXPECT_EQ(route.exit_code, 0) << route.err;
    if (!route.out.starts_with("app/")) {
      ADD_FAILURE() << route.out;
      return "";
    }
    return route.out.substr(4, route.out.find(':') - 4);
  }

  // Each server's connection count, as corral counts them (health checks are not among them).
  std::map<std::string, uint64_t> totals() {
    std::map<std::string, uint64_t> totals;
    for (const std::string server : {"s1", "s2", "s3"}) {
      totals[server] = serverIn(adminStatus(admin), "app", server).value("total", uint64_t{0});
    }
    return totals;
  }

  // Opens a connection, keeps it open (least_connections counts it) and names the server corral
  // connected it to. A sticky_cookie frontend picks once the request head is in.
  std::string connect() {
    const auto before = totals();
    open.emplace_back(web);
    EXPECT_TRUE(open.back().writeAll("GET / HTTP/1.1\r\nHost: test\r\n\r\n"));
    std::string reached;
    EXPECT_TRUE(pollUntil(
        [&] {
          for (const auto& [server, total] : totals()) {
            if (total > before.at(server)) {
              reached = server;
            }
          }
          return !reached.empty();
        },
        10s));
    return reached;
  }

  // Twelve rounds of "route, then connect": each connection reaches the server route named.
  void expectRouteNamesEachNextServer() {
    std::map<std::string, int> reached;
    for (int round = 0; round < 12; ++round) {
      const std::string said = routeSays();
      const std::string server = connect();
      EXPECT_EQ(server, said) << "round " << round;
      ++reached[server];
    }
    if (GetParam().balance != "ip_hash") {
      EXPECT_EQ(reached.size(), 3u) << "the rotation should visit every server";
    }
  }

  // `extra` with "SECRET" replaced by the path of a new cookie key file.
  std::string withSecret(std::string extra) {
    const auto path = dir.path() / "cookie.key";
    std::ofstream(path) << "0123456789abcdef0123456789abcdef\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::owner_write);
    if (const size_t at = extra.find("SECRET"); at != std::string::npos) {
      extra.replace(at, 6, path.string());
    }
    return extra;
  }

  const TempDir dir;
  FakeBackend s1{"s1", {.mode = BackendMode::Echo}}, s2{"s2", {.mode = BackendMode::Echo}},
      s3{"s3", {.mode = BackendMode::Echo}};
  CorralProcess corral{kConfig,
                       {{"balance", GetParam().balance},
                        {"extra", withSecret(GetParam().extra)},
                        {"s1", s1.address()},
                        {"s2", s2.address()},
                        {"s3", s3.address()}}};
  const std::string admin = adminAddress(corral), web = corral.listenAddress("web");
  std::vector<TcpClient> open;
};

TEST_P(RouteTest, NamesTheServerTheNextConnectionReaches) {
  expectRouteNamesEachNextServer();
}

// An operator's weight, then a reload (SIGHUP) that keeps it: the workers start new balancers,
// and route asks the new ones.
TEST_P(RouteTest, NamesTheNextServerAfterAWeightChangeAndAReload) {
  ASSERT_EQ(runCtl(admin, {"weight", "app/s2", "4"}).exit_code, 0);
  connect(); // the rotation moves on before the reload
  corral.sendSignal(SIGHUP);
  ASSERT_TRUE(pollUntil([&] { return countLogLines(corral, "reloaded") == 1; }, 10s))
      << corral.stderrText();
  expectRouteNamesEachNextServer();
}

// Health checks bring every server up (SetUp) with a ten-minute slow start: weights ramp from 1
// while the tests run (slowly enough that no ramp step falls between a route and its connect).
TEST_P(RouteTest, NamesTheNextServerDuringSlowStart) {
  const nlohmann::json s1_status = serverIn(adminStatus(admin), "app", "s1");
  EXPECT_LT(s1_status.value("effective_weight", 0), s1_status.value("weight", 0)) << s1_status;
  expectRouteNamesEachNextServer();
}

const std::string kHealth =
    "    slow_start: 10m\n"
    "    health_check: {type: tcp, interval: 100ms, timeout: 1s, rise: 1, fall: 3}";

INSTANTIATE_TEST_SUITE_P(
    BalanceModes, RouteTest,
    ::testing::Values(
        Mode{"RoundRobin", "round_robin", kHealth},
        Mode{"LeastConnections", "least_connections", kHealth},
        Mode{"IpHash", "ip_hash", kHealth},
        Mode{"StickyCookieWithoutCookie", "sticky_cookie",
             kHealth + "\n    sticky_cookie: {fallback: round_robin, secret_file: \"SECRET\"}"}),
    [](const auto& info) { return info.param.name; });

} // namespace
} // namespace corral::test

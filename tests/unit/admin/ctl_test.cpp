// `corral ctl` against a real AdminServer (with a FakeControl) on 127.0.0.1.

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/ctl.h"
#include "tests/unit/admin/admin_harness.h"

namespace corral::cli {
namespace {

using admin::AdminHarness;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;
using testing::StartsWith;

struct Run {
  int code;
  std::string out;
  std::string err;
};

Run run(const CtlOptions& options) {
  std::ostringstream out, err;
  const int code = ctlCommand(options, out, err);
  return {code, out.str(), err.str()};
}

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// A port on which nothing listens: bound, then closed.
uint16_t closedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

class CtlTest : public testing::Test {
protected:
  CtlOptions options(std::string command, std::string target = "") const {
    return {.admin = admin_.address(), .command = std::move(command), .target = std::move(target)};
  }

  AdminHarness admin_;
};

// Like `pm2 list`: frontends first, then one row per server; every row's columns start where
// the header's do.
TEST_F(CtlTest, StatusPrintsAnAlignedTableOfFrontendsThenServers) {
  const auto result = run(options("status"));
  ASSERT_EQ(result.code, 0) << result.err;
  const auto lines = linesOf(result.out);
  ASSERT_EQ(lines.size(), 12u) << result.out;
  EXPECT_EQ(lines[0], "corral 0.1.0, up 2h");
  EXPECT_THAT(lines[2], StartsWith("FRONTEND  LISTEN          BACKEND  ACTIVE  TOTAL"));
  EXPECT_EQ(lines[3], "web       127.0.0.1:8080  app      4       81");
  const std::string& header = lines[5];
  EXPECT_THAT(header, StartsWith("SERVER"));
  for (const char* column : {"STATE", "WEIGHT", "PID", "UPTIME", "RESTARTS"}) {
    const size_t at = header.find(column);
    ASSERT_NE(at, std::string::npos) << column;
    for (size_t row = 6; row < 9; ++row) {
      EXPECT_NE(lines[row][at], ' ') << "row " << row << " column " << column;
      EXPECT_EQ(lines[row].substr(at - 2, 2), "  ") << "row " << row << " column " << column;
    }
  }
  EXPECT_THAT(lines[6], StartsWith("app/app#0"));
  EXPECT_THAT(lines[6], HasSubstr("4242"));
  EXPECT_THAT(lines[6], HasSubstr(" 1h "));
  EXPECT_THAT(lines[8], HasSubstr("down (refused)"));
  EXPECT_THAT(lines[8], HasSubstr("10 (3)")); // slow start: weight 10, 3 in use
  // Only backends with server limits can queue: app, not static.
  EXPECT_EQ(lines[10], "BACKEND  QUEUE");
  EXPECT_EQ(lines[11], "app      3");
}

TEST_F(CtlTest, StatusJsonPrintsTheApisJson) {
  auto with_json = options("status");
  with_json.json = true;
  const auto result = run(with_json);
  ASSERT_EQ(result.code, 0);
  EXPECT_EQ(nlohmann::json::parse(result.out), admin::toJson(admin_.control().status()));
}

TEST_F(CtlTest, DrainSendsTheServerAndSaysWhatItMeans) {
  const auto result = run(options("drain", "app/app#0"));
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, StartsWith("app/app#0: draining"));
  EXPECT_THAT(admin_.control().calls(), ElementsAre("drain app app#0"));
}

TEST_F(CtlTest, AnUnknownServerIsOneLineAndExit1) {
  const auto result = run(options("disable", "app/nope"));
  EXPECT_EQ(result.code, 1);
  EXPECT_EQ(result.err, "corral ctl: unknown server app/nope\n");
  EXPECT_THAT(result.out, IsEmpty());
}

TEST_F(CtlTest, BadArgumentsAreOneLineAndExit1WithoutAsking) {
  auto bad_weight = options("weight", "app/app#0");
  for (const char* weight : {"0", "257", "ten", "-1", ""}) {
    bad_weight.weight = weight;
    const auto result = run(bad_weight);
    EXPECT_EQ(result.code, 1) << weight;
    EXPECT_THAT(result.err, HasSubstr("the weight must be a whole number from 1 to 256"));
    EXPECT_EQ(linesOf(result.err).size(), 1u);
  }
  for (const char* target : {"app", "/app#0", "app/"}) {
    const auto result = run(options("enable", target));
    EXPECT_EQ(result.code, 1) << target;
    EXPECT_EQ(result.err, fmt::format("corral ctl: expected BACKEND/SERVER, got \"{}\"\n", target));
  }
  EXPECT_EQ(run(options("logs", "app#x")).code, 1);
  EXPECT_THAT(admin_.control().calls(), IsEmpty());
}

TEST_F(CtlTest, WeightSendsTheNumber) {
  auto weight = options("weight", "static/s1");
  weight.weight = "25";
  const auto result = run(weight);
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, "static/s1: weight 25\n");
  EXPECT_THAT(admin_.control().calls(), ElementsAre("weight static s1 25"));
}

TEST_F(CtlTest, AnUnreachableAdminApiSaysSoAndExits1) {
  const std::string address = fmt::format("127.0.0.1:{}", closedPort());
  CtlOptions status{.admin = address, .command = "status"};
  const auto result = run(status);
  EXPECT_EQ(result.code, 1);
  EXPECT_EQ(result.err,
            fmt::format("corral ctl: cannot reach the admin API at {}: connection refused\n",
                        address));
}

TEST_F(CtlTest, RoutePrintsTheServerAndWhy) {
  auto route = options("route", "app");
  route.client = "10.0.0.7";
  route.cookie = "v1+abc/=";
  route.key = "tenant &1";
  const auto result = run(route);
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, "app/app#1: hash of 10.0.0.7 (ip_hash)\n");
  EXPECT_THAT(admin_.control().calls(),
              ElementsAre("route app 10.0.0.7 cookie=v1+abc/= key=tenant &1"));
}

TEST_F(CtlTest, RouteWithABadClientIsOneLineAndExit1) {
  auto route = options("route", "app");
  route.client = "not-an-ip";
  const auto result = run(route);
  EXPECT_EQ(result.code, 1);
  EXPECT_EQ(result.err, "corral ctl: client must be an IPv4 or IPv6 address, got \"not-an-ip\"\n");
}

TEST_F(CtlTest, LogsOfOneInstancePrintsItsLines) {
  const auto result = run(options("logs", "app#1"));
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, "instance 1 booting\nlistening on 9002\n");
}

// Without #N, every instance of the backend, each line marked with its instance.
TEST_F(CtlTest, LogsOfABackendPrintsEveryInstancePrefixed) {
  const auto result = run(options("logs", "app"));
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out,
            "app#0 | instance 0 booting\napp#0 | listening on 9001\n"
            "app#1 | instance 1 booting\napp#1 | listening on 9002\n");
  EXPECT_EQ(run(options("logs", "static")).err,
            "corral ctl: backend \"static\" has no spawned instances\n");
  EXPECT_EQ(run(options("logs", "nope")).err, "corral ctl: unknown backend \"nope\"\n");
}

TEST_F(CtlTest, ScaleSendsTheCountAndChecksItFirst) {
  auto scale = options("scale", "app");
  scale.instances = "3";
  EXPECT_EQ(run(scale).out, "app: scaling to 3 instances\n");
  scale.instances = "x";
  const auto bad = run(scale);
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(bad.err,
            "corral ctl: the number of instances must be a whole number from 1 to 1024, got \"x\"\n");
  auto not_spawned = options("scale", "static");
  not_spawned.instances = "2";
  EXPECT_EQ(run(not_spawned).err, "corral ctl: backend static has no spawn section\n");
  EXPECT_THAT(admin_.control().calls(), ElementsAre("scale app 3", "scale static 2"));
}

TEST_F(CtlTest, RestartAndReloadReportTheirOutcome) {
  EXPECT_EQ(run(options("restart", "app")).out,
            "app: rolling restart started, one instance at a time\n");
  EXPECT_EQ(run(options("reload")).out, "reloaded\n");
  admin_.control().failReloadWith("corral.yaml:3:5: workers: bad");
  const auto failed = run(options("reload"));
  EXPECT_EQ(failed.code, 1);
  EXPECT_EQ(failed.err, "corral ctl: corral.yaml:3:5: workers: bad\n");
}

class CtlTokenTest : public testing::Test {
protected:
  AdminHarness admin_{"s3cret-token"};
};

TEST_F(CtlTokenTest, TheTokenFileIsSentAndItsAbsenceIsExplained) {
  CtlOptions status{.admin = admin_.address(), .command = "status"};
  const auto refused = run(status);
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.err, HasSubstr("a valid bearer token is required"));
  EXPECT_THAT(refused.err, HasSubstr("--token-file"));
  status.token_file = admin_.tokenFile();
  EXPECT_EQ(run(status).code, 0);
}

// Without --admin, ctl finds the address and the token file in the configuration (DESIGN.md).
TEST_F(CtlTokenTest, TheAddressAndTokenComeFromTheConfigFile) {
  const std::string path = admin::writeTempFile("corral.yaml", fmt::format(R"(
admin:
  listen: {}
  token_file: {}
frontends: [{{name: web, listen: "127.0.0.1:0", backend: app}}]
backends: [{{name: app, servers: [{{address: "127.0.0.1:9001"}}]}}]
)",
                                                                           admin_.address(),
                                                                           admin_.tokenFile()));
  const auto result = run({.config_path = path, .command = "drain", .target = "app/app#0"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(admin_.control().calls(), ElementsAre("drain app app#0"));
}

TEST(CtlConfigTest, AConfigWithoutAnAdminSectionSaysTheApiIsOff) {
  const std::string path = admin::writeTempFile("no_admin.yaml", R"(
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends: [{name: app, servers: [{address: "127.0.0.1:9001"}]}]
)");
  const auto result = run({.config_path = path, .command = "status"});
  EXPECT_EQ(result.code, 1);
  EXPECT_EQ(result.err, fmt::format("corral ctl: {} has no admin section: its admin API is off\n",
                                    path));
}

// The CLI11 wiring: ctl's own options may come before or after the command.
TEST(CtlCommandLineTest, ParsesEveryCommandIntoTheOptions) {
  CLI::App app;
  CtlOptions options;
  CLI::App* ctl = addCtlCommand(app, options);
  app.parse("ctl --admin 127.0.0.1:9 weight app/app#0 12 --token-file t", false);
  EXPECT_TRUE(ctl->parsed());
  EXPECT_EQ(options.admin, "127.0.0.1:9");
  EXPECT_EQ(options.token_file, "t");
  EXPECT_EQ(options.command, "weight");
  EXPECT_EQ(options.target, "app/app#0");
  EXPECT_EQ(options.weight, "12");

  CtlOptions route_options;
  CLI::App route_app;
  addCtlCommand(route_app, route_options);
  route_app.parse("ctl route app --client 10.0.0.7 --cookie abc", false);
  EXPECT_EQ(route_options.command, "route");
  EXPECT_EQ(route_options.client, "10.0.0.7");
  EXPECT_EQ(route_options.cookie, "abc");

  CtlOptions logs_options;
  CLI::App logs_app;
  addCtlCommand(logs_app, logs_options);
  logs_app.parse("ctl -c corral.yaml logs app#2 -f", false);
  EXPECT_EQ(logs_options.config_path, "corral.yaml");
  EXPECT_EQ(logs_options.command, "logs");
  EXPECT_EQ(logs_options.target, "app#2");
  EXPECT_TRUE(logs_options.follow);
}

} // namespace
} // namespace corral::cli

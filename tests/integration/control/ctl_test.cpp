// `corral ctl` against a running corral: drain, disable, enable and weight steer new clients
// without touching open sessions; a token-protected admin API turns away bad tokens; status,
// route and the error paths print what an operator needs.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "control_harness.h"

#include "tests/support/corral_process.h"
#include "tests/support/dead_address.h"
#include "tests/support/fake_backend.h"
#include "tests/support/http_client.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

using nlohmann::json;

constexpr std::string_view kEchoPair = R"(
workers: 1
admin: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    balance: round_robin
    servers: [{address: "${s1}", name: s1}, {address: "${s2}", name: s2}]
)";

// Opens `count` echo sessions one after another, each checked and closed.
void openSessions(const std::string& frontend, int count) {
  for (int i = 0; i < count; ++i) {
    TcpClient client(frontend);
    EXPECT_TRUE(echoes(client, "hello")) << "session " << i;
  }
}

// What `ctl status --json` says about app/SERVER.
json ctlServer(const std::string& admin, const std::string& server,
               const std::vector<std::string>& extra_args = {}) {
  std::vector<std::string> args = extra_args;
  args.insert(args.end(), {"status", "--json"});
  const CommandResult result = runCtl(admin, args);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return serverIn(json::parse(result.out, nullptr, false), "app", server);
}

// What `ctl route BACKEND --client CLIENT` prints ("hashed/h2: ip_hash: ..."), and the server it
// names ("h2"); empty after a test failure.
std::pair<std::string, std::string> routeOf(const std::string& admin, const std::string& backend,
                                            const std::string& client) {
  const CommandResult route = runCtl(admin, {"route", backend, "--client", client});
  EXPECT_EQ(route.exit_code, 0) << route.err;
  const std::string prefix = backend + "/";
  EXPECT_TRUE(route.out.starts_with(prefix)) << route.out;
  if (route.exit_code != 0 || !route.out.starts_with(prefix)) {
    return {route.out, ""};
  }
  return {route.out, route.out.substr(prefix.size(), route.out.find(':') - prefix.size())};
}

size_t lineCount(const std::string& text) {
  return std::count(text.begin(), text.end(), '\n');
}

std::string lowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Two echo servers behind one frontend, one worker (one round-robin rotation), and the admin API.
class CtlSteeringTest : public ::testing::Test {
protected:
  void SetUp() override { ASSERT_TRUE(corral.ready()); }

  FakeBackend s1{"s1", {.mode = BackendMode::Echo}}, s2{"s2", {.mode = BackendMode::Echo}};
  CorralProcess corral{kEchoPair, addressesOf({s1, s2})};
  const std::string admin = adminAddress(corral), web = corral.listenAddress("web");
};

TEST_F(CtlSteeringTest, DrainKeepsTheOpenSessionAndSendsNewClientsElsewhere) {
  // Round robin: one of the first two sessions lands on s1. Keep that one open.
  std::vector<TcpClient> open;
  for (int i = 0; i < 2 && s1.acceptedConnections() == 0; ++i) {
    open.emplace_back(web);
    ASSERT_TRUE(echoes(open.back(), "first"));
  }
  ASSERT_EQ(s1.acceptedConnections(), 1);
  TcpClient& on_s1 = open.back();

  const CommandResult drain = runCtl(admin, {"drain", "app/s1"});
  EXPECT_EQ(drain.exit_code, 0) << drain.err;
  EXPECT_NE(drain.out.find("app/s1: draining"), std::string::npos) << drain.out;
  EXPECT_EQ(ctlServer(admin, "s1").value("state", ""), "drain");
  const int s2_before = s2.acceptedConnections();
  openSessions(web, 6);
  EXPECT_EQ(s1.acceptedConnections(), 1) << "a new client reached the draining server";
  EXPECT_EQ(s2.acceptedConnections(), s2_before + 6);
  EXPECT_TRUE(echoes(on_s1, "still here")) << "draining cut the open session";

  EXPECT_EQ(runCtl(admin, {"enable", "app/s1"}).exit_code, 0);
  EXPECT_EQ(ctlServer(admin, "s1").value("state", ""), "up");
  openSessions(web, 4);
  EXPECT_GT(s1.acceptedConnections(), 1) << "enabled again, s1 gets no new client";
}

TEST_F(CtlSteeringTest, DisableTakesAServerOutAndWeightShowsInStatus) {
  EXPECT_EQ(runCtl(admin, {"disable", "app/s1"}).exit_code, 0);
  EXPECT_EQ(ctlServer(admin, "s1").value("state", ""), "disabled");
  openSessions(web, 4);
  EXPECT_EQ(s1.acceptedConnections(), 0) << "a new client reached the disabled server";
  EXPECT_EQ(s2.acceptedConnections(), 4);

  EXPECT_EQ(runCtl(admin, {"enable", "app/s1"}).exit_code, 0);
  const CommandResult weight = runCtl(admin, {"weight", "app/s1", "3"});
  EXPECT_EQ(weight.exit_code, 0) << weight.err;
  EXPECT_EQ(weight.out, "app/s1: weight 3\n");
  const json s1_status = ctlServer(admin, "s1");
  EXPECT_EQ(s1_status.value("weight", 0), 3) << s1_status;
  EXPECT_EQ(s1_status.value("state", ""), "up") << s1_status;
  EXPECT_EQ(ctlServer(admin, "s2").value("weight", 0), 1);
}

std::string writeToken(const TempDir& dir, const std::string& name, const std::string& token) {
  const auto path = dir.path() / name;
  std::ofstream(path) << token << '\n';
  ::chmod(path.c_str(), 0600);
  return path.string();
}

// curl -i: the response head, then the body.
CommandResult curl(const std::string& url, const std::vector<std::string>& options) {
  std::vector<std::string> args = {"/usr/bin/curl", "-s", "-i", "--max-time", "5"};
  args.insert(args.end(), options.begin(), options.end());
  args.push_back(url);
  return runCommand(args);
}

int statusOf(const CommandResult& curl_result) {
  const std::string& out = curl_result.out;
  return out.size() > 12 && out.starts_with("HTTP/1.") ? std::stoi(out.substr(9, 3)) : 0;
}

// An admin API with token_file, and token files with the right and a wrong token.
class AdminTokenTest : public ::testing::Test {
protected:
  static constexpr std::string_view kToken = "k3Fq9-corral-admin-token";

  void SetUp() override { ASSERT_TRUE(corral.ready()); }

  FakeBackend s1{"s1", {.mode = BackendMode::Echo}}, s2{"s2", {.mode = BackendMode::Echo}};
  const TempDir tokens;
  const std::string right = writeToken(tokens, "admin.token", std::string(kToken));
  const std::string wrong = writeToken(tokens, "wrong.token", "not-the-token");
  CorralProcess corral{R"(
admin: {listen: "127.0.0.1:0", token_file: "${token}"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends: [{name: app, servers: [{address: "${s1}", name: s1}, {address: "${s2}", name: s2}]}]
)",
                       {{"token", right}, {"s1", s1.address()}, {"s2", s2.address()}}};
  const std::string admin = adminAddress(corral);
  const std::string base = "http://" + admin;
};

// No token or a wrong one: 401. The right one: 200, without CORS headers. A GET on a POST
// endpoint: 405, and nothing changes.
TEST_F(AdminTokenTest, ApiAnswers401WithoutTheTokenAnd405ToAGetOnAPostEndpoint) {
  const std::string bearer = fmt::format("Authorization: Bearer {}", kToken);
  EXPECT_EQ(statusOf(curl(base + "/api/v1/status", {})), 401);
  EXPECT_EQ(statusOf(curl(base + "/api/v1/status", {"-H", "Authorization: Bearer not-it"})), 401);
  EXPECT_EQ(statusOf(curl(base + "/api/v1/servers/app/s1/drain", {"-X", "POST"})), 401);
  const CommandResult allowed = curl(base + "/api/v1/status", {"-H", bearer});
  EXPECT_EQ(statusOf(allowed), 200) << allowed.out;
  EXPECT_EQ(lowerCase(allowed.out).find("access-control-"), std::string::npos) << allowed.out;
  EXPECT_EQ(statusOf(curl(base + "/api/v1/servers/app/s1/drain", {"-H", bearer})), 405);
  EXPECT_EQ(statusOf(curl(base + "/api/v1/reload", {"-H", bearer})), 405);
  EXPECT_EQ(serverIn(adminStatus(admin, kToken), "app", "s1").value("state", ""), "up")
      << "the GET on drain changed the server";
}

TEST_F(AdminTokenTest, CtlWithTheTokenFileIsLetInAndWithoutItExitsOne) {
  EXPECT_EQ(ctlServer(admin, "s1", {"--token-file", right}).value("state", ""), "up");
  const CommandResult drained = runCtl(admin, {"--token-file", right, "drain", "app/s1"});
  EXPECT_EQ(drained.exit_code, 0) << drained.err;
  EXPECT_EQ(serverIn(adminStatus(admin, kToken), "app", "s1").value("state", ""), "drain");
  for (const auto& refused :
       {runCtl(admin, {"--token-file", wrong, "status"}), runCtl(admin, {"status"})}) {
    EXPECT_EQ(refused.exit_code, 1) << refused.out;
    EXPECT_EQ(lineCount(refused.err), 1u) << refused.err;
    EXPECT_NE(refused.err.find("token"), std::string::npos) << refused.err;
  }
}

// The row of `table` whose first column is `name`.
std::string rowOf(const std::string& table, const std::string& name) {
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(name + " ")) {
      return line;
    }
  }
  return "";
}

// The table names every server with its state, in the column under STATE.
TEST(CorralCtlTest, StatusTableShowsEachServerAndItsState) {
  FakeBackend s1("s1"), s2("s2");
  RefusingAddress s3;
  CorralProcess corral(R"(
admin: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    health_check: {type: tcp, interval: 100ms, timeout: 100ms, rise: 1, fall: 1}
    servers: [{address: "${s1}", name: s1}, {address: "${s2}", name: s2}, {address: "${s3}", name: s3}]
)",
                       {{"s1", s1.address()}, {"s2", s2.address()}, {"s3", s3.address()}});
  ASSERT_TRUE(corral.ready());
  const std::string admin = adminAddress(corral);
  ASSERT_EQ(runCtl(admin, {"drain", "app/s2"}).exit_code, 0);
  ASSERT_TRUE(pollUntil(
      [&] {
        return serverState(admin, "app", "s1") == "up" && serverState(admin, "app", "s3") == "down";
      },
      5s));

  const CommandResult status = runCtl(admin, {"status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  const std::string header = rowOf(status.out, "SERVER");
  ASSERT_NE(header, "") << status.out;
  const size_t state_column = header.find("STATE");
  ASSERT_NE(state_column, std::string::npos) << header;
  const std::map<std::string, std::string> expected = {
      {"app/s1", "up"}, {"app/s2", "drain"}, {"app/s3", "down (refused)"}};
  for (const auto& [name, state] : expected) {
    const std::string row = rowOf(status.out, name);
    ASSERT_NE(row, "") << name << " missing from\n" << status.out;
    EXPECT_EQ(row.substr(std::min(row.size(), state_column), state.size()), state)
        << "under STATE in\n"
        << status.out;
  }
  EXPECT_NE(rowOf(status.out, "web"), "") << "no frontend row in\n" << status.out;
}

// Three self-naming servers behind an ip_hash backend, and the admin API.
constexpr std::string_view kIpHashConfig = R"(
admin: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: hashed}]
backends:
  - name: hashed
    balance: ip_hash
    servers: [{address: "${h1}", name: h1}, {address: "${h2}", name: h2}, {address: "${h3}", name: h3}]
)";

// route names the server that the ip_hash table gives a client, and says why; a client from that
// address does land there.
TEST(CorralCtlTest, RouteNamesTheIpHashServerAndSaysWhy) {
  FakeBackend h1("h1"), h2("h2"), h3("h3");
  CorralProcess corral(kIpHashConfig, addressesOf({h1, h2, h3}));
  ASSERT_TRUE(corral.ready());
  const std::string admin = adminAddress(corral);
  for (const std::string client : {"127.0.0.5", "127.0.0.6", "127.0.0.7"}) {
    const auto [said, server] = routeOf(admin, "hashed", client);
    EXPECT_TRUE(server == "h1" || server == "h2" || server == "h3") << said;
    EXPECT_NE(said.find("ip_hash"), std::string::npos) << "no reason in: " << said;
    EXPECT_EQ(exchangeFrom(client, corral.listenAddress("web"), "", 5s), server)
        << "route said " << said;
  }
}

// route answers with the table the workers route with, after `ctl weight` and after a reload that
// keeps the operator's weight. The reload once built its table from the configured weights while
// route used the operator's, so the two disagreed for many clients.
TEST(CorralCtlTest, RouteAgreesWithTheWorkersAfterAWeightChangeAndAReload) {
  FakeBackend h1("h1"), h2("h2"), h3("h3");
  CorralProcess corral(kIpHashConfig, addressesOf({h1, h2, h3}));
  ASSERT_TRUE(corral.ready());
  const std::string admin = adminAddress(corral);
  ASSERT_EQ(runCtl(admin, {"weight", "hashed/h1", "9"}).exit_code, 0);
  const CommandResult reload = runCtl(admin, {"reload"});
  ASSERT_EQ(reload.exit_code, 0) << reload.err;
  int on_h1 = 0;
  for (int host = 2; host < 42; ++host) { // 40 clients, each its own key (ipv4_prefix 32)
    const std::string client = fmt::format("127.0.0.{}", host);
    const auto [said, server] = routeOf(admin, "hashed", client);
    on_h1 += server == "h1" ? 1 : 0;
    EXPECT_EQ(exchangeFrom(client, corral.listenAddress("web"), "", 5s), server)
        << client << ": route said " << said;
  }
  EXPECT_GE(on_h1, 26) << "weight 9 of 11 should take about 33 of 40 clients";
}

TEST_F(CtlSteeringTest, UnknownNamesBadArgumentsAndAnUnreachableAdminExitOneWithOneLine) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"drain", "app/nope"}, "nope"},
      {{"enable", "nobackend/s1"}, "nobackend"},
      {{"weight", "app/nope", "2"}, "nope"},
      {{"weight", "app/s1", "0"}, "weight"},
      {{"drain", "app"}, "BACKEND/SERVER"},
      {{"route", "nobackend", "--client", "127.0.0.5"}, "nobackend"},
  };
  for (const auto& [args, mentioned] : cases) {
    const CommandResult result = runCtl(admin, args);
    const std::string command = ::testing::PrintToString(args);
    EXPECT_EQ(result.exit_code, 1) << command << result.out;
    EXPECT_EQ(lineCount(result.err), 1u) << command << ": " << result.err;
    EXPECT_NE(result.err.find(mentioned), std::string::npos) << command << ": " << result.err;
  }
  EXPECT_EQ(serverState(admin, "app", "s1"), "up") << "a failed command changed s1";

  const RefusingAddress nobody;
  const CommandResult unreachable = runCtl(nobody.address(), {"status"});
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_EQ(lineCount(unreachable.err), 1u) << unreachable.err;
  EXPECT_NE(unreachable.err.find("cannot reach"), std::string::npos) << unreachable.err;
}

// `ctl top --once`: one frame for scripts and logs, every server with its state, busiest first,
// and no screen control codes when the output is not a terminal.
TEST_F(CtlSteeringTest, TopOnceListsEveryServerWithItsStateBusiestFirst) {
  ASSERT_EQ(runCtl(admin, {"drain", "app/s2"}).exit_code, 0);
  TcpClient held(web); // stays open on s1, the only server taking new clients
  ASSERT_TRUE(echoes(held, "hello"));
  const CommandResult top = runCtl(admin, {"top", "--once"});
  ASSERT_EQ(top.exit_code, 0) << top.err;
  EXPECT_EQ(top.out.find('\x1b'), std::string::npos) << "colour or screen codes in a pipe";
  const auto s1_line = top.out.find("app/s1");
  const auto s2_line = top.out.find("app/s2");
  ASSERT_NE(s1_line, std::string::npos) << top.out;
  ASSERT_NE(s2_line, std::string::npos) << top.out;
  EXPECT_LT(s1_line, s2_line) << "the server with an open connection comes first:\n" << top.out;
  const auto line_of = [&](size_t at) { return top.out.substr(at, top.out.find('\n', at) - at); };
  EXPECT_NE(line_of(s1_line).find(" up "), std::string::npos) << line_of(s1_line);
  EXPECT_NE(line_of(s2_line).find(" drain "), std::string::npos) << line_of(s2_line);
  EXPECT_NE(top.out.find("web"), std::string::npos) << "the frontend is missing:\n" << top.out;
}

// GET /api/v1/history holds one sample a second and never more than admin.history of them.
TEST(AdminHistoryTest, HistoryStaysWithinTheConfiguredWindow) {
  FakeBackend s1{"s1", {.mode = BackendMode::Echo}};
  CorralProcess corral{R"(
workers: 1
admin: {listen: "127.0.0.1:0", history: 10s}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends: [{name: app, servers: [{address: "${s1}", name: s1}]}]
)",
                       addressesOf({s1})};
  ASSERT_TRUE(corral.ready());
  const std::string admin = adminAddress(corral);
  json history;
  const auto samples = [&] {
    const HttpResponse reply = httpGet(admin, {.path = "/api/v1/history"}, 10s);
    history = json::parse(reply.body, nullptr, false);
    return reply.head.status == 200 && history.is_object() ? history["t"].size() : size_t{0};
  };
  // Ten samples a second apart take ten seconds; the load of a CI machine may slow the loop.
  ASSERT_TRUE(pollUntil([&] { return samples() >= 10; }, 30s, 200ms)) << history.dump();
  TcpClient client(corral.listenAddress("web"));
  ASSERT_TRUE(echoes(client, "hello"));
  ASSERT_TRUE(pollUntil(
      [&] {
        samples();
        const auto& rates = history["servers"][0]["connections_per_s"];
        return !rates.empty() && rates.back().get<double>() > 0;
      },
      10s, 200ms))
      << "the connection never showed as a rate: " << history.dump();
  EXPECT_EQ(history["window_s"], 10.0);
  EXPECT_LE(history["t"].size(), 10u);
  EXPECT_LE(history["servers"][0]["state"].size(), 10u);
}

} // namespace
} // namespace corral::test

// Health: active HTTP checks take a failing server out within fall x interval (+ timeout) and
// bring it back after rise; a server that dies is ejected by live traffic before its next active
// check; with no server up, a new client is closed at once. Detection times are measured and
// printed, as the issue asks.
#include <iostream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "control_harness.h"
#include "health_server.h"

#include "tests/support/corral_process.h"
#include "tests/support/http_client.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// The checks of these tests: interval 100 ms (±10% jitter), timeout 100 ms, rise 2, fall 2.
constexpr milliseconds kInterval{100}, kTimeout{100};
constexpr int kRise = 2, kFall = 2;
// Room for a loaded 2-core machine under ASan: the health thread, the admin API and this test
// share it.
constexpr milliseconds kLoadMargin{3000};
// Fall (or rise) checks in a row, each up to one jittered interval after the last, plus one
// check that may run into its timeout.
constexpr milliseconds kDetectionBound = kFall * kInterval * 11 / 10 + kTimeout + kLoadMargin;

const std::string kHttpCheckBackend = R"(
workers: 1
admin: {listen: "127.0.0.1:0"}
metrics: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    balance: round_robin
    health_check: {type: http, path: /healthz, interval: 100ms, timeout: 100ms, rise: 2, fall: 2}
    servers: [{address: "${s1}", name: s1}, {address: "${s2}", name: s2}]
)";

Substitutions serversOf(const HealthServer& s1, const HealthServer& s2) {
  return {{"s1", s1.address()}, {"s2", s2.address()}};
}

// One request through corral; the name of the server that answered, or "" if none did.
std::string requestThrough(const std::string& frontend) {
  const HttpResponse reply = httpGet(frontend, {.host = "test"});
  return reply.raw.find("\r\n\r\n") == std::string::npos ? "" : reply.body;
}

// app/s1 and app/s2 are both in `state`.
bool bothInState(const std::string& admin, const std::string& state) {
  const json status = adminStatus(admin);
  return serverIn(status, "app", "s1").value("state", "") == state &&
         serverIn(status, "app", "s2").value("state", "") == state;
}

// How long until BACKEND/SERVER shows `state` in the admin API, or nullopt past the deadline.
std::optional<milliseconds> timeUntilState(const std::string& admin, const std::string& server,
                                           const std::string& state, milliseconds deadline) {
  const auto start = Clock::now();
  if (!pollUntil([&] { return serverState(admin, "app", server) == state; }, deadline, 2ms)) {
    return std::nullopt;
  }
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

TEST(ServerHealthTest, FailingHttpCheckTakesAServerOutAndRiseBringsItBack) {
  HealthServer s1("s1"), s2("s2");
  CorralProcess corral(kHttpCheckBackend, serversOf(s1, s2));
  ASSERT_TRUE(corral.ready());
  const std::string admin = adminAddress(corral), web = corral.listenAddress("web");
  ASSERT_TRUE(pollUntil([&] { return bothInState(admin, "up"); }, 5s));
  for (int i = 0; i < 4; ++i) {
    EXPECT_NE(requestThrough(web), "");
  }
  ASSERT_GT(s1.requests(), 0) << "round robin never picked s1 while it was up";

  s1.setHealthStatus(503);
  const auto down_after = timeUntilState(admin, "s1", "down", 10s);
  ASSERT_TRUE(down_after) << "s1 answers 503 and is still " << serverState(admin, "app", "s1");
  std::cout << fmt::format("[ measured ] http check 503 -> down in {} ms (bound {} ms)\n",
                           down_after->count(), kDetectionBound.count());
  EXPECT_LE(*down_after, kDetectionBound);
  EXPECT_EQ(serverIn(adminStatus(admin), "app", "s1").value("reason", ""), "status 503");
  const int reached_s1 = s1.requests();
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(requestThrough(web), "s2") << "request " << i << " after s1 went down";
  }
  EXPECT_EQ(s1.requests(), reached_s1) << "a new connection reached s1 while it was down";

  s1.setHealthStatus(200);
  const auto up_after = timeUntilState(admin, "s1", "up", 10s);
  ASSERT_TRUE(up_after) << "s1 answers 200 again and is still " << serverState(admin, "app", "s1");
  std::cout << fmt::format("[ measured ] http check 200 -> up in {} ms (bound {} ms)\n",
                           up_after->count(), kDetectionBound.count());
  EXPECT_LE(*up_after, kRise * kInterval * 11 / 10 + kTimeout + kLoadMargin);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NE(requestThrough(web), "");
  }
  EXPECT_GT(s1.requests(), reached_s1) << "s1 is up again but gets no clients";
}

// One active check at start, then one every 30 s; passive ejection after two failed connects.
const std::string kPassiveBackend = R"(
workers: 1
admin: {listen: "127.0.0.1:0"}
metrics: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    balance: round_robin
    retries: 2
    health_check: {type: tcp, interval: 30s, timeout: 1s}
    passive: {consecutive_failures: 2, ejection_time: 30s}
    servers: [{address: "${s1}", name: s1}, {address: "${s2}", name: s2}]
)";
constexpr int kConsecutiveFailures = 2;

// Active checks every 30 s would notice a dead server late; two failed connects from live traffic
// eject it at once. Each client still gets through (the retry goes to s2), and after the ejection
// no connect is tried on s1 at all: its failure count stays at two.
TEST(ServerHealthTest, ServerKilledOutrightIsEjectedPassivelyBeforeTheNextActiveCheck) {
  HealthServer s1("s1"), s2("s2");
  CorralProcess corral(kPassiveBackend, serversOf(s1, s2));
  ASSERT_TRUE(corral.ready());
  const std::string admin = adminAddress(corral), metrics = metricsAddress(corral);
  const std::string web = corral.listenAddress("web");
  ASSERT_TRUE(pollUntil([&] { return bothInState(admin, "up"); }, 5s));

  s1.kill();
  const auto killed_at = Clock::now();
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(requestThrough(web), "s2") << "request " << i << " after s1 died";
  }
  const auto ejected_after = timeUntilState(admin, "s1", "down", 5s);
  ASSERT_TRUE(ejected_after) << "s1 is dead and still " << serverState(admin, "app", "s1");
  const auto detection = std::chrono::duration_cast<milliseconds>(Clock::now() - killed_at);
  std::cout << fmt::format("[ measured ] killed server ejected passively within {} ms "
                           "(next active check due in ~30 s)\n",
                           detection.count());
  EXPECT_EQ(serverIn(adminStatus(admin), "app", "s1").value("reason", ""),
            "ejected after failed connects");
  EXPECT_LT(detection, 10s);
  EXPECT_EQ(scrapeMetric(metrics, "corral_health_checks_total",
                         {{"backend", "app"}, {"server", "s1"}, {"result", "refused"}}),
            0)
      << "an active check saw s1 refuse: the ejection was not passive";

  const auto s1_failures = [&] {
    return scrapeMetric(metrics, "corral_connect_failures_total",
                        {{"backend", "app"}, {"server", "s1"}});
  };
  EXPECT_EQ(s1_failures(), kConsecutiveFailures);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(requestThrough(web), "s2") << "request " << i << " after the ejection";
  }
  EXPECT_EQ(s1_failures(), kConsecutiveFailures) << "connects were still tried on s1, ejected";
  EXPECT_EQ(scrapeMetric(metrics, "corral_retries_total", {{"backend", "app"}}),
            kConsecutiveFailures);
  const auto log = corral.waitForAccessLog(12, 5s);
  ASSERT_EQ(log.size(), 12u);
  for (const auto& line : log) {
    EXPECT_EQ(line.value("server", ""), "s2") << line;
  }
}

// With every server failing its checks, a new client is closed at once rather than left waiting,
// and the access log and the metrics say why.
TEST(ServerHealthTest, NoServerUpClosesANewClientAtOnce) {
  HealthServer s1("s1"), s2("s2");
  CorralProcess corral(kHttpCheckBackend, serversOf(s1, s2));
  ASSERT_TRUE(corral.ready());
  const std::string admin = adminAddress(corral), metrics = metricsAddress(corral);
  ASSERT_TRUE(pollUntil([&] { return bothInState(admin, "up"); }, 5s));
  s1.setHealthStatus(503);
  s2.setHealthStatus(503);
  ASSERT_TRUE(pollUntil([&] { return bothInState(admin, "down"); }, 5s));

  const auto start = Clock::now();
  TcpClient client(corral.listenAddress("web"));
  ASSERT_TRUE(client.connected()) << client.error();
  EXPECT_EQ(client.readAll(5s), "");
  EXPECT_NE(client.closure(), Closure::Open);
  const auto closed_after = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  std::cout << fmt::format("[ measured ] client closed {} ms after connecting with no server up\n",
                           closed_after.count());
  EXPECT_LT(closed_after, 4s); // generous (ASan, a loaded machine); the read waits 5 s
  const auto log = corral.waitForAccessLog(1, 5s);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].value("termination", ""), "no_server") << log[0];
  EXPECT_EQ(log[0].value("server", "?"), "") << log[0];
  EXPECT_EQ(scrapeMetric(metrics, "corral_frontend_rejected_connections_total",
                         {{"frontend", "web"}, {"reason", "no_server"}}),
            1);
  EXPECT_EQ(s1.requests() + s2.requests(), 0);
}

} // namespace
} // namespace corral::test

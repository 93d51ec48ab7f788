// Per-server max_connections and the backend's queue, end to end: the fake servers count how many
// connections they hold at once, so "never more than the limit" is what the servers saw, not what
// corral says of itself.
#include <future>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "control_harness.h"
#include "health_server.h"

#include "tests/support/corral_process.h"
#include "tests/support/fake_backend.h"
#include "tests/support/http_client.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

FakeBackendOptions holding(milliseconds hold) {
  return {.mode = BackendMode::HoldThenName, .hold = hold};
}

// The access log's lines by termination.
std::map<std::string, int> terminations(const std::vector<json>& lines) {
  std::map<std::string, int> counts;
  for (const json& line : lines) {
    ++counts[line.value("termination", "")];
  }
  return counts;
}

// One backend with one server s1 under `max_connections` and the given queue settings.
std::string oneServerConfig(std::string_view queue, int max_connections) {
  return fmt::format(R"(
workers: 1
metrics: {{listen: "127.0.0.1:0"}}
frontends: [{{name: web, listen: "127.0.0.1:0", backend: app}}]
backends:
  - name: app
    queue: {}
    servers: [{{address: "${{s1}}", name: s1, max_connections: {}}}]
)", queue, max_connections);
}

double metric(const CorralProcess& corral, std::string_view name,
              const std::map<std::string, std::string>& labels = {}) {
  return scrapeMetric(metricsAddress(corral), name, labels).value_or(-1);
}

// Four servers that take two connections each and hold every one for 500 ms; forty clients at
// once. Eight are served at a time and the rest wait in corral: every client gets an answer, no
// server ever holds more than two, and the queue's metrics show the wait.
TEST(ServerLimitTest, FortyClientsOnFourServersOfTwoAreAllServedTwoAtATime) {
  FakeBackend s1("s1", holding(500ms)), s2("s2", holding(500ms)), s3("s3", holding(500ms)),
      s4("s4", holding(500ms));
  CorralProcess corral(R"(
workers: 2
metrics: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    server_max_connections: 2
    queue: {max: 100, timeout: 30s}
    servers: [{address: "${s1}", name: s1, max_connections: 2}, {address: "${s2}", name: s2},
              {address: "${s3}", name: s3}, {address: "${s4}", name: s4, max_connections: 2}]
)", addressesOf({s1, s2, s3, s4}));
  ASSERT_TRUE(corral.ready());
  // Each client closes once answered, as a real one would: a session holds its server's slot
  // until both sides are done.
  const std::string web = corral.listenAddress("web");
  std::vector<std::future<std::string>> clients;
  for (int i = 0; i < 40; ++i) {
    clients.push_back(std::async(std::launch::async, [&] { return TcpClient(web).readAll(30s); }));
  }
  EXPECT_TRUE(pollUntil([&] { return metric(corral, "corral_backend_queue_length",
                                            {{"backend", "app"}}) > 0; }, 3s, 20ms))
      << "nobody was seen waiting";
  std::map<std::string, int> answers;
  for (auto& client : clients) {
    ++answers[client.get()];
  }
  // Each server frees its slots at the same pace, so each serves about a quarter.
  EXPECT_EQ(answers.size(), 4u) << "some client got no answer, or a wrong one";
  int served = 0;
  for (const FakeBackend* server : {&s1, &s2, &s3, &s4}) {
    EXPECT_LE(server->mostOpenAtOnce(), 2) << server->name();
    EXPECT_GE(answers[server->name()], 5) << server->name();
    served += answers[server->name()];
  }
  EXPECT_EQ(served, 40);
  const auto log = corral.waitForAccessLog(40, 10s);
  EXPECT_EQ(terminations(log), (std::map<std::string, int>{{"server_closed", 40}}));
  EXPECT_EQ(metric(corral, "corral_backend_queue_length", {{"backend", "app"}}), 0);
  // At most eight of forty were placed without waiting.
  EXPECT_GE(metric(corral, "corral_backend_queue_seconds_bucket", {{"le", "+Inf"}}), 32);
  EXPECT_EQ(metric(corral, "corral_backend_queue_rejections_total",
                   {{"backend", "app"}, {"reason", "timeout"}}), 0);
}

// With the server busy for 1.5 s, the clients past its two slots give up after queue.timeout
// (200 ms): closed without a byte, logged as queue_timeout, counted as timeouts.
TEST(ServerLimitTest, WaitersPastTheQueueTimeoutAreClosed) {
  FakeBackend s1("s1", holding(1500ms));
  CorralProcess corral(oneServerConfig("{timeout: 200ms}", 2), addressesOf({s1}));
  ASSERT_TRUE(corral.ready());
  std::vector<TcpClient> clients;
  for (int i = 0; i < 5; ++i) {
    clients.emplace_back(corral.listenAddress("web"));
  }
  std::map<std::string, int> answers;
  for (TcpClient& client : clients) {
    ++answers[client.readAll(10s)];
  }
  EXPECT_EQ(answers, (std::map<std::string, int>{{"", 3}, {"s1", 2}}));
  clients.clear();
  const auto log = corral.waitForAccessLog(5, 10s);
  EXPECT_EQ(terminations(log),
            (std::map<std::string, int>{{"queue_timeout", 3}, {"server_closed", 2}}));
  for (const json& line : log) {
    if (line.value("termination", "") == "queue_timeout") {
      EXPECT_GE(line.value("duration_ms", 0.0), 190) << line; // timers may fire a little early
      EXPECT_LT(line.value("duration_ms", 0.0), 1500) << line; // before a slot came free
      EXPECT_EQ(line.value("server", ""), "") << line;
    }
  }
  EXPECT_EQ(metric(corral, "corral_backend_queue_rejections_total",
                   {{"backend", "app"}, {"reason", "timeout"}}), 3);
  EXPECT_LE(s1.mostOpenAtOnce(), 2);
}

// queue.max: 0 turns away at once whoever finds every server full.
TEST(ServerLimitTest, AFullQueueClosesTheClientAtOnce) {
  FakeBackend s1("s1", holding(1500ms));
  CorralProcess corral(oneServerConfig("{max: 0}", 1), addressesOf({s1}));
  ASSERT_TRUE(corral.ready());
  TcpClient first(corral.listenAddress("web"));
  ASSERT_TRUE(pollUntil([&] { return s1.openConnections() == 1; }, 5s));
  TcpClient second(corral.listenAddress("web"));
  const auto started = Clock::now();
  EXPECT_EQ(second.readAll(5s), "");
  EXPECT_LT(Clock::now() - started, 1000ms); // not after the first one's 1.5 s
  EXPECT_EQ(first.readAll(5s), "s1");
  const auto log = corral.waitForAccessLog(1, 5s);
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.front().value("termination", ""), "queue_full");
  EXPECT_EQ(metric(corral, "corral_backend_queue_rejections_total",
                   {{"backend", "app"}, {"reason", "full"}}), 1);
}

// ip_hash, and balance: hash on the client's address: a client whose server is full waits for
// that server, even while the other one is idle.
class HashedClientTest : public testing::TestWithParam<std::string_view> {};

TEST_P(HashedClientTest, WaitsForItsOwnServer) {
  FakeBackend a("a", holding(600ms)), b("b", holding(600ms));
  CorralProcess corral(fmt::format(R"(
workers: 2
frontends: [{{name: web, listen: "127.0.0.1:0", backend: app}}]
backends:
  - name: app
    {}
    server_max_connections: 1
    servers: [{{address: "${{a}}", name: a}}, {{address: "${{b}}", name: b}}]
)", GetParam()), addressesOf({a, b}));
  ASSERT_TRUE(corral.ready());
  const std::string web = corral.listenAddress("web");
  auto first = std::async(std::launch::async, [&] { return exchangeFrom("127.0.0.7", web, "x", 10s); });
  ASSERT_TRUE(pollUntil([&] { return a.openConnections() + b.openConnections() == 1; }, 5s));
  const auto started = Clock::now();
  auto second = std::async(std::launch::async, [&] { return exchangeFrom("127.0.0.7", web, "x", 10s); });
  const std::string own = first.get();
  ASSERT_TRUE(own == "a" || own == "b") << own;
  EXPECT_EQ(second.get(), own);
  EXPECT_GE(Clock::now() - started, 300ms); // it waited for the first one's hold to end
  const FakeBackend& other = own == "a" ? b : a;
  EXPECT_EQ(other.acceptedConnections(), 0);
}

INSTANTIATE_TEST_SUITE_P(Balance, HashedClientTest,
                         testing::Values("balance: ip_hash",
                                         "balance: hash\n    hash: {key: client_ip}"));

} // namespace
} // namespace corral::test

namespace corral::test {
namespace {

// One request through corral; the name of the server that answered ("" if none did).
std::string servedBy(const std::string& web) {
  const HttpResponse reply = httpGet(web, {.host = "test"});
  return reply.raw.find("\r\n\r\n") == std::string::npos ? "" : reply.body;
}

std::set<std::string> servedByEach(const std::string& web, int clients) {
  std::set<std::string> names;
  for (int i = 0; i < clients; ++i) {
    names.insert(servedBy(web));
  }
  return names;
}

// A backup server takes clients only while no primary can: not while they are up, at once when
// both are down, and no new client once a primary is back.
TEST(BackupServerTest, TakesClientsOnlyWhileEveryPrimaryIsDown) {
  HealthServer p1("p1"), p2("p2"), standby("standby");
  CorralProcess corral(R"(
workers: 2
admin: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    health_check: {type: http, path: /healthz, interval: 100ms, timeout: 2s, rise: 1, fall: 2}
    servers: [{address: "${p1}", name: p1}, {address: "${p2}", name: p2},
              {address: "${standby}", name: standby, backup: true}]
)", {{"p1", p1.address()}, {"p2", p2.address()}, {"standby", standby.address()}});
  ASSERT_TRUE(corral.ready());
  const std::string admin = adminAddress(corral), web = corral.listenAddress("web");
  // A slow check on a loaded machine (2 s of timeout, and two in a row) marks no server down.
  ASSERT_TRUE(pollUntil([&] { return serverState(admin, "app", "p1") == "up" &&
                                     serverState(admin, "app", "p2") == "up" &&
                                     serverState(admin, "app", "standby") == "up"; }, 10s));
  EXPECT_EQ(servedByEach(web, 8), (std::set<std::string>{"p1", "p2"}));
  p1.setHealthStatus(503);
  ASSERT_TRUE(pollUntil([&] { return serverState(admin, "app", "p1") == "down"; }, 10s));
  EXPECT_EQ(servedByEach(web, 4), (std::set<std::string>{"p2"})); // one primary is enough
  p2.setHealthStatus(503);
  ASSERT_TRUE(pollUntil([&] { return serverState(admin, "app", "p2") == "down"; }, 10s));
  EXPECT_EQ(servedByEach(web, 4), (std::set<std::string>{"standby"}));
  p1.setHealthStatus(200);
  ASSERT_TRUE(pollUntil([&] { return serverState(admin, "app", "p1") == "up"; }, 10s));
  EXPECT_EQ(servedByEach(web, 4), (std::set<std::string>{"p1"}));
  EXPECT_EQ(standby.requests(), 4);
}

} // namespace
} // namespace corral::test

namespace corral::test {
namespace {

// What one request through corral came back with: the name of the server that answered (the
// body), and the sticky cookie's value when the reply sets one.
struct Served {
  std::string server;
  std::string cookie;
};

// One request on `client` (with the CORRAL cookie when `cookie` is set), read until the server's
// close. The client stays open: its session keeps the server's slot until it closes.
Served requestOn(TcpClient& client, std::string_view cookie) {
  std::string head = "GET / HTTP/1.1\r\nHost: test\r\n";
  if (!cookie.empty()) {
    head += fmt::format("Cookie: CORRAL={}\r\n", cookie);
  }
  if (!client.writeAll(head + "\r\n")) {
    return {};
  }
  const std::string reply = client.readAll(40s);
  const size_t body = reply.find("\r\n\r\n");
  if (body == std::string::npos) {
    return {};
  }
  Served served{.server = reply.substr(body + 4)};
  const size_t set = reply.find("Set-Cookie: CORRAL=");
  if (set != std::string::npos && set < body) {
    const size_t start = set + std::string_view("Set-Cookie: CORRAL=").size();
    served.cookie = reply.substr(start, reply.find_first_of(";\r", start) - start);
  }
  return served;
}

// A client in its own thread: one request, then it closes.
std::future<Served> waiterWith(const std::string& web, std::string cookie) {
  return std::async(std::launch::async, [web, cookie] {
    TcpClient client(web);
    return requestOn(client, cookie);
  });
}

bool servedWithin(std::future<Served>& waiter, std::chrono::milliseconds limit) {
  return waiter.wait_for(limit) == std::future_status::ready;
}

// Two servers of one slot each, a queue that outlasts every wait below, and health checks whose
// answers the tests switch.
std::string twoServersOfOne(std::string_view balance) {
  return fmt::format(R"(
workers: 2
admin: {{listen: "127.0.0.1:0"}}
metrics: {{listen: "127.0.0.1:0"}}
frontends: [{{name: web, listen: "127.0.0.1:0", backend: app}}]
backends:
  - name: app
    {}
    server_max_connections: 1
    queue: {{max: 10, timeout: 30s}}
    health_check: {{type: http, path: /healthz, interval: 100ms, timeout: 2s, rise: 1, fall: 2}}
    servers: [{{address: "${{a}}", name: a}}, {{address: "${{b}}", name: b}}]
)", balance);
}

// Two HealthServers a and b of one slot each behind corral, both up once started().
class QueueWakeupTest : public testing::Test {
protected:
  bool started(std::string_view balance) {
    corral.emplace(twoServersOfOne(balance),
                   Substitutions{{"a", a.address()}, {"b", b.address()}});
    if (!corral->ready()) {
      return false;
    }
    admin = adminAddress(*corral);
    web = corral->listenAddress("web");
    return pollUntil([&] { return serverState(admin, "app", "a") == "up" &&
                                  serverState(admin, "app", "b") == "up"; }, 10s);
  }

  HealthServer a{"a"}, b{"b"};
  std::optional<CorralProcess> corral;
  std::string admin, web;
};

bool queueHolds(const CorralProcess& corral, double waiting) {
  return pollUntil([&] { return metric(corral, "corral_backend_queue_length",
                                       {{"backend", "app"}}) == waiting; }, 10s, 20ms);
}

// sticky_cookie: a client whose cookie names a full server waits for that server while the other
// one is idle, and is served there once the slot is free. When its server goes down while it
// waits, it is redispatched at once to the free one, with a fresh cookie.
TEST_F(QueueWakeupTest, AStickyClientWaitsForItsOwnServerAndMovesWhenItGoesDown) {
  ASSERT_TRUE(started("balance: sticky_cookie"));
  std::map<std::string, std::string> cookie_of;
  for (int i = 0; i < 10 && cookie_of.size() < 2; ++i) {
    TcpClient client(web);
    const Served served = requestOn(client, "");
    cookie_of[served.server] = served.cookie;
  }
  ASSERT_FALSE(cookie_of["a"].empty());
  ASSERT_FALSE(cookie_of["b"].empty());
  const int b_before = b.requests();

  auto holder = std::make_unique<TcpClient>(web);
  ASSERT_EQ(requestOn(*holder, cookie_of["a"]).server, "a");
  auto waiter = waiterWith(web, cookie_of["a"]);
  ASSERT_TRUE(queueHolds(*corral, 1)) << "the cookie holder did not wait";
  EXPECT_FALSE(servedWithin(waiter, 500ms)) << "served while its server was full";
  holder.reset(); // a's slot comes free
  ASSERT_TRUE(servedWithin(waiter, 10s));
  const Served own = waiter.get();
  EXPECT_EQ(own.server, "a");
  EXPECT_EQ(own.cookie, ""); // its cookie is still good
  EXPECT_EQ(b.requests(), b_before) << "b took a client whose cookie names a";

  holder = std::make_unique<TcpClient>(web);
  ASSERT_EQ(requestOn(*holder, cookie_of["a"]).server, "a");
  auto moved = waiterWith(web, cookie_of["a"]);
  ASSERT_TRUE(queueHolds(*corral, 1));
  a.setHealthStatus(503);
  ASSERT_TRUE(servedWithin(moved, 10s)) << "not redispatched while a was down and b free";
  const Served redispatched = moved.get();
  EXPECT_EQ(redispatched.server, "b");
  EXPECT_FALSE(redispatched.cookie.empty()) << "a redispatched client gets a fresh cookie";
  EXPECT_EQ(metric(*corral, "corral_sticky_total", {{"backend", "app"}, {"result", "redispatch"}}),
            1);
  EXPECT_EQ(metric(*corral, "corral_server_active_connections",
                   {{"backend", "app"}, {"server", "a"}}),
            1); // the holder's: no slot came free on a
}

// A queued client is placed as soon as a server can take it, not only when a session ends: here a
// holds its one slot throughout, and b becomes usable by a passing health check, then by `enable`.
TEST_F(QueueWakeupTest, WaitersAreServedWhenAServerBecomesUsable) {
  ASSERT_TRUE(started("balance: round_robin"));
  b.setHealthStatus(503);
  ASSERT_TRUE(pollUntil([&] { return serverState(admin, "app", "b") == "down"; }, 10s));
  TcpClient holder(web);
  ASSERT_EQ(requestOn(holder, "").server, "a");

  auto after_check = waiterWith(web, "");
  ASSERT_TRUE(queueHolds(*corral, 1));
  b.setHealthStatus(200);
  ASSERT_TRUE(servedWithin(after_check, 10s)) << "not placed when b came up";
  EXPECT_EQ(after_check.get().server, "b");

  ASSERT_EQ(
      httpRequest(admin, {.method = "POST", .path = "/api/v1/servers/app/b/disable"}, 10s).head.status,
      200);
  auto after_enable = waiterWith(web, "");
  ASSERT_TRUE(queueHolds(*corral, 1));
  ASSERT_EQ(
      httpRequest(admin, {.method = "POST", .path = "/api/v1/servers/app/b/enable"}, 10s).head.status,
      200);
  ASSERT_TRUE(servedWithin(after_enable, 10s)) << "not placed when b was enabled";
  EXPECT_EQ(after_enable.get().server, "b");

  EXPECT_EQ(a.requests(), 1); // the holder's, all along
  EXPECT_EQ(metric(*corral, "corral_backend_queue_rejections_total",
                   {{"backend", "app"}, {"reason", "timeout"}}), 0);
}

} // namespace
} // namespace corral::test

// The checker against real sockets on 127.0.0.1, on one event loop with the fake servers. Every
// wait turns the loop until an observable fact holds or a deadline passes; no test sleeps.
// Intervals are 50-100 ms so that the whole file runs in a few seconds.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <event2/event.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "corral/health/health_checker.h"

#include "tests/integration/health/fake_health_server.h"
#include "tests/support/event_loop.h"

namespace corral::health {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using State = HealthState::State;
using std::chrono::milliseconds;
using test::Loop;

// libevent reads CLOCK_MONOTONIC_COARSE unless a base asks for precise timers, and the control
// thread's base does not, so its timers fire up to one tick (4 ms at HZ=250) either side of the
// steady clock the tests measure with.
constexpr milliseconds kClockTick = 5ms;

struct Change {
  std::string server;
  State from;
  State to;
  std::string detail;
  Clock::time_point at;
};

struct Checked {
  std::string server;
  CheckResult result;
  Clock::time_point at{};
};

/// Everything the checker reported, in order.
struct Reports {
  std::vector<Checked> results;
  std::vector<Change> changes;

  HealthChecker makeChecker(event_base* base) {
    return HealthChecker(
        base,
        [this](const CheckTarget& target, State from, State to, const CheckResult& result) {
          changes.push_back({target.server, from, to, result.detail, Clock::now()});
        },
        [this](const CheckTarget& target, const CheckResult& result) {
          results.push_back({target.server, result, Clock::now()});
        });
  }
  size_t resultsFor(const std::string& server) const {
    return std::count_if(results.begin(), results.end(),
                         [&](const Checked& c) { return c.server == server; });
  }
};

config::HealthCheckConfig tcpCheck(milliseconds interval = 50ms) {
  return {.type = config::HealthCheckType::Tcp,
          .interval = interval,
          .timeout = 100ms,
          .rise = 2,
          .fall = 3};
}

config::HealthCheckConfig httpCheck() {
  return {.type = config::HealthCheckType::Http,
          .path = "/healthz",
          .expect_status_min = 200,
          .expect_status_max = 399,
          .interval = 100ms,
          .timeout = 200ms,
          .rise = 2,
          .fall = 3};
}

CheckTarget target(std::string server, const SocketAddress& address,
                   const config::HealthCheckConfig& check) {
  return {.backend = "app", .server = std::move(server), .address = address, .check = check};
}

milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

// DESIGN.md: a new server "becomes up after its first successful check", which comes at once,
// not one interval later: with a 60 s interval, up within the 5 s wait is the first check.
TEST(HealthCheckerTest, TcpCheckBringsAListeningServerUpOnItsFirstCheck) {
  Loop loop;
  ListeningSocket listening;
  Reports reports;
  HealthChecker checker = reports.makeChecker(loop.base());
  const auto start = Clock::now();
  checker.setTargets({target("s1", listening.address(), tcpCheck(60s))});
  EXPECT_EQ(checker.state("app", "s1"), State::Unknown);

  ASSERT_TRUE(loop.run([&] { return !reports.changes.empty(); }, 5s));
  fmt::print("tcp check: up {} ms after the target was added\n", since(start).count());
  EXPECT_EQ(reports.changes[0].from, State::Unknown);
  EXPECT_EQ(reports.changes[0].to, State::Up);
  ASSERT_EQ(reports.results.size(), 1u);
  EXPECT_EQ(reports.results[0].result.detail, "ok");
  EXPECT_TRUE(reports.results[0].result.ok());
  EXPECT_EQ(checker.state("app", "s1"), State::Up);
  EXPECT_EQ(checker.state("app", "other"), std::nullopt);
}

// Three refused connects in a row take a new server down, reported once.
TEST(HealthCheckerTest, TcpCheckToAClosedPortIsRefusedAndDownAfterFallChecks) {
  Loop loop;
  Reports reports;
  HealthChecker checker = reports.makeChecker(loop.base());
  checker.setTargets({target("s1", closedPort(), tcpCheck())});

  ASSERT_TRUE(loop.run([&] { return !reports.changes.empty(); }, 2s));
  ASSERT_EQ(reports.results.size(), 3u);
  for (const Checked& checked : reports.results) {
    EXPECT_FALSE(checked.result.ok());
    EXPECT_EQ(checked.result.outcome, CheckOutcome::Refused);
    EXPECT_EQ(checked.result.detail, "refused");
  }
  EXPECT_EQ(reports.changes[0].to, State::Down);
  EXPECT_EQ(reports.changes[0].detail, "refused");
  EXPECT_EQ(checker.state("app", "s1"), State::Down);

  loop.runFor(200ms); // more refused checks change nothing more
  EXPECT_EQ(reports.changes.size(), 1u);
}

// The scenario: a server that starts failing its HTTP check is taken out within
// fall x interval (+ timeout), and comes back after rise checks.
TEST(HealthCheckerTest, HttpCheckTakesA503ServerDownWithinFallIntervalsAndBackAfterRise) {
  Loop loop;
  FakeHealthServer server(loop.base());
  Reports reports;
  HealthChecker checker = reports.makeChecker(loop.base());
  const config::HealthCheckConfig check = httpCheck();
  checker.setTargets({target("s1", server.address(), check)});
  ASSERT_TRUE(loop.run([&] { return checker.state("app", "s1") == State::Up; }, 2s));

  // Counted in checks, not time (a loaded machine stretches time): `fall` failed checks take it
  // down, one more at most if a check was already on its way when the server changed.
  server.respondWith(503);
  const auto failing_since = Clock::now();
  size_t results_before = reports.results.size();
  ASSERT_TRUE(loop.run([&] { return checker.state("app", "s1") == State::Down; }, 10s));
  const milliseconds down_after = since(failing_since);
  EXPECT_GE(reports.results.size() - results_before, check.fall);
  EXPECT_LE(reports.results.size() - results_before, check.fall + 1);
  EXPECT_EQ(reports.changes.back().detail, "status 503");

  server.respondWith(200);
  const auto healthy_since = Clock::now();
  results_before = reports.results.size();
  ASSERT_TRUE(loop.run([&] { return checker.state("app", "s1") == State::Up; }, 10s));
  const milliseconds up_after = since(healthy_since);
  EXPECT_GE(reports.results.size() - results_before, check.rise);
  EXPECT_LE(reports.results.size() - results_before, check.rise + 1);
  fmt::print("http check (interval {} ms, fall {}, rise {}): down {} ms after the first 503 "
             "(bound {} ms), up {} ms after 200 again\n",
             check.interval.count(), check.fall, check.rise, down_after.count(),
             (check.fall * check.interval * 11 / 10 + check.timeout).count(), up_after.count());

  ASSERT_EQ(reports.changes.size(), 3u); // Unknown->Up, Up->Down, Down->Up: each once
  EXPECT_EQ(reports.changes[1].to, State::Down);
  EXPECT_EQ(reports.changes[2].from, State::Down);
}

TEST(HealthCheckerTest, HttpCheckSendsTheRequestDesignMdDescribes) {
  Loop loop;
  FakeHealthServer server(loop.base());
  Reports reports;
  HealthChecker checker = reports.makeChecker(loop.base());
  checker.setTargets({target("s1", server.address(), httpCheck())});
  ASSERT_TRUE(loop.run([&] { return !server.requests().empty(); }, 2s));
  EXPECT_EQ(server.requests()[0],
            fmt::format("GET /healthz HTTP/1.1\r\nHost: {}\r\n"
                        "User-Agent: corral-health\r\nConnection: close\r\n\r\n",
                        server.address().toString()));
}

// health_check.host replaces the address in the Host header, for servers that route by name.
TEST(HealthCheckerTest, HttpCheckSendsTheConfiguredHost) {
  Loop loop;
  FakeHealthServer server(loop.base());
  Reports reports;
  HealthChecker checker = reports.makeChecker(loop.base());
  config::HealthCheckConfig check = httpCheck();
  check.host = "app.internal";
  checker.setTargets({target("s1", server.address(), check)});
  ASSERT_TRUE(loop.run([&] { return !server.requests().empty(); }, 2s));
  EXPECT_EQ(server.requests()[0], "GET /healthz HTTP/1.1\r\nHost: app.internal\r\n"
                                  "User-Agent: corral-health\r\nConnection: close\r\n\r\n");
}

TEST(HealthCheckerTest, HttpCheckFailsAStatusOutsideExpectStatus) {
  Loop loop;
  FakeHealthServer server(loop.base());
  server.respondWith(404);
  Reports reports;
  HealthChecker checker = reports.makeChecker(loop.base());
  checker.setTargets({target("s1", server.address(), httpCheck())});
  ASSERT_TRUE(loop.run([&] { return !reports.results.empty(); }, 2s));
  EXPECT_FALSE(reports.results[0].result.ok());
  EXPECT_EQ(reports.results[0].result.outcome, CheckOutcome::BadStatus);
  EXPECT_EQ(reports.results[0].result.detail, "status 404");
}

// A server that accepts and never answers fails by timeout, and the check gives up on time.
TEST(HealthCheckerTest, HttpCheckTimesOutOnAServerThatNeverAnswers) {
  Loop loop;
  FakeHealthServer server(loop.base());
  server.stayQuiet();
  Reports reports;
  HealthChecker checker = reports.makeChecker(loop.base());
  const config::HealthCheckConfig check = httpCheck();
  checker.setTargets({target("s1", server.address(), check)});

  ASSERT_TRUE(loop.run([&] { return checker.state("app", "s1") == State::Down; }, 3s));
  ASSERT_EQ(reports.results.size(), check.fall);
  for (const Checked& checked : reports.results) {
    EXPECT_EQ(checked.result.outcome, CheckOutcome::Timeout);
    EXPECT_EQ(checked.result.detail, "timeout");
    EXPECT_GE(checked.result.latency, check.timeout - kClockTick);
    EXPECT_LT(checked.result.latency, check.timeout + 2s); // generous: a loaded machine is late
  }
  EXPECT_EQ(server.requests().size(), check.fall); // it connected and asked each time
}

TEST(HealthCheckerTest, HttpCheckFailsAResponseThatIsNotHttp) {
  Loop loop;
  FakeHealthServer server(loop.base());
  server.sendGarbage();
  Reports reports;
  HealthChecker checker = reports.makeChecker(loop.base());
  checker.setTargets({target("s1", server.address(), httpCheck())});
  ASSERT_TRUE(loop.run([&] { return !reports.results.empty(); }, 2s));
  EXPECT_EQ(reports.results[0].result.outcome, CheckOutcome::BadResponse);
  EXPECT_EQ(reports.results[0].result.detail, "bad response");
}

// Checks keep their pace: 20 checks at a 50 ms interval are never bunched and span at least 19
// intervals less their 10% jitter. Counted in checks rather than in a window of wall-clock time,
// so a loaded machine only makes them later. (Results are timed when a check ends, so a slow
// connect may shorten one gap: each gap need only be half an interval.)
TEST(HealthCheckerTest, ChecksRunEveryIntervalWithJitter) {
  Loop loop;
  ListeningSocket listening;
  Reports reports;
  HealthChecker checker = reports.makeChecker(loop.base());
  checker.setTargets({target("s1", listening.address(), tcpCheck(50ms))});
  ASSERT_TRUE(loop.run([&] { return reports.results.size() >= 20; }, 20s));
  const auto& results = reports.results;
  for (size_t i = 1; i < results.size(); ++i) {
    EXPECT_GE(results[i].at - results[i - 1].at, 25ms) << "checks " << i - 1 << " and " << i;
  }
  EXPECT_GE(results[19].at - results[0].at, 19 * 45ms - 25ms);
}

// A reload: s1 is unchanged and keeps its state; s2 is removed and reports nothing more; s3 is
// new and starts unknown; s4 moved to another address and starts over.
TEST(HealthCheckerTest, SetTargetsKeepsUnchangedServersAndReplacesTheRest) {
  Loop loop;
  ListeningSocket a, b, c;
  Reports reports;
  HealthChecker checker = reports.makeChecker(loop.base());
  checker.setTargets({target("s1", a.address(), tcpCheck()), target("s2", b.address(), tcpCheck()),
                      target("s4", a.address(), tcpCheck())});
  ASSERT_TRUE(loop.run([&] { return reports.changes.size() == 3; }, 2s));

  checker.setTargets({target("s1", a.address(), tcpCheck()), target("s3", c.address(), tcpCheck()),
                      target("s4", closedPort(), tcpCheck())});
  EXPECT_EQ(checker.state("app", "s1"), State::Up);
  EXPECT_EQ(checker.state("app", "s2"), std::nullopt);
  EXPECT_EQ(checker.state("app", "s3"), State::Unknown);
  EXPECT_EQ(checker.state("app", "s4"), State::Unknown);
  const size_t s2_results = reports.resultsFor("s2");

  ASSERT_TRUE(loop.run([&] { return checker.state("app", "s4") == State::Down; }, 2s));
  EXPECT_EQ(checker.state("app", "s3"), State::Up);
  EXPECT_EQ(reports.resultsFor("s2"), s2_results);
  EXPECT_GT(reports.resultsFor("s1"), 1u);
}

// The admin API's reload may replace the targets from a result callback; the checker copes.
TEST(HealthCheckerTest, ACallbackMayReplaceTheTargets) {
  Loop loop;
  ListeningSocket listening;
  int results = 0;
  std::optional<HealthChecker> checker;
  checker.emplace(loop.base(), nullptr, [&](const CheckTarget& target, const CheckResult&) {
    ++results;
    EXPECT_EQ(target.server, "s1"); // still readable after its monitor is gone
    checker->setTargets({});
  });
  checker->setTargets({target("s1", listening.address(), tcpCheck())});
  loop.runFor(300ms);
  EXPECT_EQ(results, 1);
}

TEST(HealthCheckerTest, ProbeUntilHealthyWaitsForRiseSuccessesInARow) {
  Loop loop;
  FakeHealthServer server(loop.base());
  Reports reports;
  HealthChecker checker = reports.makeChecker(loop.base());
  config::HealthCheckConfig check = httpCheck();
  check.interval = 50ms;
  check.rise = 3;
  std::optional<bool> healthy;
  const auto start = Clock::now();
  checker.probeUntilHealthy(server.address(), check, {}, 2s, [&](bool ok) { healthy = ok; });
  ASSERT_TRUE(loop.run([&] { return healthy.has_value(); }, 3s));
  fmt::print("probeUntilHealthy: healthy after {} ms (rise {}, interval {} ms)\n",
             since(start).count(), check.rise, check.interval.count());
  EXPECT_TRUE(*healthy);
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_GE(since(start), 2 * check.interval - kClockTick); // three checks, two intervals apart
  EXPECT_TRUE(reports.results.empty());                     // a probe is not a target
}

// A replacement that answers 503 twice, then 200 three times: the failures restart the count.
TEST(HealthCheckerTest, ProbeUntilHealthyRestartsTheCountAfterAFailure) {
  Loop loop;
  FakeHealthServer server(loop.base());
  server.respondWith(503);
  HealthChecker checker(loop.base(), nullptr, nullptr);
  config::HealthCheckConfig check = httpCheck();
  check.interval = 50ms;
  check.rise = 3;
  std::optional<bool> healthy;
  checker.probeUntilHealthy(server.address(), check, {}, 3s, [&](bool ok) { healthy = ok; });
  ASSERT_TRUE(loop.run([&] { return server.requests().size() == 2; }, 2s));
  server.respondWith(200);
  ASSERT_TRUE(loop.run([&] { return healthy.has_value(); }, 2s));
  EXPECT_TRUE(*healthy);
  EXPECT_EQ(server.requests().size(), 5u);
}

TEST(HealthCheckerTest, ProbeUntilHealthyWithoutACheckNeedsOneConnect) {
  Loop loop;
  ListeningSocket listening;
  HealthChecker checker(loop.base(), nullptr, nullptr);
  std::optional<bool> healthy;
  checker.probeUntilHealthy(listening.address(), std::nullopt, {}, 2s,
                            [&](bool ok) { healthy = ok; });
  ASSERT_TRUE(loop.run([&] { return healthy.has_value(); }, 3s));
  EXPECT_TRUE(*healthy);
}

TEST(HealthCheckerTest, ProbeUntilHealthyGivesUpAtTheDeadline) {
  Loop loop;
  HealthChecker checker(loop.base(), nullptr, nullptr);
  std::optional<bool> healthy;
  int calls = 0;
  const auto start = Clock::now();
  checker.probeUntilHealthy(closedPort(), std::nullopt, {}, 300ms, [&](bool ok) {
    healthy = ok;
    ++calls;
  });
  ASSERT_TRUE(loop.run([&] { return healthy.has_value(); }, 10s));
  const milliseconds gave_up_after = since(start);
  EXPECT_FALSE(*healthy);
  EXPECT_GE(gave_up_after, 300ms - kClockTick);
  EXPECT_LT(gave_up_after, 3s); // generous: it gives up rather than probing on
  loop.runFor(200ms);
  EXPECT_EQ(calls, 1);
}

// Destroying the checker mid-check (a shutdown) leaves no callback to fire on freed state.
TEST(HealthCheckerTest, DestroyingTheCheckerCancelsEveryCheckAndProbe) {
  Loop loop;
  FakeHealthServer server(loop.base());
  server.stayQuiet(); // checks stay in flight until their timeout
  int calls = 0;
  {
    HealthChecker checker(
        loop.base(), [&](const CheckTarget&, State, State, const CheckResult&) { ++calls; },
        [&](const CheckTarget&, const CheckResult&) { ++calls; });
    checker.setTargets({target("s1", server.address(), httpCheck())});
    checker.probeUntilHealthy(server.address(), httpCheck(), {}, 150ms, [&](bool) { ++calls; });
    ASSERT_TRUE(loop.run([&] { return server.requests().size() == 2; }, 2s));
  }
  loop.runFor(400ms); // past the check timeout and the probe deadline
  EXPECT_EQ(calls, 0);
}

} // namespace
} // namespace corral::health

// Hot reload under traffic: SIGHUP and `corral ctl reload` swap the configuration while clients
// keep connecting, open and close frontends by diff, and leave the running configuration alone
// when the new file has errors.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "control_harness.h"

#include "tests/support/corral_process.h"
#include "tests/support/fake_backend.h"
#include "tests/support/tcp_client.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

using nlohmann::json;

// ${weight} is s2's weight, ${s3} the line that lists s3 (or nothing), ${extra} a second frontend
// (or nothing): what one reload changes.
constexpr std::string_view kTemplate = R"(
workers: 2
admin: {listen: "127.0.0.1:0"}
metrics: {listen: "127.0.0.1:0"}
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app}
${extra}
backends:
  - name: app
    balance: round_robin
    servers:
      - {address: "${s1}", name: s1}
      - {address: "${s2}", name: s2, weight: ${weight}}
${s3}
)";

struct Variant {
  int s2_weight = 1;
  bool with_s3 = false;
  bool with_extra = false;
};

std::string configFor(const Variant& variant, const FakeBackend& s1, const FakeBackend& s2,
                      const FakeBackend& s3) {
  return render(
      kTemplate,
      {{"s1", s1.address()},
       {"s2", s2.address()},
       {"weight", std::to_string(variant.s2_weight)},
       {"s3",
        variant.with_s3 ? fmt::format(R"(      - {{address: "{}", name: s3}})", s3.address()) : ""},
       {"extra",
        variant.with_extra ? R"(  - {name: extra, listen: "127.0.0.1:0", backend: app})" : ""}});
}

// The admin API shows the configuration of `variant`: s2's weight and whether s3 exists.
bool shows(const json& status, const Variant& variant) {
  const json s2 = serverIn(status, "app", "s2");
  return s2.value("weight", 0) == variant.s2_weight &&
         !serverIn(status, "app", "s3").empty() == variant.with_s3;
}

// The bound address of frontend `name` per the admin API; "" when there is no such frontend.
std::string frontendListen(const json& status, std::string_view name) {
  for (const auto& frontend :
       status.is_object() ? status.value("frontends", json::array()) : json::array()) {
    if (frontend.value("name", "") == name) {
      return frontend.value("listen", "");
    }
  }
  return "";
}

// A client that opens one connection after another to a frontend of name-then-close servers and
// counts every connection that did not end with a server's name.
class ConnectionLoop {
public:
  ConnectionLoop(std::string address, std::set<std::string> names)
      : address_(std::move(address)), names_(std::move(names)), thread_([this] { run(); }) {}
  ~ConnectionLoop() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  int attempts() const { return attempts_.load(); }
  int failures() const { return failures_.load(); }
  // The first few failures, after stop().
  const std::vector<std::string>& failureSamples() const { return samples_; }

private:
  static constexpr int kMaxAttempts = 50000;
  static constexpr auto kMaxTime = 90s;

  void run() {
    const auto deadline = Clock::now() + kMaxTime;
    while (!stop_ && attempts_ < kMaxAttempts && Clock::now() < deadline) {
      TcpClient client(address_);
      const std::string reply = client.connected() ? client.readAll(5s) : "";
      if (!names_.contains(reply)) {
        ++failures_;
        if (samples_.size() < 5) {
          samples_.push_back(client.connected() ? fmt::format("reply \"{}\"", reply)
                                                : client.error());
        }
      }
      ++attempts_;
    }
  }

  std::string address_;
  std::set<std::string> names_;
  std::atomic<bool> stop_ = false;
  std::atomic<int> attempts_ = 0;
  std::atomic<int> failures_ = 0;
  std::vector<std::string> samples_;
  std::thread thread_;
};

// The goal of issue 5: 100 reloads in a row, each changing s2's weight and adding or removing s3,
// while a client connects without pause through the frontend that stays: not one connection lost.
TEST(HotReloadTest, HundredReloadsInARowLoseNoConnection) {
  FakeBackend s1("s1"), s2("s2"), s3("s3");
  CorralProcess corral(configFor({.s2_weight = 1, .with_s3 = true}, s1, s2, s3));
  ASSERT_TRUE(corral.ready());
  const std::string admin = adminAddress(corral);
  ConnectionLoop loop(corral.listenAddress("web"), {"s1", "s2", "s3"});
  ASSERT_TRUE(pollUntil([&] { return loop.attempts() > 0; }, 10s));
  constexpr int kReloads = 100;
  const auto start = Clock::now();
  for (int i = 1; i <= kReloads; ++i) {
    const Variant variant{.s2_weight = 1 + i % 2, .with_s3 = i % 2 == 0};
    rewriteConfig(corral, configFor(variant, s1, s2, s3));
    corral.sendSignal(SIGHUP);
    // Every 10 ms, not faster: each poll is an admin connection that evhttp closes before it
    // deletes its event, the descriptor churn behind suppressions.txt's race:epoll_ctl under TSan.
    ASSERT_TRUE(pollUntil([&] { return shows(adminStatus(admin), variant); }, 10s, 10ms))
        << "reload " << i << " did not take effect; stderr:\n"
        << corral.stderrText();
  }
  const auto reload_time = Clock::now() - start;
  const int attempts_during_reloads = loop.attempts();
  loop.stop();
  std::cout << fmt::format(
      "[ measured ] {} reloads in {} ms; {} connections, {} failed\n", kReloads,
      std::chrono::duration_cast<std::chrono::milliseconds>(reload_time).count(), loop.attempts(),
      loop.failures());
  EXPECT_EQ(loop.failures(), 0) << ::testing::PrintToString(loop.failureSamples());
  EXPECT_GT(attempts_during_reloads, kReloads); // traffic ran all along, not only before or after
  // The log line follows each reload on the control thread; spdlog may write it a moment later.
  pollUntil([&] { return countLogLines(corral, "reloaded ") >= kReloads; }, 5s);
  EXPECT_EQ(countLogLines(corral, "reloaded "), static_cast<size_t>(kReloads));
  EXPECT_EQ(
      scrapeMetric(metricsAddress(corral), "corral_config_reloads_total", {{"result", "success"}}),
      kReloads);
  EXPECT_GT(s3.acceptedConnections(), 0);
}

// A reload that adds a frontend binds it; the next one, without it, closes it. The frontend that
// stays keeps serving throughout.
TEST(HotReloadTest, AddedFrontendOpensAndRemovedFrontendCloses) {
  FakeBackend s1("s1"), s2("s2"), s3("s3");
  CorralProcess corral(configFor({}, s1, s2, s3));
  ASSERT_TRUE(corral.ready());
  const std::string admin = adminAddress(corral);
  ASSERT_EQ(frontendListen(adminStatus(admin), "extra"), "");

  rewriteConfig(corral, configFor({.with_extra = true}, s1, s2, s3));
  corral.sendSignal(SIGHUP);
  std::string extra;
  ASSERT_TRUE(pollUntil(
      [&] { return !(extra = frontendListen(adminStatus(admin), "extra")).empty(); }, 10s));
  EXPECT_NE(extra, corral.listenAddress("web"));
  const std::set<std::string> names = {"s1", "s2"};
  EXPECT_TRUE(names.contains(TcpClient(extra).readAll(5s))) << "added frontend at " << extra;

  rewriteConfig(corral, configFor({}, s1, s2, s3));
  corral.sendSignal(SIGHUP);
  ASSERT_TRUE(pollUntil([&] { return frontendListen(adminStatus(admin), "extra").empty(); }, 10s));
  // Workers close their listeners when they take the new snapshot, just after the API shows it.
  EXPECT_TRUE(pollUntil([&] { return TcpClient(extra).refused(); }, 5s))
      << "removed frontend still accepts on " << extra;
  EXPECT_TRUE(names.contains(TcpClient(corral.listenAddress("web")).readAll(5s)));
}

// The "FILE:LINE:COL: message" lines of `text`, as `corral check` prints each error.
std::vector<std::string> diagnosticLines(const std::string& text, const std::string& file) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find(file + ":");
    if (at != std::string::npos &&
        std::isdigit(static_cast<unsigned char>(line[at + file.size() + 1]))) {
      lines.push_back(line.substr(at));
    }
  }
  return lines;
}

// One-based "LINE:COL" of the first occurrence of `word` in `text`.
std::string positionOf(const std::string& text, std::string_view word) {
  const size_t at = text.find(word);
  const size_t line_start = text.rfind('\n', at) + 1; // npos + 1 == 0 on the first line
  const auto line = std::count(text.begin(), text.begin() + static_cast<long>(at), '\n') + 1;
  return fmt::format("{}:{}", line, at - line_start + 1);
}

constexpr std::string_view kOneServer = R"(
admin: {listen: "127.0.0.1:0"}
metrics: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    servers: [{address: "${address}", name: ${name}}]
)";
// Would move the backend to s2, but has a misspelt key and an unknown balance.
constexpr std::string_view kBroken = R"(
admin: {listen: "127.0.0.1:0"}
metrics: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    balance: round_robbin
    servers: [{address: "${s2}", name: s2, wieght: 2}]
)";

// corral runs with s1 as its only server; its file has just been replaced by kBroken, and
// `expected` holds the error lines that `corral check` prints for it.
class BrokenReloadTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(corral.ready());
    broken = render(kBroken, addressesOf({s2}));
    rewriteConfig(corral, broken);
    const CommandResult check = runCommand({corralBinary(), "check", "-c", file});
    ASSERT_EQ(check.exit_code, 1) << check.out << check.err;
    expected = diagnosticLines(check.out + check.err, file);
    ASSERT_EQ(expected.size(), 2u) << check.out << check.err;
  }

  std::optional<double> reloads(const std::string& result) const {
    return scrapeMetric(metrics, "corral_config_reloads_total", {{"result", result}});
  }

  FakeBackend s1{"s1"}, s2{"s2"};
  CorralProcess corral{kOneServer, {{"address", s1.address()}, {"name", "s1"}}};
  const std::string admin = adminAddress(corral), metrics = metricsAddress(corral);
  const std::string file = corral.configPath().string();
  std::string broken;
  std::vector<std::string> expected;
};

// SIGHUP with the broken file: nothing changes, each error is logged as FILE:LINE:COL the way
// `corral check` prints it, and the failure is counted.
TEST_F(BrokenReloadTest, SighupLeavesTheRunningConfigurationServing) {
  corral.sendSignal(SIGHUP);
  ASSERT_TRUE(pollUntil([&] { return countLogLines(corral, "reload failed") == 1; }, 10s))
      << corral.stderrText();
  const std::string log = corral.stderrText();
  for (const auto& line : expected) {
    EXPECT_NE(log.find(line), std::string::npos) << "not logged: " << line << "\nstderr:\n" << log;
  }
  EXPECT_NE(log.find(file + ":" + positionOf(broken, "wieght") + ":"), std::string::npos) << log;
  EXPECT_EQ(TcpClient(corral.listenAddress("web")).readAll(5s), "s1");
  EXPECT_FALSE(serverIn(adminStatus(admin), "app", "s1").empty());
  EXPECT_TRUE(serverIn(adminStatus(admin), "app", "s2").empty());
  EXPECT_EQ(reloads("failure"), 1);
  EXPECT_EQ(reloads("success"), 0);
}

// `corral ctl reload` with the broken file exits 1 and prints the errors; once the file is
// fixed, the same command applies it.
TEST_F(BrokenReloadTest, CtlReloadExitsOneAndPrintsTheErrors) {
  const CommandResult ctl = runCtl(admin, {"reload"});
  EXPECT_EQ(ctl.exit_code, 1) << ctl.out << ctl.err;
  for (const auto& line : expected) {
    EXPECT_NE(ctl.err.find(line), std::string::npos) << "not printed: " << line << "\n" << ctl.err;
  }
  EXPECT_EQ(TcpClient(corral.listenAddress("web")).readAll(5s), "s1");
  EXPECT_EQ(reloads("failure"), 1);

  rewriteConfig(corral, render(kOneServer, {{"address", s2.address()}, {"name", "s2"}}));
  const CommandResult fixed = runCtl(admin, {"reload"});
  EXPECT_EQ(fixed.exit_code, 0) << fixed.err;
  EXPECT_EQ(fixed.out, "reloaded\n");
  EXPECT_EQ(TcpClient(corral.listenAddress("web")).readAll(5s), "s2");
  EXPECT_EQ(reloads("success"), 1);
}

} // namespace
} // namespace corral::test

// balance: ip_hash with real HTTP clients on forty 127.0.0.x source addresses and four
// corral-demo-backend processes: each address keeps one server across connections, the addresses
// spread over every server, and when a server stops only its own clients move, once.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sticky_support.h"
#include "tests/support/corral_process.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

// The health check notices a stopped server after two failed checks 2 s (+-10%) apart, so for
// about 2 s only connect failures (retried elsewhere) say it is gone; passive ejection is set
// out of reach so that it does not end that window early.
constexpr std::string_view kIpHashConfig = R"(
workers: 2
admin: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    balance: ip_hash
    health_check: {type: http, path: /healthz, interval: 2s, timeout: 1s, rise: 1, fall: 2}
    passive: {consecutive_failures: 1000}
    servers: [{address: "${s0}", name: s0}, {address: "${s1}", name: s1},
              {address: "${s2}", name: s2}, {address: "${s3}", name: s3}]
)";
constexpr int kClients = 40, kConnections = 3;

// {server: state} of backend app, from the admin API; empty if it does not answer.
std::map<std::string, std::string> serverStates(const std::string& admin) {
  const auto response = httpGet(admin, {.path = "/api/v1/status"});
  const auto status = nlohmann::json::parse(response.body, nullptr, false);
  std::map<std::string, std::string> states;
  if (!status.is_object() || !status.contains("backends")) {
    return states;
  }
  for (const auto& backend : status["backends"]) {
    for (const auto& server : backend.value("servers", nlohmann::json::array())) {
      states[server.value("name", "")] = server.value("state", "");
    }
  }
  return states;
}

// Who served each client address, connection by connection.
using Served = std::map<std::string, std::vector<std::string>>;

class IpHashTest : public ::testing::Test {
protected:
  void SetUp() override {
    for (const DemoBackend* backend : {&s0_, &s1_, &s2_, &s3_}) {
      ASSERT_TRUE(backend->ready());
    }
    corral_ = std::make_unique<CorralProcess>(kIpHashConfig, addressesOf({&s0_, &s1_, &s2_, &s3_}));
    ASSERT_TRUE(corral_->ready());
    admin_ = corral_->readyValue("admin");
    const std::map<std::string, std::string> all_up{
        {"s0", "up"}, {"s1", "up"}, {"s2", "up"}, {"s3", "up"}};
    ASSERT_TRUE(pollUntil([&] { return serverStates(admin_) == all_up; }, 10s, 50ms))
        << fmt::format("{}", serverStates(admin_));
    for (int i = 0; i < kClients; ++i) {
      addresses_.push_back(fmt::format("127.0.0.{}", i + 2));
    }
  }

  // Each address makes kConnections requests, one connection each.
  void requestFromEach() {
    for (const auto& address : addresses_) {
      for (int i = 0; i < kConnections; ++i) {
        const auto response = httpGet(corral_->listenAddress("web"), {.source = address});
        ASSERT_TRUE(response.ok()) << address << ": " << response.error;
        served_[address].push_back(servedBy(response));
      }
    }
  }

  // The one server that served `address` in round `round` (kConnections requests each), or
  // "several: [...]".
  std::string serverInRound(const std::string& address, int round) {
    const auto& all = served_[address];
    const std::set<std::string> servers(all.begin() + round * kConnections,
                                        all.begin() + (round + 1) * kConnections);
    return servers.size() == 1 ? *servers.begin() : fmt::format("several: {}", all);
  }

  // Stops the server of the first client; returns its name.
  std::string stopFirstClientsServer() {
    const std::string stopped = serverInRound(addresses_[0], 0);
    for (DemoBackend* backend : {&s0_, &s1_, &s2_, &s3_}) {
      if (backend->name() == stopped) {
        EXPECT_TRUE(backend->stop());
      }
    }
    return stopped;
  }

  bool waitUntilDown(const std::string& server) {
    return pollUntil([&] { return serverStates(admin_)[server] == "down"; }, 10s, 50ms);
  }

  DemoBackend s0_{"s0"}, s1_{"s1"}, s2_{"s2"}, s3_{"s3"};
  std::unique_ptr<CorralProcess> corral_;
  std::string admin_;
  std::vector<std::string> addresses_;
  Served served_;
};

// Forty addresses, three connections each: every address stays on one server, the addresses cover
// all four servers, and the access log names each address and ip_hash.
TEST_F(IpHashTest, FortyClientAddressesSpreadOverAllServersAndEachStaysOnOne) {
  requestFromEach();
  std::map<std::string, std::string> placement;
  for (const auto& address : addresses_) {
    placement[address] = serverInRound(address, 0);
    EXPECT_FALSE(placement[address].starts_with("several")) << address << " " << placement[address];
  }
  const auto per_server = clientsPerServer(placement);
  EXPECT_EQ(per_server.size(), 4u) << fmt::format("{}", per_server);
  const auto log = corral_->waitForAccessLog(kClients * kConnections, 10s);
  ASSERT_EQ(log.size(), size_t{kClients * kConnections});
  std::set<std::string> logged_clients;
  for (const auto& line : log) {
    EXPECT_EQ(line.value("chosen_by", ""), "ip_hash") << line;
    const std::string client = line.value("client", "");
    logged_clients.insert(client.substr(0, client.rfind(':')));
  }
  EXPECT_EQ(logged_clients, std::set<std::string>(addresses_.begin(), addresses_.end()));
  std::printf("[ stats ] clients per server: %s\n", fmt::format("{}", per_server).c_str());
}

// Once the health check has marked a stopped server down, its clients are on other servers
// (spread over more than one: the lookup does not pile them onto a neighbour), each on one, and
// every other client is where it was.
TEST_F(IpHashTest, OnceAStoppedServerIsDownOnlyItsClientsHaveMoved) {
  requestFromEach();
  const std::string stopped = stopFirstClientsServer();
  ASSERT_TRUE(waitUntilDown(stopped));
  requestFromEach();
  std::set<std::string> moved_to;
  for (const auto& address : addresses_) {
    const std::string before = serverInRound(address, 0), after = serverInRound(address, 1);
    EXPECT_FALSE(after.starts_with("several")) << address << " " << after;
    if (before == stopped) {
      EXPECT_NE(after, stopped) << address;
      moved_to.insert(after);
    } else {
      EXPECT_EQ(after, before) << address << " moved although its server is up";
    }
  }
  EXPECT_GE(moved_to.size(), 2u) << fmt::format("{}", moved_to);
}

// A stopped server's clients first move while it still counts as up (their connects are refused
// and retried on another server), then the health check marks it down. A client that moved must
// stay on its new server through that: a second move would lose its session a second time.
TEST_F(IpHashTest, ClientsOfAStoppedServerStayOnTheirNewServerWhenItIsMarkedDown) {
  requestFromEach();
  const std::string stopped = stopFirstClientsServer();
  requestFromEach();
  ASSERT_EQ(serverStates(admin_)[stopped], "up") << "the health check noticed before the round ended";
  ASSERT_TRUE(waitUntilDown(stopped));
  requestFromEach();
  int moved = 0, moved_again = 0;
  for (const auto& address : addresses_) {
    if (serverInRound(address, 0) != stopped) {
      EXPECT_EQ(serverInRound(address, 2), serverInRound(address, 0)) << address;
      continue;
    }
    ++moved;
    const std::string retried = serverInRound(address, 1), marked_down = serverInRound(address, 2);
    EXPECT_NE(retried, stopped) << address;
    EXPECT_EQ(marked_down, retried) << address << " moved again once " << stopped << " was down";
    moved_again += marked_down != retried ? 1 : 0;
  }
  std::printf("[ stats ] %d clients moved off %s; %d of them moved again once it was down\n",
              moved, stopped.c_str(), moved_again);
}

} // namespace
} // namespace corral::test

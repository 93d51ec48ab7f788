// balance: sticky_cookie with a scripted client (http_client.h) that holds its cookie like a
// browser: forged values, two corral nodes sharing a key, and a server that stops.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sticky_support.h"
#include "tests/support/corral_process.h"

namespace corral::test {
namespace {

struct CookieParts {
  std::string server_id, expiry, mac; // "SERVER.EXPIRY.MAC", each part as sent
};

CookieParts split(const std::string& value) {
  const size_t first = value.find('.'), second = value.find('.', first + 1);
  return {value.substr(0, first), value.substr(first + 1, second - first - 1),
          value.substr(second + 1)};
}

std::string join(const CookieParts& parts) {
  return fmt::format("{}.{}.{}", parts.server_id, parts.expiry, parts.mac);
}

// A different character of the base64url alphabet at `position`.
std::string flipCharacter(std::string text, size_t position) {
  text[position] = text[position] == 'A' ? 'B' : 'A';
  return text;
}

// The access log is flushed in batches: wait once for every expected connection, then check how
// each one's server was chosen.
using ExpectedChoices = std::vector<std::pair<std::string, std::string>>; // client, chosen_by

void expectChosenBy(const CorralProcess& corral, const ExpectedChoices& expected) {
  for (const auto& [client, chosen_by] : expected) {
    const auto line = waitForLogLine(corral, client);
    EXPECT_EQ(line.is_null() ? "no log line" : line.value("chosen_by", ""), chosen_by)
        << "client " << client << ": " << line;
  }
}

class StickyScriptedTest : public ::testing::Test {
protected:
  void SetUp() override {
    for (const auto* backend : backends()) {
      ASSERT_TRUE(backend->ready());
    }
  }
  std::vector<const DemoBackend*> backends() const { return {&s0_, &s1_, &s2_, &s3_}; }
  std::unique_ptr<CorralProcess> startCorral(int workers, const std::string& secret) {
    auto substitutions = addressesOf(backends());
    substitutions["workers"] = std::to_string(workers);
    substitutions["secret"] = secret;
    return std::make_unique<CorralProcess>(kStickyConfig, substitutions);
  }
  // Clients that each made one request, so each holds a cookie; round robin spreads them.
  std::vector<StickyClient> clientsWithCookies(const CorralProcess& corral, int count) {
    std::vector<StickyClient> clients(count);
    for (auto& client : clients) {
      const auto response = client.get(corral.listenAddress("web"));
      EXPECT_TRUE(response.ok()) << response.error;
      EXPECT_FALSE(client.cookie().empty()) << response.raw;
    }
    return clients;
  }

  TempDir dir_;
  const std::string secret_ = writeSecretFile(dir_.path() / "cookie.key");
  DemoBackend s0_{"s0"}, s1_{"s1"}, s2_{"s2"}, s3_{"s3"};
};

// Values that corral did not sign as they are (another server's id on this MAC, a flipped MAC or
// expiry character, a truncated value, a value signed with another key, garbage) are treated as
// no cookie: the request is placed round robin, not by the value, and gets a fresh Set-Cookie
// that is then honoured. With one worker, round robin sends eight requests whose forged value
// names one server to all four servers.
TEST_F(StickyScriptedTest, ForgedAndGarbageCookiesArePlacedAnewAndGetAFreshCookie) {
  auto corral = startCorral(1, secret_);
  auto other_node = startCorral(1, writeSecretFile(dir_.path() / "other.key"));
  ASSERT_TRUE(corral->ready() && other_node->ready());
  auto clients = clientsWithCookies(*corral, 2); // round robin: on two different servers
  ASSERT_NE(clients[0].servers()[0], clients[1].servers()[0]);
  const CookieParts genuine = split(clients[0].cookie());
  const CookieParts other = split(clients[1].cookie());
  const std::string target = clients[1].servers()[0]; // whom the spliced value names
  StickyClient signed_elsewhere;
  signed_elsewhere.get(other_node->listenAddress("web"));
  const std::vector<std::string> forged{
      join({other.server_id, genuine.expiry, genuine.mac}),
      join({genuine.server_id, genuine.expiry, flipCharacter(genuine.mac, 3)}),
      join({genuine.server_id, std::to_string(std::stoll(genuine.expiry) + 86400), genuine.mac}),
      clients[0].cookie().substr(0, clients[0].cookie().size() - 4),
      signed_elsewhere.cookie(),
      "garbage",
      "..",
      std::string(3000, 'A')};
  std::set<std::string> spliced_servers;
  ExpectedChoices choices;
  for (size_t i = 0; i < forged.size(); ++i) {
    SCOPED_TRACE(fmt::format("forged value {}: {:.60}", i, forged[i]));
    StickyClient client;
    client.setCookie(forged[i]);
    const auto response = client.get(corral->listenAddress("web"));
    ASSERT_TRUE(response.ok()) << response.error;
    const auto fresh = response.cookieSet("CORRAL");
    ASSERT_TRUE(fresh.has_value()) << response.raw;
    EXPECT_NE(*fresh, forged[i]);
    const auto again = client.get(corral->listenAddress("web")); // now with the fresh cookie
    EXPECT_EQ(servedBy(again), servedBy(response));
    EXPECT_FALSE(again.cookieSet("CORRAL").has_value());
    choices.emplace_back(response.client, "round_robin");
    choices.emplace_back(again.client, "cookie");
  }
  for (int i = 0; i < 8; ++i) {
    StickyClient client;
    client.setCookie(forged[0]);
    spliced_servers.insert(servedBy(client.get(corral->listenAddress("web"))));
  }
  EXPECT_EQ(spliced_servers.size(), 4u) << "a value naming " << target << " steered the client";
  expectChosenBy(*corral, choices);
}

// Two corral nodes with the same secret_file and servers, sharing no state: a cookie issued by
// either is honoured by the other, with no new Set-Cookie.
TEST_F(StickyScriptedTest, CookieIssuedByOneNodeIsHonouredByAnotherWithTheSameKey) {
  auto node_a = startCorral(2, secret_);
  auto node_b = startCorral(2, secret_);
  ASSERT_TRUE(node_a->ready() && node_b->ready());
  for (const auto& [issuer, verifier] : {std::pair{node_a.get(), node_b.get()},
                                         std::pair{node_b.get(), node_a.get()}}) {
    auto clients = clientsWithCookies(*issuer, 8);
    std::set<std::string> servers;
    ExpectedChoices choices;
    for (size_t i = 0; i < clients.size(); ++i) {
      SCOPED_TRACE(fmt::format("client {}", i));
      const auto response = clients[i].get(verifier->listenAddress("web"));
      ASSERT_TRUE(response.ok()) << response.error;
      EXPECT_EQ(servedBy(response), clients[i].servers()[0]);
      EXPECT_FALSE(response.cookieSet("CORRAL").has_value()) << response.raw;
      choices.emplace_back(response.client, "cookie");
      servers.insert(servedBy(response));
    }
    EXPECT_EQ(servers.size(), 4u);
    expectChosenBy(*verifier, choices);
  }
}

// A server stops (SIGTERM to its process, no health check configured): each of its clients is
// redispatched on its next request (access log: redispatch) and given a new cookie, then stays
// on its new server; every other client stays where it was, with no new cookie.
TEST_F(StickyScriptedTest, ClientsOfAStoppedServerMoveOnceAndStayTheOthersDoNotMove) {
  constexpr int kClients = 20, kBefore = 3, kAfter = 5;
  auto corral = startCorral(2, secret_);
  ASSERT_TRUE(corral->ready());
  auto clients = clientsWithCookies(*corral, kClients);
  for (auto& client : clients) {
    for (int i = 1; i < kBefore; ++i) {
      ASSERT_TRUE(client.get(corral->listenAddress("web")).ok());
    }
    ASSERT_EQ(std::set(client.servers().begin(), client.servers().end()).size(), 1u);
  }
  const std::string stopped = clients[0].servers()[0];
  DemoBackend* const all[] = {&s0_, &s1_, &s2_, &s3_};
  for (DemoBackend* backend : all) {
    if (backend->name() == stopped) {
      ASSERT_TRUE(backend->stop());
    }
  }
  int moved = 0;
  ExpectedChoices choices;
  for (size_t c = 0; c < clients.size(); ++c) {
    SCOPED_TRACE(fmt::format("client {} (on {})", c, clients[c].servers()[0]));
    const std::string before = clients[c].servers()[0];
    const bool must_move = before == stopped;
    for (int i = 0; i < kAfter; ++i) {
      const auto response = clients[c].get(corral->listenAddress("web"));
      ASSERT_TRUE(response.ok()) << response.error;
      const bool first_after_stop = i == 0 && must_move;
      EXPECT_EQ(response.cookieSet("CORRAL").has_value(), first_after_stop) << response.raw;
      choices.emplace_back(response.client, first_after_stop ? "redispatch" : "cookie");
    }
    const std::vector<std::string> after(clients[c].servers().begin() + kBefore,
                                         clients[c].servers().end());
    EXPECT_EQ(std::set(after.begin(), after.end()).size(), 1u) << fmt::format("{}", after);
    if (must_move) {
      EXPECT_NE(after[0], stopped);
      ++moved;
    } else {
      EXPECT_EQ(after[0], before);
    }
  }
  // Round robin on each of the two workers gives every server at least floor(n / 4) of the n
  // clients that worker placed: at least 4 of 20 in all.
  EXPECT_GE(moved, 4);
  expectChosenBy(*corral, choices);
}

} // namespace
} // namespace corral::test

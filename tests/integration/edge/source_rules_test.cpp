// Source rules at accept (issue 15): allow/deny, per-client connection and rate limits, trusted
// PROXY senders, and a per-client table that a flood of addresses cannot grow. Clients connect
// from distinct 127.0.0.x addresses; rejected ones never reach a server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "tests/integration/edge/edge_support.h"
#include "tests/support/fake_backend.h"

namespace corral::test {
namespace {


// True when the peer closes within the socket's receive timeout without sending anything.
bool closedByPeer(int fd) {
  char byte;
  return ::recv(fd, &byte, 1, 0) == 0;
}

std::multiset<std::string> terminations(const std::vector<nlohmann::json>& log) {
  std::multiset<std::string> seen;
  for (const auto& line : log) {
    seen.insert(line.value("termination", ""));
  }
  return seen;
}

double rejectedFor(const CorralProcess& corral, const std::string& reason) {
  return scrape(corral, "corral_frontend_rejected_connections_total",
                {{"frontend", "web"}, {"reason", reason}});
}

TEST(SourceRulesTest, DenyWinsAndAllowAdmitsOnlyItsRanges) {
  FakeBackend s1("s1");
  CorralProcess corral(R"(
workers: 2
metrics: {listen: "127.0.0.1:0"}
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app, allow: [127.0.0.0/24, "::1"],
     deny: [127.0.0.3/32]}
backends: [{name: app, servers: [{address: "${s1}"}]}]
)", {{"s1", s1.address()}});
  ASSERT_TRUE(corral.ready());
  const std::string web = corral.listenAddress("web");
  EXPECT_EQ(exchangeFrom("127.0.0.2", web, ""), "s1");
  EXPECT_EQ(exchangeFrom("127.0.0.3", web, ""), "");   // denied, though allowed
  EXPECT_EQ(exchangeFrom("127.0.1.5", web, ""), "");   // not in allow
  EXPECT_EQ(exchangeFrom("127.0.0.200", web, ""), "s1");
  const auto log = corral.waitForAccessLog(4, 5s);
  EXPECT_EQ(terminations(log).count("denied"), 2u);
  EXPECT_EQ(rejectedFor(corral, "denied"), 2);
  EXPECT_EQ(s1.acceptedConnections(), 2);
}

// Four workers: the kernel spreads one client's connections over them, and the limit still holds
// for the process.
TEST(SourceRulesTest, MaxConnectionsPerClientHoldsAcrossWorkers) {
  FakeBackend s1("s1", {.mode = BackendMode::Silent});
  CorralProcess corral(R"(
workers: 4
metrics: {listen: "127.0.0.1:0"}
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app, max_connections_per_client: 3}
backends: [{name: app, servers: [{address: "${s1}"}]}]
)", {{"s1", s1.address()}});
  ASSERT_TRUE(corral.ready());
  const std::string web = corral.listenAddress("web");
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(connectFrom("127.0.0.4", web));
  }
  // Workers accept in their own order: the three must be counted before the next ones arrive.
  for (int attempt = 0; attempt < 500 && s1.acceptedConnections() < 3; ++attempt) {
    usleep(10'000);
  }
  ASSERT_EQ(s1.acceptedConnections(), 3);
  std::vector<int> refused;
  for (int i = 0; i < 4; ++i) {
    refused.push_back(connectFrom("127.0.0.4", web, 10s));
    EXPECT_TRUE(closedByPeer(refused.back())) << i;
  }
  const int other = connectFrom("127.0.0.5", web);
  for (int attempt = 0; attempt < 500 && s1.acceptedConnections() < 4; ++attempt) {
    usleep(10'000); // bounded wait for the server's view of four connections
  }
  EXPECT_EQ(s1.acceptedConnections(), 4); // three from .4, one from .5
  ::close(held.back()); // one slot of .4 frees up
  held.pop_back();
  corral.waitForAccessLog(5, 10s); // four refused, then the one closed: its slot is free
  held.push_back(connectFrom("127.0.0.4", web));
  for (int attempt = 0; attempt < 500 && s1.acceptedConnections() < 5; ++attempt) {
    usleep(10'000);
  }
  EXPECT_EQ(s1.acceptedConnections(), 5);
  EXPECT_EQ(rejectedFor(corral, "client_limit"), 4);
  for (int fd : held) {
    ::close(fd);
  }
  for (int fd : refused) {
    ::close(fd);
  }
  ::close(other);
}

// The bucket holds connection_rate_per_client tokens and gains as many per second: of a burst,
// exactly that many pass, plus one per 1/rate s that the burst took (counted, not guessed).
TEST(SourceRulesTest, ARateBurstAdmitsExactlyTheBucket) {
  FakeBackend s1("s1");
  CorralProcess corral(R"(
workers: 2
metrics: {listen: "127.0.0.1:0"}
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app, connection_rate_per_client: 5}
backends: [{name: app, servers: [{address: "${s1}"}]}]
)", {{"s1", s1.address()}});
  ASSERT_TRUE(corral.ready());
  const std::string web = corral.listenAddress("web");
  constexpr int kBurst = 15;
  const auto start = std::chrono::steady_clock::now();
  std::vector<int> fds;
  for (int i = 0; i < kBurst; ++i) {
    fds.push_back(connectFrom("127.0.0.6", web));
  }
  int admitted = 0;
  for (int fd : fds) {
    char name[8];
    admitted += ::recv(fd, name, sizeof(name), 0) > 0;
    ::close(fd);
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(admitted, 5);
  EXPECT_LE(admitted, 5 + static_cast<int>(took * 5)) << "the burst took " << took << " s";
  EXPECT_EQ(rejectedFor(corral, "client_rate"), kBurst - admitted);
  EXPECT_EQ(exchangeFrom("127.0.0.7", web, ""), "s1"); // another client has its own bucket
}

// The PROXY header's address is the client's only when a trusted sender wrote it; then the ACL
// and ip_hash see that address, not the sender's.
TEST(SourceRulesTest, OnlyTrustedSendersSpeakForClients) {
  FakeBackend s1("s1");
  FakeBackend s2("s2");
  FakeBackend s3("s3");
  CorralProcess corral(R"(
workers: 2
metrics: {listen: "127.0.0.1:0"}
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app, accept_proxy_protocol: true,
     trusted_proxies: [127.0.0.10/32], allow: [192.0.2.0/24]}
backends:
  - name: app
    balance: ip_hash
    servers: [{address: "${s1}"}, {address: "${s2}"}, {address: "${s3}"}]
)", {{"s1", s1.address()}, {"s2", s2.address()}, {"s3", s3.address()}});
  ASSERT_TRUE(corral.ready());
  const std::string web = corral.listenAddress("web");
  const auto header = [](int host) {
    return fmt::format("PROXY TCP4 192.0.2.{} 198.51.100.1 4000 80\r\n", host);
  };
  EXPECT_EQ(exchangeFrom("127.0.0.11", web, header(1)), ""); // not a trusted sender
  EXPECT_EQ(exchangeFrom("127.0.0.10", web, "PROXY TCP4 203.0.113.9 198.51.100.1 4000 80\r\n"),
            ""); // trusted, but the client it names is not allowed
  std::set<std::string> servers;
  for (int host = 1; host <= 24; ++host) {
    const std::string first = exchangeFrom("127.0.0.10", web, header(host));
    EXPECT_EQ(exchangeFrom("127.0.0.10", web, header(host)), first) << host; // same client, same server
    servers.insert(first);
  }
  EXPECT_EQ(servers, (std::set<std::string>{"s1", "s2", "s3"})); // spread by the header's address
  const auto log = corral.waitForAccessLog(50, 10s); // two workers: not in order
  ASSERT_EQ(log.size(), 50u);
  EXPECT_EQ(terminations(log).count("bad_proxy_header"), 1u);
  EXPECT_EQ(terminations(log).count("denied"), 1u);
  const auto first = std::find_if(log.begin(), log.end(), [](const nlohmann::json& line) {
    return line.value("client", "").starts_with("192.0.2.1:");
  });
  ASSERT_NE(first, log.end());
  EXPECT_EQ(first->value("chosen_by", ""), "ip_hash") << *first;
  EXPECT_EQ(rejectedFor(corral, "untrusted_proxy"), 1);
  EXPECT_EQ(rejectedFor(corral, "denied"), 1);
}

// One connection per PROXY header from a new address; each ends at once (its server refuses),
// `inflight` at a time.
void floodAddresses(const std::string& web, uint32_t count, size_t inflight) {
  std::vector<pollfd> open;
  uint32_t next = 0;
  for (uint64_t round = 0; (next < count || !open.empty()) && round < 10'000'000; ++round) {
    while (next < count && open.size() < inflight) {
      const int fd = connectFrom("127.0.0.20", web, 10s);
      ASSERT_GE(fd, 0);
      const std::string header = fmt::format("PROXY TCP4 10.{}.{}.{} 198.51.100.1 4000 80\r\n",
                                             next >> 16, (next >> 8) & 255, next & 255);
      ASSERT_EQ(::send(fd, header.data(), header.size(), MSG_NOSIGNAL), ssize_t(header.size()));
      open.push_back({.fd = fd, .events = POLLIN, .revents = 0});
      ++next;
    }
    ASSERT_GT(::poll(open.data(), open.size(), 10'000), 0) << "corral stopped answering";
    std::erase_if(open, [](const pollfd& p) {
      if (p.revents == 0) {
        return false;
      }
      ::close(p.fd);
      return true;
    });
  }
}

TEST(SourceRulesTest, AFloodOfAddressesStaysWithinTheTable) {
  CorralProcess corral(R"(
workers: 2
access_log: off
metrics: {listen: "127.0.0.1:0"}
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app, accept_proxy_protocol: true,
     trusted_proxies: [127.0.0.20], connection_rate_per_client: 2}
backends:
  - {name: app, retries: 0, servers: [{address: "127.0.0.1:1"}]}
)");
  ASSERT_TRUE(corral.ready());
  const std::string web = corral.listenAddress("web");
  floodAddresses(web, 2000, 64); // warm the pools and the allocator
  const auto before = corral.residentBytes();
  floodAddresses(web, 100'000, 64);
  const auto after = corral.residentBytes();
  ASSERT_TRUE(before && after);
#if !defined(__SANITIZE_ADDRESS__) // ASan's quarantine keeps freed memory resident
  // The table (65536 entries, 3.25 MiB) was allocated whole at startup; 100,000 addresses of
  // 48 bytes in a growing map would add about 5 MiB.
  EXPECT_LT(static_cast<int64_t>(*after) - static_cast<int64_t>(*before), 2 << 20)
      << *before << " -> " << *after;
#endif
  // Every address got its own bucket: the flood was refused by the server, never by the rate.
  EXPECT_EQ(rejectedFor(corral, "client_rate"), 0);
  EXPECT_EQ(scrape(corral, "corral_frontend_connections_total", {{"frontend", "web"}}), 102'000);
}

} // namespace
} // namespace corral::test

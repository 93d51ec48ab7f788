// balance: sticky_cookie with curl: one curl process per client, each with its own cookie jar,
// against four corral-demo-backend processes through corral. Each reply names the server that
// answered it ("s2 pid 41 request 7"), and each connection has an access log line saying how its
// server was chosen.
#include <strings.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "sticky_support.h"

#include "tests/support/corral_process.h"
#include "tests/support/files.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> result;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    result.push_back(line);
  }
  return result;
}

// The server named at the start of each demo backend reply line, in order.
std::vector<std::string> serversInBodies(const std::string& bodies) {
  std::vector<std::string> servers;
  for (const auto& line : lines(bodies)) {
    servers.push_back(line.substr(0, line.find(' ')));
  }
  return servers;
}

// The values of every Set-Cookie line of a `curl -D` header dump.
std::vector<std::string> setCookieLines(const std::string& dump) {
  std::vector<std::string> found;
  for (const auto& line : lines(dump)) {
    if (line.size() > 11 && ::strncasecmp(line.c_str(), "set-cookie:", 11) == 0) {
      found.push_back(line.substr(line.find_first_not_of(' ', 11)));
    }
  }
  return found;
}

// "CORRAL=v; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax" -> {"HttpOnly", "Max-Age=3600", ...}.
std::set<std::string> cookieAttributes(const std::string& set_cookie) {
  std::set<std::string> attributes;
  size_t start = set_cookie.find("; ");
  while (start != std::string::npos) {
    const size_t end = set_cookie.find("; ", start + 2);
    attributes.insert(set_cookie.substr(start + 2, end - start - 2));
    start = end;
  }
  return attributes;
}

const std::set<std::string> kExpectedAttributes{"Path=/", "Max-Age=3600", "HttpOnly",
                                                "SameSite=Lax"};

// One curl process per client, all at once, each with its own cookie jar in `dir`.
struct CurlRun {
  std::filesystem::path dir;
  std::vector<std::unique_ptr<ChildProcess>> processes;

  std::filesystem::path file(int client, std::string_view what) const {
    return dir / fmt::format("client{}.{}", client, what);
  }
  void start(int client, const std::vector<std::string>& extra_args, std::string_view label) {
    std::vector<std::string> args{"/usr/bin/curl", "-sS", "--max-time", "60",
                                  "-b", file(client, "jar").string(),
                                  "-c", file(client, "jar").string(),
                                  "-D", file(client, fmt::format("{}.headers", label)).string()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    processes.push_back(std::make_unique<ChildProcess>(
        args, ChildOptions{.stdout_path = file(client, fmt::format("{}.body", label)),
                           .stderr_path = file(client, fmt::format("{}.err", label))}));
  }
  // Exit codes in start order (-1: still running at the deadline).
  std::vector<int> waitAll(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::vector<int> codes;
    for (auto& process : processes) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      const auto status = process->waitExit(std::max(left, 0ms));
      codes.push_back(status ? status->code : -1); // code is -1 after a signal
    }
    processes.clear();
    return codes;
  }
};

std::vector<std::string> urls(const std::string& address, int client, int count) {
  std::vector<std::string> result;
  for (int i = 0; i < count; ++i) {
    result.push_back(fmt::format("http://{}/client{}/request{}", address, client, i));
  }
  return result;
}

std::map<std::string, int> countBy(const std::vector<nlohmann::json>& log, const char* field) {
  std::map<std::string, int> count;
  for (const auto& line : log) {
    ++count[line.value(field, "")];
  }
  return count;
}

class StickyCookieTest : public ::testing::Test {
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

  TempDir dir_;
  const std::string secret_ = writeSecretFile(dir_.path() / "cookie.key");
  DemoBackend s0_{"s0"}, s1_{"s1"}, s2_{"s2"}, s3_{"s3"};
};

// 50 curl clients, each making 20 requests on 20 new connections (Connection: close) with its own
// cookie jar. A client's first request is placed round robin and gets a Set-Cookie with every
// attribute of DESIGN.md; its 19 others carry the cookie and reach the same server. Round robin
// per worker (two workers) puts 50 / 4 = 12.5 clients on each server, give or take one per worker.
TEST_F(StickyCookieTest, FiftyCurlClientsOnNewConnectionsEachStayOnOneOfFourServers) {
  constexpr int kClients = 50, kRequests = 20;
  auto corral = startCorral(2, secret_);
  ASSERT_TRUE(corral->ready());
  CurlRun run{.dir = dir_.path()};
  const auto started = Clock::now();
  for (int client = 0; client < kClients; ++client) {
    auto args = urls(corral->listenAddress("web"), client, kRequests);
    args.insert(args.begin(), {"-H", "Connection: close"});
    run.start(client, args, "close");
  }
  const auto codes = run.waitAll(90s);
  const auto elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  std::map<std::string, std::string> placement;
  for (int client = 0; client < kClients; ++client) {
    SCOPED_TRACE(fmt::format("client {}", client));
    ASSERT_EQ(codes[client], 0) << readFile(run.file(client, "close.err"));
    const auto servers = serversInBodies(readFile(run.file(client, "close.body")));
    ASSERT_EQ(servers.size(), size_t{kRequests});
    EXPECT_EQ(std::set(servers.begin(), servers.end()).size(), 1u) << fmt::format("{}", servers);
    placement[std::to_string(client)] = servers.front();
    const auto set_cookies = setCookieLines(readFile(run.file(client, "close.headers")));
    ASSERT_EQ(set_cookies.size(), 1u) << "only the first response sets the cookie";
    EXPECT_TRUE(set_cookies[0].starts_with("CORRAL=")) << set_cookies[0];
    EXPECT_EQ(cookieAttributes(set_cookies[0]), kExpectedAttributes) << set_cookies[0];
  }
  for (const auto& [server, clients] : clientsPerServer(placement)) {
    EXPECT_GE(clients, 10) << server;
    EXPECT_LE(clients, 15) << server;
  }
  EXPECT_EQ(clientsPerServer(placement).size(), 4u);
  const auto log = corral->waitForAccessLog(kClients * kRequests, 20s);
  ASSERT_EQ(log.size(), size_t{kClients * kRequests}) << "one line per connection";
  const std::map<std::string, int> expected{{"round_robin", kClients},
                                            {"cookie", kClients * (kRequests - 1)}};
  EXPECT_EQ(countBy(log, "chosen_by"), expected);
  std::printf("[ timing ] 50 curl clients x 20 connections: %.2f s\n", elapsed);
}

// The jar outlives the curl process: a second curl run reads it and makes 20 requests over one
// kept-alive connection; every one reaches the client's server and none gets a new cookie.
TEST_F(StickyCookieTest, CurlJarSentOnAKeptAliveConnectionKeepsEachClientOnItsServer) {
  constexpr int kClients = 12, kRequests = 20;
  auto corral = startCorral(2, secret_);
  ASSERT_TRUE(corral->ready());
  CurlRun run{.dir = dir_.path()};
  for (int client = 0; client < kClients; ++client) {
    run.start(client, urls(corral->listenAddress("web"), client, 1), "first");
  }
  for (int code : run.waitAll(60s)) {
    ASSERT_EQ(code, 0);
  }
  ASSERT_EQ(corral->waitForAccessLog(kClients, 10s).size(), size_t{kClients});
  for (int client = 0; client < kClients; ++client) {
    run.start(client, urls(corral->listenAddress("web"), client, kRequests), "kept_alive");
  }
  for (int code : run.waitAll(60s)) {
    ASSERT_EQ(code, 0);
  }
  std::map<std::string, std::string> placement;
  for (int client = 0; client < kClients; ++client) {
    SCOPED_TRACE(fmt::format("client {}", client));
    const auto first = serversInBodies(readFile(run.file(client, "first.body")));
    const auto kept = serversInBodies(readFile(run.file(client, "kept_alive.body")));
    ASSERT_EQ(first.size(), 1u);
    ASSERT_EQ(kept.size(), size_t{kRequests});
    EXPECT_EQ(kept, std::vector<std::string>(kRequests, first[0]));
    EXPECT_EQ(setCookieLines(readFile(run.file(client, "kept_alive.headers"))).size(), 0u);
    placement[std::to_string(client)] = first[0];
  }
  EXPECT_EQ(clientsPerServer(placement).size(), 4u);
  const auto log = corral->waitForAccessLog(2 * kClients, 10s);
  ASSERT_EQ(log.size(), size_t{2 * kClients}) << "the second run used one connection per client";
  EXPECT_EQ(countBy(std::vector(log.begin() + kClients, log.end()), "chosen_by"),
            (std::map<std::string, int>{{"cookie", kClients}}));
}

} // namespace
} // namespace corral::test

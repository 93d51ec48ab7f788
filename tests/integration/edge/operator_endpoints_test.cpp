// Slow clients on the operator endpoints (issue 15): clients that send their request head at
// 1 byte/s must not delay /metrics scrapes nor stop `corral ctl status`.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "tests/integration/edge/edge_support.h"
#include "tests/support/fake_backend.h"

namespace corral::test {
namespace {

constexpr const char* kOperatorConfig = R"(
workers: 1
admin: {listen: "127.0.0.1:0"}
metrics: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends: [{name: app, servers: [{address: "${s1}"}]}]
)";

// Sends `head` one byte a second on each of `fds` until `stop` (or the head ends).
void trickle(const std::vector<int>& fds, const std::string& head, const std::atomic<bool>& stop) {
  for (size_t i = 0; i < head.size() && !stop; ++i) {
    for (int fd : fds) {
      ::send(fd, &head[i], 1, MSG_NOSIGNAL);
    }
    for (int tick = 0; tick < 10 && !stop; ++tick) {
      std::this_thread::sleep_for(100ms);
    }
  }
}

size_t openDescriptors(pid_t pid) {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid))) {
    ++count;
  }
  return count;
}

TEST(OperatorEndpointsTest, TwoSlowClientsDoNotDelayAScrape) {
  FakeBackend s1("s1");
  CorralProcess corral(kOperatorConfig, {{"s1", s1.address()}});
  ASSERT_TRUE(corral.ready());
  const std::string metrics = corral.readyValue("metrics");
  std::vector<int> slow{connectFrom("127.0.0.30", metrics), connectFrom("127.0.0.31", metrics)};
  std::atomic<bool> stop = false;
  std::thread attacker(trickle, slow, std::string("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
                       std::cref(stop));
  std::this_thread::sleep_for(1500ms); // both hold a connection, mid-head
  for (int scrape = 0; scrape < 3; ++scrape) {
    const auto start = std::chrono::steady_clock::now();
    const std::string reply = httpGet(metrics, "/metrics").raw;
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_NE(reply.find("corral_frontend_connections_total"), std::string::npos) << scrape;
    EXPECT_LT(took, 1s) << "scrape " << scrape;
  }
  stop = true;
  attacker.join();
  for (int fd : slow) {
    ::close(fd);
  }
}

TEST(OperatorEndpointsTest, FiveHundredSlowAdminClientsDoNotStopCtlStatus) {
  FakeBackend s1("s1");
  CorralProcess corral(kOperatorConfig, {{"s1", s1.address()}});
  ASSERT_TRUE(corral.ready());
  const std::string admin = corral.readyValue("admin");
  const size_t baseline = openDescriptors(corral.pid());
  std::vector<int> slow;
  for (int i = 0; i < 500; ++i) {
    const int fd = connectFrom(fmt::format("127.0.1.{}", 1 + i % 250), admin);
    ASSERT_GE(fd, 0) << i;
    ::send(fd, "GET /api/v1/status HTTP/1.1\r\n", 29, MSG_NOSIGNAL); // and never the rest
    slow.push_back(fd);
  }
  const CommandResult status = runCommand({CORRAL_BINARY, "ctl", "--admin", admin, "status"},
                                          {.timeout = 10s, .merge_output = true});
  EXPECT_EQ(status.exit_code, 0) << status.out;
  EXPECT_NE(status.out.find("web"), std::string::npos) << status.out;
  // Past its cap the admin API sheds the oldest connections still without a request.
  EXPECT_LT(openDescriptors(corral.pid()), baseline + 300);
  for (int fd : slow) {
    ::close(fd);
  }
}

} // namespace
} // namespace corral::test

// Request heads longer than max_header_size (issue 15): closed as bad_request, never relayed.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/edge/edge_support.h"
#include "tests/support/fake_backend.h"

namespace corral::test {
namespace {

std::string headOf(size_t size) {
  std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-Filler: ";
  head.append(size - head.size() - 4, 'a');
  return head + "\r\n\r\n";
}

TEST(HeaderLimitTest, AHeadOverTheLimitIsClosedNotRelayed) {
  FakeBackend s1("s1", {.mode = BackendMode::Echo});
  CorralProcess corral(R"(
workers: 1
metrics: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - {name: app, balance: sticky_cookie, sticky_cookie: {max_header_size: 16KiB},
     servers: [{address: "${s1}"}]}
)", {{"s1", s1.address()}});
  ASSERT_TRUE(corral.ready());
  const std::string web = corral.listenAddress("web");
  EXPECT_EQ(exchangeFrom("127.0.0.1", web, headOf(16 * 1024)), headOf(16 * 1024)); // the limit
  EXPECT_EQ(exchangeFrom("127.0.0.1", web, headOf(20 * 1024)), "");
  EXPECT_EQ(exchangeFrom("127.0.0.1", web, headOf(90 * 1024)), ""); // past http_parser's 80 KiB
  const auto log = corral.waitForAccessLog(3, 5s);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[1].value("termination", ""), "bad_request") << log[1];
  EXPECT_EQ(log[2].value("termination", ""), "bad_request") << log[2];
  EXPECT_EQ(log[2].value("server", ""), "") << log[2];
  EXPECT_EQ(s1.acceptedConnections(), 1);
  EXPECT_EQ(scrape(corral, "corral_frontend_rejected_connections_total",
                   {{"frontend", "web"}, {"reason", "bad_request"}}),
            2);
}

} // namespace
} // namespace corral::test

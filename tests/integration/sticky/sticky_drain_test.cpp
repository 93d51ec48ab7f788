// Drain keeps sticky users (issue 16): a client whose cookie names a draining server still reaches
// it on every new connection, new clients never do, and `disable` moves the cookie holders to
// other servers (with a fresh cookie that keeps them there).

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "sticky_support.h"
#include "tests/support/corral_process.h"
#include "tests/support/tcp_client.h"

namespace corral::test {
namespace {

constexpr std::string_view kDrainConfig = R"(
workers: 2
admin: {listen: "127.0.0.1:0"}
frontends: [{name: web, listen: "127.0.0.1:0", backend: app}]
backends:
  - name: app
    balance: sticky_cookie
    sticky_cookie: {fallback: round_robin, secret_file: "${secret}"}
    servers: [{address: "${s0}", name: s0}, {address: "${s1}", name: s1},
              {address: "${s2}", name: s2}, {address: "${s3}", name: s3}]
)";

class StickyDrainTest : public ::testing::Test {
protected:
  void SetUp() override {
    for (const DemoBackend* backend : {&s0_, &s1_, &s2_, &s3_}) {
      ASSERT_TRUE(backend->ready());
    }
    auto substitutions = addressesOf({&s0_, &s1_, &s2_, &s3_});
    substitutions["secret"] = writeSecretFile(dir_.path() / "cookie.key");
    corral_ = std::make_unique<CorralProcess>(kDrainConfig, substitutions);
    ASSERT_TRUE(corral_->ready());
    admin_ = corral_->readyValue("admin");
  }

  // POST /api/v1/servers/app/SERVER/ACTION, as `corral ctl ACTION app/SERVER` sends it.
  void act(const std::string& action, const std::string& server) {
    TcpClient client(admin_);
    ASSERT_TRUE(client.writeAll(fmt::format("POST /api/v1/servers/app/{}/{} HTTP/1.1\r\nHost: a\r\n"
                                            "Content-Length: 0\r\nConnection: close\r\n\r\n",
                                            server, action)));
    const std::string reply = client.readAll(5s);
    ASSERT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  }

  std::string web() const { return corral_->listenAddress("web"); }

  TempDir dir_;
  DemoBackend s0_{"s0"}, s1_{"s1"}, s2_{"s2"}, s3_{"s3"};
  std::unique_ptr<CorralProcess> corral_;
  std::string admin_;
};

TEST_F(StickyDrainTest, CookieHoldersStayOnADrainingServerNewClientsDoNotAndDisableMovesThem) {
  // Eight clients placed round robin over four servers: about two hold a cookie for the server
  // the first one got.
  std::vector<std::unique_ptr<StickyClient>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::make_unique<StickyClient>());
    ASSERT_TRUE(clients.back()->get(web()).ok());
    ASSERT_FALSE(clients.back()->cookie().empty());
  }
  const std::string drained = clients[0]->servers().front();
  std::vector<StickyClient*> holders;
  for (const auto& client : clients) {
    if (client->servers().front() == drained) {
      holders.push_back(client.get());
    }
  }
  act("drain", drained);
  for (int round = 0; round < 3; ++round) {
    for (StickyClient* holder : holders) {
      const auto response = holder->get(web());
      EXPECT_EQ(servedBy(response), drained) << "a cookie holder left the draining server";
      EXPECT_FALSE(response.cookieSet("CORRAL")) << "no new cookie while its server drains";
    }
  }
  for (int i = 0; i < 12; ++i) {
    StickyClient newcomer;
    EXPECT_NE(servedBy(newcomer.get(web())), drained) << "a new client reached a draining server";
  }
  act("disable", drained);
  for (StickyClient* holder : holders) {
    const auto moved = holder->get(web());
    EXPECT_NE(servedBy(moved), drained) << "disable should move the cookie holders";
    EXPECT_TRUE(moved.cookieSet("CORRAL")) << "a moved client gets a cookie for its new server";
    const std::string new_home = servedBy(moved);
    EXPECT_EQ(servedBy(holder->get(web())), new_home) << "the new cookie keeps it there";
  }
}

} // namespace
} // namespace corral::test

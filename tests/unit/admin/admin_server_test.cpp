// The admin API over real HTTP on 127.0.0.1, against a FakeControl.

#include <event2/event.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/admin/admin_harness.h"

namespace corral::admin {
namespace {

using nlohmann::json;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;

json bodyOf(const cli::HttpResponse& response) { return json::parse(response.body); }

std::string header(const cli::HttpResponse& response, const std::string& name) {
  const auto found = response.headers.find(name);
  return found == response.headers.end() ? "" : found->second;
}

// The HTTP status of an answer; 0 when there was none.
int statusOf(const Result<cli::HttpResponse>& response) { return response ? response->status : 0; }

class AdminServerTest : public testing::Test {
protected:
  AdminHarness admin_;
  cli::AdminClient client_ = admin_.client();
};

TEST_F(AdminServerTest, StatusIsTheControlsStatusAsJson) {
  const auto response = client_.get("/api/v1/status");
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(header(*response, "content-type"), "application/json");
  EXPECT_EQ(bodyOf(*response), toJson(admin_.control().status()));
}

// A browser page on another origin must not read the answers (issue 5: no CORS headers).
TEST_F(AdminServerTest, AnswersCarryNoCorsHeaders) {
  const auto response = client_.get("/api/v1/status");
  ASSERT_TRUE(response);
  for (const auto& [name, value] : response->headers) {
    EXPECT_FALSE(name.starts_with("access-control-")) << name;
  }
}

// Names in paths are percent-encoded: app%230 is the spawned instance app#0.
TEST_F(AdminServerTest, ServerActionsReachTheControlWithDecodedNames) {
  for (const char* action : {"drain", "disable", "enable"}) {
    const auto response = client_.post(fmt::format("/api/v1/servers/app/app%230/{}", action));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200) << action;
    EXPECT_EQ(bodyOf(*response)["server"], "app#0");
  }
  EXPECT_THAT(admin_.control().calls(),
              ElementsAre("drain app app#0", "disable app app#0", "enable app app#0"));
}

TEST_F(AdminServerTest, AnUnknownServerIs404WithAJsonError) {
  const auto response = client_.post("/api/v1/servers/app/nope/drain");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(header(*response, "content-type"), "application/json");
  EXPECT_EQ(bodyOf(*response)["error"], "unknown server app/nope");
}

TEST_F(AdminServerTest, AnUnknownPathIs404) {
  for (const char* path : {"/nothing", "/api/v1", "/api/v1/status/", "/api/v1/servers//s1/drain",
                           "/api/v1/servers/app/app%230/explode"}) {
    const auto response = client_.get(path);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 404) << path;
  }
}

// A link or an <img> can make a browser GET any URL; a GET must never change state.
TEST_F(AdminServerTest, AGetOnAStateChangingEndpointIs405AndChangesNothing) {
  for (const char* path : {"/api/v1/servers/app/app%230/drain", "/api/v1/servers/app/s1/weight",
                           "/api/v1/backends/app/restart", "/api/v1/reload"}) {
    const auto response = client_.get(path);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 405) << path;
    EXPECT_EQ(header(*response, "allow"), "POST") << path;
  }
  EXPECT_THAT(admin_.control().calls(), IsEmpty());
}

TEST_F(AdminServerTest, APostOnAReadEndpointIs405WithAllowGet) {
  const auto response = client_.post("/api/v1/status");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 405);
  EXPECT_EQ(header(*response, "allow"), "GET");
}

TEST_F(AdminServerTest, AValidWeightReachesTheControl) {
  const auto response = client_.post("/api/v1/servers/static/s1/weight", R"({"weight": 256})");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(admin_.control().calls(), ElementsAre("weight static s1 256"));
}

// Each bad body is refused with 400 before the Control hears of it.
TEST_F(AdminServerTest, ABadWeightBodyIs400) {
  for (const char* body : {R"({"weight": 0})", R"({"weight": 257})", R"({"weight": -1})",
                           R"({"weight": "10"})", R"({"weight": 1.5})", R"({"weight": true})",
                           R"({})", R"([10])", "weight=10", "", R"({"weight": 10)"}) {
    const auto response = client_.post("/api/v1/servers/static/s1/weight", body);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 400) << body;
    EXPECT_THAT(bodyOf(*response)["error"].get<std::string>(), HasSubstr("weight")) << body;
  }
  EXPECT_THAT(admin_.control().calls(), IsEmpty());
}

TEST_F(AdminServerTest, RestartStartsARollAndABackendWithoutSpawnIs400) {
  const auto started = client_.post("/api/v1/backends/app/restart");
  ASSERT_TRUE(started);
  EXPECT_EQ(started->status, 202);
  const auto refused = client_.post("/api/v1/backends/static/restart");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_EQ(bodyOf(*refused)["error"], "backend static has no spawn section");
}

TEST_F(AdminServerTest, ScaleTakesACountAndRefusesABadOneOrABackendWithoutSpawn) {
  const auto scaled = client_.post("/api/v1/backends/app/scale", R"({"instances": 4})");
  ASSERT_TRUE(scaled);
  EXPECT_EQ(scaled->status, 200);
  EXPECT_EQ(bodyOf(*scaled)["instances"], 4);
  for (const char* body : {R"({"instances": 0})", R"({"instances": 1025})", R"({"instances": "4"})",
                           R"({"weight": 4})", "", "4"}) {
    const auto response = client_.post("/api/v1/backends/app/scale", body);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 400) << body;
    EXPECT_EQ(bodyOf(*response)["error"],
              R"(the body must be JSON such as {"instances": N} with N from 1 to 1024)")
        << body;
  }
  const auto refused = client_.post("/api/v1/backends/static/scale", R"({"instances": 2})");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_EQ(client_.post("/api/v1/backends/nope/scale", R"({"instances": 2})")->status, 404);
  EXPECT_THAT(admin_.control().calls(),
              ElementsAre("scale app 4", "scale static 2", "scale nope 2"));
}

// The old configuration keeps running; the operator sees every error line at once.
TEST_F(AdminServerTest, AReloadOfABrokenFileIs422WithEveryErrorLine) {
  EXPECT_EQ(client_.post("/api/v1/reload")->status, 200);
  admin_.control().failReloadWith("corral.yaml:3:5: workers: bad\ncorral.yaml:9:7: backend: x");
  const auto response = client_.post("/api/v1/reload");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 422);
  EXPECT_EQ(bodyOf(*response)["error"], "corral.yaml:3:5: workers: bad\ncorral.yaml:9:7: backend: x");
}

TEST_F(AdminServerTest, RouteExplainsTheChoiceAndPassesTheDecodedCookie) {
  const auto response = client_.get("/api/v1/route?backend=app&client=10.0.0.7&cookie=a%2Bb%3D");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(bodyOf(*response),
            (json{{"backend", "app"}, {"client", "10.0.0.7"}, {"server", "app#1"},
                  {"reason", "hash of 10.0.0.7 (ip_hash)"}}));
  EXPECT_THAT(admin_.control().calls(), ElementsAre("route app 10.0.0.7 cookie=a+b="));
}

TEST_F(AdminServerTest, RoutePassesTheDecodedHashKey) {
  const auto response = client_.get("/api/v1/route?backend=app&client=10.0.0.7&key=%2Ft%2F42%20x");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(admin_.control().calls(), ElementsAre("route app 10.0.0.7 key=/t/42 x"));
}

TEST_F(AdminServerTest, RouteNeedsABackendAndAnIpAddress) {
  EXPECT_EQ(client_.get("/api/v1/route?backend=app&client=%3A%3A1")->status, 200); // ::1
  EXPECT_EQ(client_.get("/api/v1/route?backend=app")->status, 400);
  EXPECT_EQ(client_.get("/api/v1/route?client=10.0.0.7")->status, 400);
  EXPECT_EQ(client_.get("/api/v1/route?backend=app&client=example.com")->status, 400);
  EXPECT_EQ(client_.get("/api/v1/route?backend=app&client=10.0.0.7:80")->status, 400);
  EXPECT_EQ(client_.get("/api/v1/route?backend=nope&client=10.0.0.7")->status, 404);
}

TEST_F(AdminServerTest, LogsAnswersWithTheCapturedLines) {
  const auto response = client_.get("/api/v1/logs/app/1");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(bodyOf(*response)["lines"], (json{"instance 1 booting", "listening on 9002"}));
  EXPECT_EQ(client_.get("/api/v1/logs/app/7")->status, 404);
  EXPECT_EQ(client_.get("/api/v1/logs/app/x")->status, 400);
  EXPECT_EQ(client_.get("/api/v1/logs/app/-1")->status, 400);
  EXPECT_EQ(client_.get("/api/v1/logs/app/0?follow=maybe")->status, 400);
}

// `logs --follow`: the lines so far, then each new line as it comes; when the client hangs up,
// the server unfollows, so a dead stream costs the Control nothing.
TEST_F(AdminServerTest, FollowStreamsNewLinesAndUnfollowsWhenTheClientLeaves) {
  std::string received;
  bool emitted = false;
  const auto response = client_.stream("/api/v1/logs/app/0?follow=1", [&](std::string_view piece) {
    received.append(piece);
    if (!emitted && received.ends_with("listening on 9001\n")) {
      emitted = true;
      admin_.control().emitLines(admin_.base(), {"GET / 200", "GET /healthz 200"});
    }
    return !received.ends_with("GET /healthz 200\n");
  });
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(header(*response, "transfer-encoding"), "chunked");
  EXPECT_EQ(received, "instance 0 booting\nlistening on 9001\nGET / 200\nGET /healthz 200\n");
  EXPECT_TRUE(admin_.control().waitUnfollowed(1, std::chrono::seconds(5)));
  EXPECT_THAT(admin_.control().calls(), ElementsAre("logs app 0", "follow app 0", "unfollow 1"));
}

TEST_F(AdminServerTest, FollowingAnUnknownInstanceIs404) {
  const auto response = client_.stream("/api/v1/logs/app/9?follow=1", [](auto) { return true; });
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(bodyOf(*response)["error"], "unknown instance app#9");
  EXPECT_EQ(admin_.control().followers(), 0u);
}

TEST_F(AdminServerTest, ReadyIs200OnlyOnceTheControlIsReady) {
  admin_.control().setReady(false);
  EXPECT_EQ(client_.get("/ready")->status, 503);
  admin_.control().setReady(true);
  const auto response = client_.get("/ready");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ready\n");
}

TEST_F(AdminServerTest, ThePageSaysNoTokenIsNeededAndReferencesNothingOutside) {
  const auto page = client_.get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr(R"(data-token="none")"));
  const auto script = client_.get("/status.js");
  const auto style = client_.get("/status.css");
  ASSERT_TRUE(script && style);
  for (const char* outside : {R"(src="http)", R"(href="http)", R"(src="//)", R"(href="//)",
                              "@import", "url(", "fetch('http", "fetch(\"http"}) {
    for (const std::string* body : {&page->body, &script->body, &style->body}) {
      EXPECT_THAT(*body, testing::Not(HasSubstr(outside))) << outside;
    }
  }
}

// The server records a first sample when it starts; every server of the status has a series.
TEST_F(AdminServerTest, HistoryListsEveryServerWithinItsWindow) {
  const auto response = client_.get("/api/v1/history");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  const json body = bodyOf(*response);
  EXPECT_EQ(body["window_s"], 300.0);
  EXPECT_LE(body["t"].size(), 300u);
  size_t servers = 0;
  for (const auto& backend : admin_.control().status().backends) {
    servers += backend.servers.size();
  }
  EXPECT_EQ(body["servers"].size(), servers);
}

class AdminServerTokenTest : public testing::Test {
protected:
  AdminHarness admin_{"s3cret-token"};
};

// RFC 6750 §3: no token gets the bare challenge; a wrong one says invalid_token. Every endpoint,
// unknown paths included, asks first, and nothing reaches the Control.
TEST_F(AdminServerTokenTest, AMissingOrWrongTokenIs401WithABearerChallenge) {
  for (const char* path : {"/api/v1/status", "/no/such/path"}) {
    const auto missing = admin_.client().get(path);
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 401) << path;
    EXPECT_EQ(header(*missing, "www-authenticate"), R"(Bearer realm="corral")");
    const auto wrong = admin_.client("s3cret-tokem").post("/api/v1/servers/app/app%230/drain");
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401);
    EXPECT_EQ(header(*wrong, "www-authenticate"), R"(Bearer realm="corral", error="invalid_token")");
  }
  EXPECT_THAT(admin_.control().calls(), IsEmpty());
}

// Probes (Kubernetes httpGet, Docker HEALTHCHECK) carry no secret: GET /ready is open, and says
// nothing but whether corral is ready. Any other method on it still needs the token.
TEST_F(AdminServerTokenTest, ReadyAnswersWithoutTheToken) {
  EXPECT_EQ(statusOf(admin_.client().get("/ready")), 200);
  EXPECT_EQ(statusOf(admin_.client().post("/ready")), 401);
}

// The status page's shell holds no data, so it loads without the token and asks for it; its
// policy lets it load nothing but itself, and its data needs the token like every endpoint.
TEST_F(AdminServerTokenTest, ThePageLoadsWithoutTheTokenButItsDataDoesNot) {
  const auto page = admin_.client().get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(header(*page, "content-type"), "text/html; charset=utf-8");
  EXPECT_THAT(page->body, HasSubstr(R"(data-token="required")"));
  EXPECT_THAT(header(*page, "content-security-policy"), HasSubstr("default-src 'none'"));
  EXPECT_THAT(header(*page, "content-security-policy"), HasSubstr("script-src 'self'"));
  EXPECT_EQ(header(*page, "x-frame-options"), "DENY");
  for (const char* asset : {"/status.js", "/status.css", "/index.html"}) {
    EXPECT_EQ(statusOf(admin_.client().get(asset)), 200) << asset;
  }
  EXPECT_EQ(statusOf(admin_.client().get("/api/v1/history")), 401);
  EXPECT_EQ(statusOf(admin_.client().post("/")), 401);
}

TEST_F(AdminServerTokenTest, TheRightTokenIsServed) {
  const auto response = admin_.client("s3cret-token").post("/api/v1/servers/app/app%230/drain");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(admin_.control().calls(), ElementsAre("drain app app#0"));
}

TEST(AdminServerCreateTest, RefusesAnEmptyTokenFileAndAnExposedAddressWithoutToken) {
  event_base* base = event_base_new();
  FakeControl control;
  const std::string empty = writeTempFile("empty.token", " \n");
  EXPECT_FALSE(AdminServer::create(
      base, {.listen = {.host = "127.0.0.1", .port = 0}, .token_file = empty}, control));
  EXPECT_FALSE(AdminServer::create(
      base, {.listen = {.host = "127.0.0.1", .port = 0}, .token_file = "/nonexistent/t"}, control));
  const auto exposed =
      AdminServer::create(base, {.listen = {.host = "0.0.0.0", .port = 0}, .token_file = ""},
                          control);
  ASSERT_FALSE(exposed);
  EXPECT_THAT(exposed.error().message, HasSubstr("token_file"));
  event_base_free(base);
}

TEST(AdminServerCreateTest, ABusyPortIsAnError) {
  AdminHarness first;
  event_base* base = event_base_new();
  FakeControl control;
  const auto second = AdminServer::create(base, {.listen = first.hostPort(), .token_file = ""},
                                          control);
  ASSERT_FALSE(second);
  EXPECT_THAT(second.error().message, HasSubstr("cannot bind"));
  event_base_free(base);
}

} // namespace
} // namespace corral::admin

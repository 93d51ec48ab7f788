#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "corral/admin/control.h"
#include "tests/unit/admin/fake_control.h"

namespace corral::admin {
namespace {

// ctl reads back exactly what the server wrote, optional fields included.
TEST(StatusJsonTest, StatusSurvivesARoundTrip) {
  const Status status = FakeControl().status();
  const auto back = statusFromJson(nlohmann::json::parse(toJson(status).dump()));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, status);
}

// The field names are the API; pin a few that scripts use.
TEST(StatusJsonTest, AbsentOptionalFieldsAreNullAndNamesAreStable) {
  const auto json = toJson(FakeControl().status());
  const auto& spawned = json["backends"][0]["servers"][0];
  EXPECT_EQ(spawned["name"], "app#0");
  EXPECT_EQ(spawned["pid"], 4242);
  EXPECT_EQ(spawned["effective_weight"], 1);
  const auto& plain = json["backends"][1]["servers"][0];
  EXPECT_TRUE(plain["pid"].is_null());
  EXPECT_TRUE(plain["uptime_s"].is_null());
  EXPECT_EQ(plain["state"], "down");
  EXPECT_EQ(plain["reason"], "refused");
  EXPECT_EQ(json["frontends"][0]["listen"], "127.0.0.1:8080");
}

TEST(StatusJsonTest, AMissingFieldIsAnErrorNamingIt) {
  auto json = toJson(FakeControl().status());
  json["backends"][0]["servers"][1].erase("state");
  const auto status = statusFromJson(json);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("state"), std::string::npos) << status.error().message;
}

} // namespace
} // namespace corral::admin

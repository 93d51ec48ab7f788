#include <gtest/gtest.h>

#include "corral/core/log.h"

namespace corral::log {
namespace {

// An accessor called before init() still returns a usable logger, and the one init() then
// configures: components may log from static initialisers or tests that never call init().
TEST(LogTest, AnAccessorCalledBeforeInitReturnsTheLoggerInitConfigures) {
  spdlog::logger* early = health();
  ASSERT_NE(early, nullptr);
  init(spdlog::level::warn);
  EXPECT_EQ(health(), early);
  EXPECT_EQ(early->level(), spdlog::level::warn);
  EXPECT_EQ(early->name(), "health");
  init(spdlog::level::info);
}

// Each accessor is a load of a pointer set once, not a look-up in spdlog's registry (which takes
// the registry mutex, per connection on the workers): taking the logger out of the registry does
// not change what the accessor returns.
TEST(LogTest, AccessorsDoNotLookUpTheRegistry) {
  init(spdlog::level::info);
  const auto registered = spdlog::get("proxy");
  ASSERT_NE(registered, nullptr);
  ASSERT_EQ(proxy(), registered.get());
  spdlog::drop("proxy");
  EXPECT_EQ(proxy(), registered.get());
  spdlog::register_logger(registered);
}

TEST(LogTest, EveryComponentHasItsOwnNamedLogger) {
  init(spdlog::level::info);
  EXPECT_EQ(core()->name(), "core");
  EXPECT_EQ(config()->name(), "config");
  EXPECT_EQ(proxy()->name(), "proxy");
  EXPECT_EQ(balance()->name(), "balance");
  EXPECT_EQ(health()->name(), "health");
  EXPECT_EQ(cluster()->name(), "cluster");
  EXPECT_EQ(metrics()->name(), "metrics");
  EXPECT_EQ(admin()->name(), "admin");
}

} // namespace
} // namespace corral::log

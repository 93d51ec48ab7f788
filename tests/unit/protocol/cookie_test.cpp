#include "corral/protocol/cookie.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace corral::protocol {
namespace {

std::optional<std::string_view> find(std::vector<std::string_view> headers, std::string_view name) {
  return findCookie(headers, name);
}

TEST(CookieTest, FindsCookiesByExactName) {
  const struct {
    std::vector<std::string_view> headers;
    std::string_view name;
    std::optional<std::string_view> expected;
  } cases[] = {
      {{"CORRAL=abc"}, "CORRAL", "abc"},
      {{"a=1; CORRAL=abc; b=2"}, "CORRAL", "abc"},
      {{"a=1;CORRAL=abc"}, "CORRAL", "abc"},                 // no space after ';'
      {{"  CORRAL = abc  ; b=2"}, "CORRAL", "abc"},          // spaces around name and value
      {{"CORRAL=\"abc\""}, "CORRAL", "abc"},                 // quoted value, RFC 6265 §4.1.1
      {{"CORRAL="}, "CORRAL", ""},                           // empty value is a value
      {{"CORRAL=a=b"}, "CORRAL", "a=b"},                     // the first '=' splits
      {{"corral=abc"}, "CORRAL", std::nullopt},              // names are case-sensitive
      {{"XCORRAL=abc; CORRALX=d"}, "CORRAL", std::nullopt},  // whole names only
      {{"CORRAL=1; CORRAL=2"}, "CORRAL", "1"},               // first match wins
      {{"a=1", "CORRAL=2"}, "CORRAL", "2"},                  // several Cookie headers
      {{"CORRAL=1", "CORRAL=2"}, "CORRAL", "1"},
      {{"CORRAL; CORRAL=3"}, "CORRAL", "3"},                 // a pair without '=' is skipped
      {{";;CORRAL=4;;"}, "CORRAL", "4"},
      {{""}, "CORRAL", std::nullopt},
      {{}, "CORRAL", std::nullopt},
      {{"CORRAL=\""}, "CORRAL", "\""},                       // a lone quote is not a quoted value
  };
  for (const auto& c : cases) {
    EXPECT_EQ(find(c.headers, c.name), c.expected) << (c.headers.empty() ? "" : c.headers[0]);
  }
}

TEST(CookieTest, FormatsTheStickySetCookieValue) {
  EXPECT_EQ(formatSetCookie({.name = "CORRAL", .value = "x.1.y", .max_age = std::chrono::hours(1)}),
            "CORRAL=x.1.y; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax");
  EXPECT_EQ(formatSetCookie({.name = "C", .value = "v", .max_age = std::chrono::seconds(5),
                             .secure = true}),
            "C=v; Path=/; Max-Age=5; HttpOnly; SameSite=Lax; Secure");
}

TEST(CookieTest, ChecksCookieNamesAndValues) {
  EXPECT_TRUE(isCookieName("CORRAL"));
  EXPECT_TRUE(isCookieName("__Host-x"));
  EXPECT_FALSE(isCookieName(""));
  EXPECT_FALSE(isCookieName("a=b"));
  EXPECT_FALSE(isCookieName("a b"));
  EXPECT_TRUE(isCookieValue("YXBwIzI.1700000000.abc-_"));
  EXPECT_FALSE(isCookieValue("a;b"));
  EXPECT_FALSE(isCookieValue("a b"));
  EXPECT_FALSE(isCookieValue("\"a\""));
  EXPECT_FALSE(isCookieValue(""));
}

} // namespace
} // namespace corral::protocol

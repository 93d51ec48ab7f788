#include "admin/request_path.h"

#include <gtest/gtest.h>

namespace corral::admin {
namespace {

using Segments = std::vector<std::string>;

// Splitting comes before decoding, so an encoded '/' stays inside its name, and '+' in a path is
// a plus (RFC 3986), not a space.
TEST(RequestPathTest, SplitsThenPercentDecodesEachSegment) {
  EXPECT_EQ(splitPath("/api/v1/status"), (Segments{"api", "v1", "status"}));
  EXPECT_EQ(splitPath("/api/v1/servers/app/app%230/drain"),
            (Segments{"api", "v1", "servers", "app", "app#0", "drain"}));
  EXPECT_EQ(splitPath("/api/v1/servers/app/a%2Fb/drain"),
            (Segments{"api", "v1", "servers", "app", "a/b", "drain"}));
  EXPECT_EQ(splitPath("/x/a+b"), (Segments{"x", "a+b"}));
  EXPECT_EQ(splitPath("/x//y/"), (Segments{"x", "", "y", ""}));
  EXPECT_EQ(splitPath("/ready"), (Segments{"ready"}));
}

TEST(RequestPathTest, QueryValuesAreDecodedAndTheFirstOfARepeatedKeyWins) {
  const auto query = parseQuery("backend=app&client=10.0.0.7&cookie=a%2Bb+c&backend=other");
  ASSERT_TRUE(query);
  EXPECT_EQ(*query, (std::map<std::string, std::string>{
                        {"backend", "app"}, {"client", "10.0.0.7"}, {"cookie", "a+b c"}}));
  EXPECT_TRUE(parseQuery("")->empty());
}

TEST(RequestPathTest, AQueryKeyWithoutAValueIsMalformed) {
  EXPECT_FALSE(parseQuery("follow"));
}

} // namespace
} // namespace corral::admin

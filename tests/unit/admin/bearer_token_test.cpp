#include "admin/bearer_token.h"

#include <gtest/gtest.h>

namespace corral::admin {
namespace {

// Only the exact token, after the Bearer scheme in any case, is accepted (RFC 6750 §2.1,
// RFC 7235 §2.1). Prefixes and extensions of the token are as wrong as any other value.
TEST(BearerTokenTest, AcceptsOnlyTheExactTokenAfterTheBearerScheme) {
  const auto token = BearerToken::fromText("s3cret-token\n");
  ASSERT_TRUE(token);
  EXPECT_TRUE(token->accepts("Bearer s3cret-token"));
  EXPECT_TRUE(token->accepts("bearer s3cret-token"));
  EXPECT_TRUE(token->accepts("BEARER  s3cret-token "));
  EXPECT_FALSE(token->accepts(std::nullopt));
  EXPECT_FALSE(token->accepts(""));
  EXPECT_FALSE(token->accepts("Bearer"));
  EXPECT_FALSE(token->accepts("Bearer "));
  EXPECT_FALSE(token->accepts("s3cret-token"));
  EXPECT_FALSE(token->accepts("Basic s3cret-token"));
  EXPECT_FALSE(token->accepts("Bearer s3cret"));
  EXPECT_FALSE(token->accepts("Bearer s3cret-token2"));
  EXPECT_FALSE(token->accepts("Bearer S3CRET-TOKEN"));
}

// A token file that holds only whitespace would let an empty or blank header through: refused.
TEST(BearerTokenTest, AnEmptyOrBlankTokenIsAnError) {
  EXPECT_FALSE(BearerToken::fromText(""));
  EXPECT_FALSE(BearerToken::fromText(" \n\t\r\n"));
}

TEST(BearerTokenTest, AnUnreadableTokenFileIsAnErrorNamingIt) {
  const auto token = BearerToken::fromFile("/nonexistent/corral/admin.token");
  ASSERT_FALSE(token);
  EXPECT_NE(token.error().message.find("/nonexistent/corral/admin.token"), std::string::npos);
}

} // namespace
} // namespace corral::admin

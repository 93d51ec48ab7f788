#include "corral/protocol/http_response_head.h"

#include <string>

#include <gtest/gtest.h>

namespace corral::protocol {
namespace {

constexpr size_t kMaxResponseHead = 16 * 1024;
constexpr std::string_view kCookie = "CORRAL=abc; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax";

// The head gains exactly one line before its blank line; every other byte is kept, and the bytes
// after the head are left to the caller.
TEST(ResponseHeadTest, InsertsSetCookieBeforeTheBlankLineAndKeepsEverythingElse) {
  const std::string head = "HTTP/1.1 200 OK\r\nSet-Cookie: app=1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string response = head + "5\r\nhello\r\n0\r\n\r\n";
  const auto out = insertSetCookie(response, kCookie, kMaxResponseHead);
  ASSERT_TRUE(out.isDone()) << out.error;
  EXPECT_EQ(out.value.consumed, head.size());
  EXPECT_EQ(out.value.status, 200);
  EXPECT_TRUE(out.value.final);
  EXPECT_EQ(out.value.bytes, "HTTP/1.1 200 OK\r\nSet-Cookie: app=1\r\nTransfer-Encoding: chunked\r\n"
                             "Set-Cookie: CORRAL=abc; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax\r\n"
                             "\r\n");
}

TEST(ResponseHeadTest, KeepsBareLineFeedsAndHttp10) {
  const auto out = insertSetCookie("HTTP/1.0 200 OK\nContent-Length: 2\n\nhi", "C=1", kMaxResponseHead);
  ASSERT_TRUE(out.isDone()) << out.error;
  EXPECT_EQ(out.value.bytes, "HTTP/1.0 200 OK\nContent-Length: 2\nSet-Cookie: C=1\n\n");
  EXPECT_EQ(out.value.consumed, 35u);
}

TEST(ResponseHeadTest, InsertsIntoAHeadWithoutHeaders) {
  const auto out = insertSetCookie("HTTP/1.1 204 No Content\r\n\r\n", "C=1", kMaxResponseHead);
  ASSERT_TRUE(out.isDone());
  EXPECT_EQ(out.value.bytes, "HTTP/1.1 204 No Content\r\nSet-Cookie: C=1\r\n\r\n");
}

TEST(ResponseHeadTest, NotModifiedGetsTheCookieToo) {
  const auto out = insertSetCookie("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", "C=1", kMaxResponseHead);
  ASSERT_TRUE(out.isDone());
  EXPECT_EQ(out.value.bytes, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nSet-Cookie: C=1\r\n\r\n");
}

// 100 Continue is relayed as is; the caller calls again and the final head gets the cookie.
TEST(ResponseHeadTest, PassesInterimHeadsThroughAndInsertsIntoTheFinalOne) {
  const std::string response = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n"
                               "\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
  std::string_view rest = response;
  std::string relayed;
  std::vector<int> statuses;
  while (!rest.empty()) {
    const auto out = insertSetCookie(rest, "C=1", kMaxResponseHead);
    ASSERT_TRUE(out.isDone()) << out.error;
    statuses.push_back(out.value.status);
    relayed += out.value.bytes;
    rest.remove_prefix(out.value.consumed);
    if (out.value.final) {
      break;
    }
  }
  EXPECT_EQ(statuses, (std::vector<int>{100, 103, 201}));
  EXPECT_EQ(relayed, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                     "HTTP/1.1 201 Created\r\nContent-Length: 0\r\nSet-Cookie: C=1\r\n\r\n");
  EXPECT_TRUE(rest.empty());
}

TEST(ResponseHeadTest, SwitchingProtocolsIsFinal) {
  const auto out = insertSetCookie("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
                                   "C=1", kMaxResponseHead);
  ASSERT_TRUE(out.isDone());
  EXPECT_TRUE(out.value.final);
  EXPECT_NE(out.value.bytes.find("Set-Cookie: C=1\r\n\r\n"), std::string::npos);
}

TEST(ResponseHeadTest, EveryPrefixNeedsMore) {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
  for (size_t length = 0; length < head.size(); ++length) {
    EXPECT_TRUE(insertSetCookie(head.substr(0, length), "C=1", kMaxResponseHead).needsMore()) << length;
  }
}

TEST(ResponseHeadTest, RejectsNonHttpAndOversizedHeads) {
  EXPECT_TRUE(insertSetCookie("SSH-2.0-x\r\n", "C=1", kMaxResponseHead).isBad());
  EXPECT_TRUE(insertSetCookie("HTTP/2.0 200 OK\r\n\r\n", "C=1", kMaxResponseHead).isBad());
  const std::string big = "HTTP/1.1 200 OK\r\nX: " + std::string(200, 'a') + "\r\n\r\n";
  EXPECT_EQ(insertSetCookie(big, "C=1", 100).error, "head longer than 100 bytes");
}

} // namespace
} // namespace corral::protocol

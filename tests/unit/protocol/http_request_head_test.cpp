#include "corral/protocol/http_request_head.h"

#include <string>

#include <gtest/gtest.h>

namespace corral::protocol {
namespace {

constexpr size_t kMax = 16 * 1024;

TEST(RequestHeadTest, FindsTheEndOfTheHeadAndEveryCookieHeader) {
  const std::string request = "GET /index.html HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\n"
                              "X: y\r\ncookie: CORRAL=v; b=2\r\n\r\nbody";
  const auto head = parseRequestHead(request, kMax);
  ASSERT_TRUE(head.isDone()) << head.error;
  EXPECT_EQ(head.value.size, request.size() - 4);
  EXPECT_EQ(head.value.header_values, (std::vector<std::string_view>{"a=1", "CORRAL=v; b=2"}));
}

TEST(RequestHeadTest, AcceptsBareLineFeeds) {
  const std::string request = "POST /x HTTP/1.0\nCookie: s=1\n\nrest";
  const auto head = parseRequestHead(request, kMax);
  ASSERT_TRUE(head.isDone()) << head.error;
  EXPECT_EQ(head.value.size, request.size() - 4);
  EXPECT_EQ(head.value.header_values, (std::vector<std::string_view>{"s=1"}));
}

// Every proper prefix of a valid head asks for more bytes, whatever the read boundaries were.
TEST(RequestHeadTest, EveryPrefixOfAValidHeadNeedsMore) {
  const std::string request = "GET / HTTP/1.1\r\nHost: example.com\r\nCookie: a=b\r\n\r\n";
  for (size_t length = 0; length < request.size(); ++length) {
    EXPECT_TRUE(parseRequestHead(request.substr(0, length), kMax).needsMore()) << length;
  }
  EXPECT_TRUE(parseRequestHead(request, kMax).isDone());
}

TEST(RequestHeadTest, RejectsNonHttpFirstBytesWithoutWaiting) {
  const struct {
    std::string bytes;
    std::string error;
  } cases[] = {
      {std::string("\x16\x03\x01\x02\x00", 5), "not an HTTP/1.x head: invalid HTTP method"},
      {"SSH-2.0-OpenSSH_9.2\r\n", "not an HTTP/1.x head: invalid HTTP method"},
      {"GET /a b HTTP/1.1\r\n", "not an HTTP/1.x head: invalid constant string"},
      {"GET / HTTP/2.0\r\n", "HTTP/2 is not HTTP/1.x"},
      {"GET / HTTP/1.1\r\nBad(Name: x\r\n", "not an HTTP/1.x head: invalid character in header"},
  };
  for (const auto& c : cases) {
    const auto head = parseRequestHead(c.bytes, kMax);
    EXPECT_TRUE(head.isBad()) << c.bytes;
    EXPECT_EQ(head.error, c.error) << c.bytes;
    EXPECT_EQ(head.code, ParseError::Malformed) << c.bytes;
  }
}

TEST(RequestHeadTest, RejectsHttp09AndTheHttp2Preface) {
  EXPECT_EQ(parseRequestHead("GET /\r\n\r\n", kMax).error, "HTTP/0.9 is not HTTP/1.x");
  EXPECT_TRUE(parseRequestHead("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", kMax).isBad());
}

TEST(RequestHeadTest, RejectsAHeadThatDoesNotEndWithinTheLimit) {
  const std::string request = "GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n";
  EXPECT_EQ(parseRequestHead(request, 64).error, "head longer than 64 bytes");
  // The session closes a client whose head is too long, and relays anything else it rejects
  // unchanged: it tells them apart by the code, not by the message.
  EXPECT_EQ(parseRequestHead(request, 64).code, ParseError::TooLong);
  EXPECT_TRUE(parseRequestHead(request.substr(0, 63), 64).needsMore());
  EXPECT_TRUE(parseRequestHead(request, request.size()).isDone()); // exactly at the limit
}

// A folded Cookie value is not one piece of the input; RFC 7230 §3.2.4 lets a server reject it.
TEST(RequestHeadTest, RejectsAFoldedCookieHeader) {
  const auto head = parseRequestHead("GET / HTTP/1.1\r\nCookie: a=1;\r\n b=2\r\n\r\n", kMax);
  EXPECT_TRUE(head.isBad());
  EXPECT_EQ(head.error, "folded Cookie header (obs-fold, RFC 7230 §3.2.4)");
}

// Debian's libhttp-parser is built lenient and takes any byte after the CR of the blank line as
// its LF; a server would disagree about where the head ends, so such a head is refused. (A bare CR
// inside a line the library already refuses.)
TEST(RequestHeadTest, RejectsACarriageReturnWithoutLineFeed) {
  const struct {
    std::string request;
    std::string error;
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: a\r\n\rX", "not an HTTP/1.x head: CR without LF"},
      {"GET / HTTP/1.1\rX\r\n\r\n", "not an HTTP/1.x head: LF character expected"},
      {"GET / HTTP/1.1\r\nHost: a\rX\r\n\r\n", "not an HTTP/1.x head: LF character expected"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parseRequestHead(c.request, kMax).error, c.error) << c.request;
  }
}

TEST(RequestHeadTest, AHeadWithoutCookiesHasNone) {
  const auto head = parseRequestHead("GET / HTTP/1.1\r\nHost: a\r\n\r\n", kMax);
  ASSERT_TRUE(head.isDone());
  EXPECT_TRUE(head.value.header_values.empty());
}

TEST(RequestHeadTest, CollectsTheNamedHeaderAndTheTarget) {
  const auto head = parseRequestHead(
      "GET /t/42/x?room=7 HTTP/1.1\r\nx-tenant: acme\r\nCookie: a=1\r\n\r\n", kMax, "X-Tenant");
  ASSERT_TRUE(head.isDone());
  EXPECT_EQ(head.value.header_values, (std::vector<std::string_view>{"acme"}));
  EXPECT_EQ(head.value.target, "/t/42/x?room=7");
}

TEST(RequestKeyTest, FindsAQueryParameter) {
  EXPECT_EQ(queryParameter("/a?room=7&b=2", "room"), "7");
  EXPECT_EQ(queryParameter("/a?b=2&room=7#frag", "room"), "7");
  EXPECT_EQ(queryParameter("/a?b=2&room=7&room=8", "room"), "7");
  EXPECT_EQ(queryParameter("/a?myroom=7", "room"), std::nullopt);
  EXPECT_EQ(queryParameter("/a?room=", "room"), std::nullopt);
  EXPECT_EQ(queryParameter("/a?room", "room"), std::nullopt);
  EXPECT_EQ(queryParameter("/a", "room"), std::nullopt);
}

TEST(RequestKeyTest, TakesTheFirstPathSegments) {
  EXPECT_EQ(pathPrefix("/t/42/x?y=1", 2), "/t/42");
  EXPECT_EQ(pathPrefix("/t/42/x", 1), "/t");
  EXPECT_EQ(pathPrefix("/t", 3), "/t");
  EXPECT_EQ(pathPrefix("/t/42?q", 5), "/t/42");
  EXPECT_EQ(pathPrefix("http://example.com/t/42/x", 2), "/t/42");
  EXPECT_EQ(pathPrefix("/", 1), std::nullopt);
  EXPECT_EQ(pathPrefix("*", 1), std::nullopt);
  EXPECT_EQ(pathPrefix("http://example.com", 1), std::nullopt);
}

} // namespace
} // namespace corral::protocol

// The status line of an HTTP response (health checks): good and bad inputs, each with its outcome.

#include <string>

#include <gtest/gtest.h>

#include "corral/protocol/status_line.h"

namespace corral::protocol {
namespace {

struct Good {
  std::string bytes;
  int status;
};

TEST(StatusLineTest, ReadsTheStatusCode) {
  const Good cases[] = {
      {"HTTP/1.1 200 OK\r\n", 200},
      {"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", 503},
      {"HTTP/1.1 204 \r\n", 204},
      {"HTTP/1.1 404\r\n", 404},        // no reason phrase, no space
      {"HTTP/1.1 302 Found\n", 302},    // a bare LF ends the line too
      {"HTTP/1.1 200 OK\r\nbody", 200}, // whatever follows is ignored
  };
  for (const Good& c : cases) {
    const auto parsed = parseStatusLine(c.bytes);
    ASSERT_TRUE(parsed.isDone()) << c.bytes << ": " << parsed.error;
    EXPECT_EQ(parsed.value, c.status) << c.bytes;
  }
}

TEST(StatusLineTest, NeedsMoreUntilTheLineEnds) {
  for (const char* prefix : {"", "H", "HTTP/1", "HTTP/1.1 20", "HTTP/1.1 200 OK\r"}) {
    EXPECT_TRUE(parseStatusLine(prefix).needsMore()) << prefix;
  }
}

struct Bad {
  std::string bytes;
  std::string error;
};

TEST(StatusLineTest, RejectsWhatIsNotAnHttp1StatusLine) {
  const Bad cases[] = {
      {"SSH-2.0-OpenSSH_9.2\r\n", "not an HTTP/1.x response"},
      {"X", "not an HTTP/1.x response"}, // rejected at the first byte, without waiting
      {"HTTP/2 200\r\n", "not an HTTP/1.x response"},
      {"HTTP/1.1 20\r\n", "not an HTTP/1.x status line"},
      {"HTTP/1.x 200 OK\r\n", "not an HTTP/1.x status line"},
      {"HTTP/1.1  200 OK\r\n", "expected a three-digit status code"},
      {"HTTP/1.1 2000 OK\r\n", "expected a three-digit status code"},
      {"HTTP/1.1 abc OK\r\n", "expected a three-digit status code"},
  };
  for (const Bad& c : cases) {
    const auto parsed = parseStatusLine(c.bytes);
    ASSERT_TRUE(parsed.isBad()) << c.bytes;
    EXPECT_EQ(parsed.error, c.error) << c.bytes;
    EXPECT_EQ(parsed.code, ParseError::Malformed) << c.bytes;
  }
}

// A server that streams bytes without a line end cannot make the checker read on forever.
TEST(StatusLineTest, GivesUpWithoutALineEndInTheFirst4096Bytes) {
  const std::string endless = "HTTP/1.1 200 " + std::string(kMaxStatusLine, 'x');
  EXPECT_TRUE(parseStatusLine(endless.substr(0, kMaxStatusLine - 1)).needsMore());
  EXPECT_EQ(parseStatusLine(endless.substr(0, kMaxStatusLine)).code, ParseError::TooLong);
  EXPECT_EQ(parseStatusLine(endless + "\r\n").code, ParseError::TooLong);
}

} // namespace
} // namespace corral::protocol

// `corral check`: a good file passes with one summary line; a bad one lists every error as
// file:line:col: key: message and exits 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "tests/support/corral_process.h"

namespace corral::test {
namespace {

// "LINE:COL" (both from 1) of the first occurrence of `needle` in `text`.
std::string positionOf(std::string_view text, std::string_view needle) {
  const size_t offset = text.find(needle);
  EXPECT_NE(offset, std::string_view::npos) << needle;
  const std::string_view before = text.substr(0, offset);
  const size_t line_start = before.rfind('\n') + 1; // npos + 1 == 0 on the first line
  return fmt::format("{}:{}", std::count(before.begin(), before.end(), '\n') + 1,
                     offset - line_start + 1);
}

TEST(CheckTest, GoodFileExitsZeroWithOneSummaryLine) {
  const auto result = runCheck(R"(workers: 2
access_log: stdout
frontends:
  - name: web
    listen: 127.0.0.1:18080
    backend: app
    max_connections: 1000
    client_timeout: 30s
    drain_timeout: 5s
backends:
  - name: app
    balance: least_connections
    connect_timeout: 1s
    server_timeout: 30s
    retries: 1
    servers:
      - {address: 127.0.0.1:19001, weight: 2, name: s1}
      - {address: 127.0.0.1:19002}
)");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  ASSERT_FALSE(result.out.empty());
  EXPECT_EQ(std::count(result.out.begin(), result.out.end(), '\n'), 1) << result.out;
}

// Three mistakes: a bad duration, an unknown balance, a misspelt key. All three are reported, each
// at its own place; values are pointed at where the value starts, a misspelt key at the key.
TEST(CheckTest, BadFileReportsEveryErrorWithFileLineAndColumn) {
  constexpr std::string_view kBad = R"(frontends:
  - name: web
    listen: 127.0.0.1:18080
    backend: app
    client_timeout: 5x
backends:
  - name: app
    balance: fastest
    conect_timeout: 1s
    servers: [{address: 127.0.0.1:19001}]
)";
  const auto result = runCheck(kBad);
  EXPECT_EQ(result.exit_code, 1);
  const std::string& path = result.config_path;
  EXPECT_NE(result.err.find(fmt::format("{}:{}: frontends[0].client_timeout:", path,
                                        positionOf(kBad, "5x"))),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find(fmt::format("{}:{}: backends[0].balance:", path,
                                        positionOf(kBad, "fastest"))),
            std::string::npos)
      << result.err;
  const std::string misspelt = fmt::format("{}:{}:", path, positionOf(kBad, "conect_timeout"));
  const size_t at = result.err.find(misspelt);
  ASSERT_NE(at, std::string::npos) << result.err;
  const std::string line = result.err.substr(at, result.err.find('\n', at) - at);
  EXPECT_NE(line.find("conect_timeout"), std::string::npos) << line;
  EXPECT_NE(line.find("connect_timeout"), std::string::npos) << "no suggestion: " << line;
}

} // namespace
} // namespace corral::test

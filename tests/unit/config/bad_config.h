#pragma once
// A table-driven check for configurations that must fail, shared by the loader's test files.

#include <algorithm>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "corral/config/loader.h"

namespace corral::config {

struct BadConfig {
  std::string name; // the test's name
  std::string yaml;
  std::string where; // "line:column", both 1-based
  std::string key;
  std::string message; // a fragment of the message
};

/// A valid file with `extra` lines appended inside frontends[0] (listening on `listen`), from
/// line 6 on, indented by 4.
inline std::string frontendOn(std::string_view listen, std::string_view extra) {
  return fmt::format(R"(backends: [{{name: app, servers: [{{address: "127.0.0.1:9001"}}]}}]
frontends:
  - name: web
    listen: "{}"
    backend: app
{}
)",
                     listen, extra);
}

inline std::string frontendWith(std::string_view extra) {
  return frontendOn("127.0.0.1:8080", extra);
}

// The bad input fails to load, and among its diagnostics is an error at the expected line,
// column and key whose message holds the expected fragment.
inline void expectReported(const BadConfig& bad) {
  auto loaded = loadString(bad.yaml, "corral.yaml");
  ASSERT_FALSE(loaded) << bad.yaml;
  std::string all;
  for (const Diagnostic& d : loaded.error()) {
    all += d.toString() + "\n";
  }
  const auto match =
      std::find_if(loaded.error().begin(), loaded.error().end(), [&](const Diagnostic& d) {
        return d.key == bad.key && d.message.find(bad.message) != std::string::npos;
      });
  ASSERT_NE(match, loaded.error().end())
      << "no " << bad.key << ": ..." << bad.message << "... among:\n"
      << all;
  EXPECT_EQ(fmt::format("{}:{}", match->line, match->column), bad.where) << all;
  EXPECT_FALSE(match->warning);
}

} // namespace corral::config

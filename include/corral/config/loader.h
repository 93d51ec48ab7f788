#pragma once
// YAML → validated Config. Collects every problem instead of stopping at the first, so that
// `corral check` can print them all at once.

#include <string>
#include <string_view>
#include <vector>

#include "corral/config/config.h"

namespace corral::config {

/// One finding, printed as "file:line:col: key: message" (line and column 1-based).
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key; // path such as "backends[0].health_check.interval"
  std::string message;
  bool warning = false;

  std::string toString() const;
};

struct Loaded {
  Config config;
  std::vector<Diagnostic> warnings;
};

/// Reads and validates a file. On failure returns every error found (never empty).
std::expected<Loaded, std::vector<Diagnostic>> loadFile(const std::string& path);

/// Same, from text; `file` names it in diagnostics and relative paths resolve against the cwd.
std::expected<Loaded, std::vector<Diagnostic>> loadString(std::string_view yaml,
                                                          const std::string& file);

} // namespace corral::config

#include <fmt/format.h>

#include "commands.h"
#include "corral/config/loader.h"

namespace corral::cli {

// Prints every error (and warning) as file:line:col: key: message, then exits 1 on errors.
int checkCommand(const std::string& config_path) {
  auto loaded = config::loadFile(config_path);
  if (!loaded) {
    for (const auto& diagnostic : loaded.error()) {
      fmt::print(stderr, "{}\n", diagnostic.toString());
    }
    const size_t errors = loaded.error().size();
    fmt::print(stderr, "{}: {} error{}\n", config_path, errors, errors == 1 ? "" : "s");
    return 1;
  }
  for (const auto& warning : loaded->warnings) {
    fmt::print(stderr, "{}\n", warning.toString());
  }
  const config::Config& config = loaded->config;
  size_t servers = 0;
  for (const auto& backend : config.backends) {
    servers += backend.servers.size();
  }
  fmt::print("{}: ok ({} frontends, {} backends, {} servers, {} warnings)\n", config_path,
             config.frontends.size(), config.backends.size(), servers, loaded->warnings.size());
  return 0;
}

} // namespace corral::cli

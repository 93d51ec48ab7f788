#include <fmt/format.h>

#include "commands.h"
#include "corral/config/loader.h"
#include "corral/tls/certificate_check.h"

namespace corral::cli {
namespace {

// Certificates and keys are files the YAML only names: open them now, so that a missing file or a
// key that does not match is found by `check`, not at the first reload in production.
size_t checkTlsFiles(const config::Config& config, size_t& warnings) {
  size_t errors = 0;
  auto report = [&](std::string_view where, const tls::CertificateDiagnostics& found) {
    for (const auto& error : found.errors) {
      fmt::print(stderr, "{}: {}: {}\n", config.source, where, error);
    }
    for (const auto& warning : found.warnings) {
      fmt::print(stderr, "{}: warning: {}: {}\n", config.source, where, warning);
    }
    errors += found.errors.size();
    warnings += found.warnings.size();
  };
  for (const auto& frontend : config.frontends) {
    if (frontend.tls) {
      report(fmt::format("frontend {} tls", frontend.name), tls::checkCertificates(*frontend.tls));
    }
  }
  for (const auto& backend : config.backends) {
    for (const auto& server : backend.servers) {
      if (server.tls) {
        report(fmt::format("backend {} server {} tls", backend.name, server.name),
               tls::checkServerTls(*server.tls));
      }
    }
  }
  return errors;
}

} // namespace

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
  size_t warnings = loaded->warnings.size();
  if (const size_t errors = checkTlsFiles(config, warnings); errors > 0) {
    fmt::print(stderr, "{}: {} error{}\n", config_path, errors, errors == 1 ? "" : "s");
    return 1;
  }
  size_t servers = 0;
  for (const auto& backend : config.backends) {
    servers += backend.servers.size();
  }
  fmt::print("{}: ok ({} frontends, {} backends, {} servers, {} warnings)\n", config_path,
             config.frontends.size(), config.backends.size(), servers, warnings);
  return 0;
}

} // namespace corral::cli

#include "frontend_build.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace corral::runtime {
namespace {

// Size and modification time stand for a file's content: a renewed certificate (certbot writes
// new files, an operator copies over the old ones) changes at least one of them.
std::string fileStamp(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return fmt::format("{}:missing", path);
  }
  return fmt::format("{}:{}:{}.{}", path, info.st_size, info.st_mtim.tv_sec, info.st_mtim.tv_nsec);
}

std::string fingerprint(const config::TlsConfig& tls) {
  std::string text = tls.min_version;
  for (const std::string& protocol : tls.alpn) {
    text += fmt::format("|alpn:{}", protocol);
  }
  for (const config::CertificateConfig& certificate : tls.certificates) {
    text += "|" + fileStamp(certificate.cert) + "|" + fileStamp(certificate.key);
  }
  return text;
}

std::string lowerCase(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

Result<size_t> backendIndex(const std::vector<Backend>& backends, std::string_view name) {
  for (size_t i = 0; i < backends.size(); ++i) {
    if (backends[i].config->name == name) {
      return i;
    }
  }
  return fail(ErrorCode::BadConfig, fmt::format("unknown backend {}", name));
}

} // namespace

Result<void> buildFrontendTls(Frontend& frontend, const Frontend* previous) {
  if (!frontend.config->tls) {
    return {};
  }
  frontend.tls_fingerprint = fingerprint(*frontend.config->tls);
  if (previous != nullptr && previous->tls != nullptr &&
      previous->tls_fingerprint == frontend.tls_fingerprint) {
    frontend.tls = previous->tls;
    return {};
  }
  auto context = tls::ServerContext::create(*frontend.config->tls);
  if (!context) {
    return std::unexpected(context.error());
  }
  frontend.tls = std::move(*context);
  return {};
}

Result<void> buildSniRoutes(Frontend& frontend, const std::vector<Backend>& backends) {
  const config::TlsPassthroughConfig& passthrough = *frontend.config->tls_passthrough;
  frontend.backend = Frontend::kNoBackend;
  if (!passthrough.default_backend.empty()) {
    auto index = backendIndex(backends, passthrough.default_backend);
    if (!index) {
      return std::unexpected(index.error());
    }
    frontend.backend = *index;
  }
  for (const config::SniRoute& route : passthrough.routes) {
    auto index = backendIndex(backends, route.backend);
    if (!index) {
      return std::unexpected(index.error());
    }
    const bool wildcard = route.sni.starts_with("*.");
    frontend.sni_routes.push_back({.pattern = lowerCase(wildcard ? route.sni.substr(1) : route.sni),
                                   .wildcard = wildcard,
                                   .backend = *index});
  }
  return {};
}

Result<void> buildServerTls(Server& server, const config::ServerConfig& config,
                            const std::optional<config::HealthCheckConfig>& check) {
  server.host = config.address.host;
  if (config.tls) {
    auto context = tls::ClientContext::create(*config.tls);
    if (!context) {
      return std::unexpected(context.error());
    }
    server.tls = std::move(*context);
  }
  if (!check || !check->tls) {
    return {};
  }
  if (server.tls != nullptr && check->sni.empty()) {
    server.health_tls = server.tls;
    return {};
  }
  config::ServerTlsConfig settings = config.tls.value_or(config::ServerTlsConfig{.verify = false});
  if (!check->sni.empty()) {
    settings.sni = check->sni;
  }
  auto context = tls::ClientContext::create(settings);
  if (!context) {
    context.error().message = fmt::format("health_check: {}", context.error().message);
    return std::unexpected(context.error());
  }
  server.health_tls = std::move(*context);
  return {};
}

size_t Frontend::routeSni(std::string_view server_name) const {
  const std::string name = lowerCase(server_name);
  const SniRoute* best = nullptr;
  for (const SniRoute& route : sni_routes) {
    if (!route.wildcard && route.pattern == name) {
      return route.backend;
    }
    // ".example.com" matches "a.example.com" and "a.b.example.com", never "example.com".
    const bool matches = route.wildcard && name.size() > route.pattern.size() &&
                         name.ends_with(route.pattern);
    if (matches && (best == nullptr || route.pattern.size() > best->pattern.size())) {
      best = &route;
    }
  }
  return best != nullptr ? best->backend : backend;
}

} // namespace corral::runtime

#include "config/validate.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "corral/core/address.h"

#include "config/yaml_reader.h"

namespace corral::config {
namespace {

// Reports the second and later uses of each non-empty name; `path(i)` is where item i's name is.
template <class T, class Path>
void checkUnique(const std::vector<T>& items, std::string_view what, Path path,
                 Diagnostics& diagnostics) {
  std::map<std::string_view, size_t> first;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string& name = items[i].name;
    if (name.empty()) {
      continue;
    }
    if (auto [it, added] = first.try_emplace(name, i); !added) {
      diagnostics.errorAt(
          path(i), fmt::format("{} \"{}\" is already used by {}", what, name, path(it->second)));
    }
  }
}

void checkNames(const Config& config, Diagnostics& diagnostics) {
  checkUnique(
      config.frontends, "frontend name",
      [](size_t i) { return fmt::format("frontends[{}].name", i); }, diagnostics);
  checkUnique(
      config.backends, "backend name", [](size_t i) { return fmt::format("backends[{}].name", i); },
      diagnostics);
  for (size_t b = 0; b < config.backends.size(); ++b) {
    // An unnamed server's name is its address, so this also finds an address listed twice.
    checkUnique(
        config.backends[b].servers, "server name",
        [b](size_t i) { return fmt::format("backends[{}].servers[{}].name", b, i); }, diagnostics);
  }
}

// `key` names a backend; sticky_cookie ones (and hash ones keyed by the request) cannot be reached
// through tls_passthrough, which never sees the HTTP request that carries the cookie or key.
void checkReference(const Config& config, const std::string& name, const std::string& key,
                    bool encrypted, Diagnostics& diagnostics) {
  if (name.empty()) {
    return;
  }
  const BackendConfig* backend = config.findBackend(name);
  if (backend == nullptr) {
    std::vector<std::string_view> names;
    for (const BackendConfig& b : config.backends) {
      names.push_back(b.name);
    }
    const auto suggestion = closestWord(name, names);
    diagnostics.errorAt(key, suggestion ? fmt::format("unknown backend \"{}\"; did you mean '{}'?",
                                                      name, *suggestion)
                                        : fmt::format("unknown backend \"{}\"", name));
  } else if (encrypted && backend->balance == Balance::StickyCookie) {
    diagnostics.errorAt(key, fmt::format("backend \"{}\" balances by sticky_cookie, which needs "
                                         "the HTTP request; tls_passthrough keeps it encrypted",
                                         name));
  } else if (encrypted && backend->balance == Balance::Hash && backend->hash.needsRequestHead()) {
    diagnostics.errorAt(key, fmt::format("backend \"{}\" hashes a key of the HTTP request, which "
                                         "tls_passthrough keeps encrypted; use key: sni",
                                         name));
  }
}

void checkReferences(const Config& config, Diagnostics& diagnostics) {
  for (size_t f = 0; f < config.frontends.size(); ++f) {
    const FrontendConfig& frontend = config.frontends[f];
    const std::string prefix = fmt::format("frontends[{}]", f);
    if (!frontend.tls_passthrough) {
      checkReference(config, frontend.backend, prefix + ".backend", false, diagnostics);
      continue;
    }
    const auto& routes = frontend.tls_passthrough->routes;
    for (size_t r = 0; r < routes.size(); ++r) {
      checkReference(config, routes[r].backend,
                     fmt::format("{}.tls_passthrough.routes[{}].backend", prefix, r), true,
                     diagnostics);
    }
    checkReference(config, frontend.tls_passthrough->default_backend,
                   prefix + ".tls_passthrough.default_backend", true, diagnostics);
  }
}

// Every address corral binds: frontends, admin and metrics. Port 0 asks the kernel for a fresh
// port, so it never collides.
void checkListenAddresses(const Config& config, Diagnostics& diagnostics) {
  std::vector<std::pair<std::string, HostPort>> listens;
  for (size_t f = 0; f < config.frontends.size(); ++f) {
    listens.emplace_back(fmt::format("frontends[{}].listen", f), config.frontends[f].listen);
  }
  if (config.admin) {
    listens.emplace_back("admin.listen", config.admin->listen);
  }
  if (config.metrics) {
    listens.emplace_back("metrics.listen", config.metrics->listen);
  }
  std::map<std::string, std::string> first;
  for (const auto& [key, listen] : listens) {
    const auto address = SocketAddress::fromHostPort(listen);
    if (!address || listen.port == 0) {
      continue;
    }
    if (auto [it, added] = first.try_emplace(address->toString(), key); !added) {
      diagnostics.errorAt(
          key, fmt::format("{} is already bound by {}", address->toString(), it->second));
    }
  }
}

// Two backends that spawn instances on overlapping ports would fight over them.
void checkSpawnPorts(const Config& config, Diagnostics& diagnostics) {
  for (size_t b = 0; b < config.backends.size(); ++b) {
    const auto& spawn = config.backends[b].spawn;
    for (size_t other = 0; spawn && spawn->port_first != 0 && other < b; ++other) {
      const auto& earlier = config.backends[other].spawn;
      if (earlier && earlier->port_first != 0 && spawn->port_first <= earlier->port_last &&
          earlier->port_first <= spawn->port_last) {
        diagnostics.errorAt(fmt::format("backends[{}].spawn.ports", b),
                            fmt::format("overlaps the ports of backends[{}].spawn", other));
      }
    }
  }
}

void checkUnusedBackends(const Config& config, Diagnostics& diagnostics) {
  std::set<std::string_view> used;
  for (const FrontendConfig& frontend : config.frontends) {
    used.insert(frontend.backend);
    if (frontend.tls_passthrough) {
      used.insert(frontend.tls_passthrough->default_backend);
      for (const SniRoute& route : frontend.tls_passthrough->routes) {
        used.insert(route.backend);
      }
    }
  }
  for (size_t b = 0; b < config.backends.size(); ++b) {
    const std::string& name = config.backends[b].name;
    if (!name.empty() && !used.contains(name)) {
      diagnostics.warnAt(fmt::format("backends[{}].name", b), "no frontend uses this backend");
    }
  }
}

// A client that picks h2 sends binary frames where sticky_cookie waits for an HTTP/1 request head
// with its Cookie header, so it can never be kept on its server.
void checkAlpnForStickyCookie(const Config& config, Diagnostics& diagnostics) {
  for (size_t f = 0; f < config.frontends.size(); ++f) {
    const FrontendConfig& frontend = config.frontends[f];
    const BackendConfig* backend = config.findBackend(frontend.backend);
    if (!frontend.tls || backend == nullptr || backend->balance != Balance::StickyCookie) {
      continue;
    }
    const auto& alpn = frontend.tls->alpn;
    const auto h2 = std::find(alpn.begin(), alpn.end(), "h2");
    if (h2 != alpn.end()) {
      diagnostics.warnAt(fmt::format("frontends[{}].tls.alpn[{}]", f, h2 - alpn.begin()),
                         fmt::format("offers h2, but backend \"{}\" balances by sticky_cookie, "
                                     "which reads HTTP/1 requests only: a client that picks h2 "
                                     "cannot be kept on its server; offer http/1.1 only",
                                     backend->name));
    }
  }
}

// The http check speaks plain HTTP; a server that corral reaches over TLS answers it with a TLS
// alert or not at all, so the check fails and the server never comes up.
void checkHttpCheckOverTls(const Config& config, Diagnostics& diagnostics) {
  for (size_t b = 0; b < config.backends.size(); ++b) {
    const BackendConfig& backend = config.backends[b];
    if (!backend.health_check || backend.health_check->type != HealthCheckType::Http) {
      continue;
    }
    const auto& servers = backend.servers;
    const auto tls = std::find_if(servers.begin(), servers.end(), [](const ServerConfig& server) {
      return server.tls.has_value();
    });
    if (tls != servers.end()) {
      diagnostics.warnAt(fmt::format("backends[{}].health_check.type", b),
                         fmt::format("an http check speaks plain HTTP, but servers[{}] is reached "
                                     "over TLS: its checks will fail and it will stay down; use "
                                     "type: tcp",
                                     tls - servers.begin()));
    }
  }
}

} // namespace

void validate(const Config& config, Diagnostics& diagnostics) {
  if (config.frontends.empty()) {
    diagnostics.errorAt("frontends", "at least one frontend is required");
  }
  checkNames(config, diagnostics);
  checkReferences(config, diagnostics);
  checkListenAddresses(config, diagnostics);
  checkSpawnPorts(config, diagnostics);
  checkUnusedBackends(config, diagnostics);
  checkAlpnForStickyCookie(config, diagnostics);
  checkHttpCheckOverTls(config, diagnostics);
}

} // namespace corral::config

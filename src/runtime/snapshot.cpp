#include "corral/runtime/snapshot.h"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "backend_build.h"
#include "frontend_build.h"

namespace corral::runtime {
namespace {

template <class T>
std::shared_ptr<T> carryOver(const std::shared_ptr<T>* previous, size_t workers) {
  return previous != nullptr ? *previous : std::make_shared<T>(workers);
}

size_t workerCount(const config::Config& config, const Snapshot* previous) {
  if (previous != nullptr) {
    return previous->workers; // threads are not restarted by a reload
  }
  return config.workers > 0 ? config.workers : std::max(1u, std::thread::hardware_concurrency());
}

const Server* findServer(const Snapshot* snapshot, std::string_view backend,
                         std::string_view server) {
  if (snapshot == nullptr) {
    return nullptr;
  }
  for (const Backend& b : snapshot->backends) {
    if (b.config->name != backend) {
      continue;
    }
    for (const Server& s : b.servers) {
      if (s.name == server) {
        return &s;
      }
    }
  }
  return nullptr;
}

// The servers of a spawn backend: one per instance slot, named app#0, app#1, ... Once the
// supervisor has announced slots, only those: a slot added by a reload or `ctl scale` joins when
// its instance starts, on the port it was given.
std::vector<config::ServerConfig> spawnedServers(const config::BackendConfig& backend,
                                                 const Snapshot::Spawned& spawned) {
  const config::SpawnConfig& spawn = *backend.spawn;
  const auto known = spawned.find(backend.name);
  uint32_t instances = spawn.instances; // `auto` is resolved by the loader
  if (known != spawned.end() && !known->second.empty()) {
    instances = std::min<uint32_t>(instances, static_cast<uint32_t>(known->second.size()));
  }
  std::vector<config::ServerConfig> servers;
  for (uint32_t slot = 0; slot < instances; ++slot) {
    HostPort address{.host = "127.0.0.1", .port = static_cast<uint16_t>(spawn.port_first + slot)};
    if (known != spawned.end() && slot < known->second.size()) {
      address = {.host = known->second[slot].ipString(), .port = known->second[slot].port()};
    }
    servers.push_back({.address = address, .weight = 1,
                       .name = fmt::format("{}#{}", backend.name, slot), .tls = std::nullopt});
  }
  return servers;
}

// Same name and address: the same server, counters and all. Same name, new address (a rolled
// instance, a changed config): new counters, same health and operator state.
std::shared_ptr<ServerStats> statsFor(const Server* old, const SocketAddress& address,
                                      size_t workers, bool checked) {
  if (old != nullptr && old->address.toString() == address.toString()) {
    return old->stats;
  }
  auto stats = std::make_shared<ServerStats>(workers);
  if (old != nullptr) {
    stats->health.store(old->stats->health.load());
    stats->admin.store(old->stats->admin.load());
    stats->weight_override.store(old->stats->weight_override.load());
    stats->up_since_ms.store(old->stats->up_since_ms.load());
  } else if (checked) {
    stats->health.store(Health::Unknown); // until its first check
  }
  return stats;
}

// The backend (or, for tls_passthrough, the SNI routes) and the TLS context of one frontend.
Result<Frontend> buildFrontend(const config::FrontendConfig& config,
                               const std::vector<Backend>& backends, const Frontend* old,
                               size_t workers) {
  Frontend frontend{.config = &config,
                    .backend = 0,
                    .stats = carryOver(old ? &old->stats : nullptr, workers)};
  if (config.max_connections_per_client > 0 || config.connection_rate_per_client > 0) {
    frontend.clients = old && old->clients ? old->clients : std::make_shared<ClientTable>();
  }
  if (config.tls_passthrough) {
    if (auto routes = buildSniRoutes(frontend, backends); !routes) {
      return std::unexpected(routes.error());
    }
    return frontend;
  }
  while (frontend.backend < backends.size() &&
         backends[frontend.backend].config->name != config.backend) {
    ++frontend.backend;
  }
  if (frontend.backend == backends.size()) {
    return fail(ErrorCode::BadConfig, fmt::format("unknown backend {}", config.backend));
  }
  if (auto tls = buildFrontendTls(frontend, old); !tls) {
    tls.error().message = fmt::format("tls: {}", tls.error().message);
    return std::unexpected(tls.error());
  }
  return frontend;
}

} // namespace

Result<std::shared_ptr<const Snapshot>> Snapshot::build(config::Config config,
                                                        const Snapshot* previous,
                                                        const Spawned& spawned) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->config = std::move(config);
  const size_t workers = snapshot->workers = workerCount(snapshot->config, previous);
  snapshot->worker_cells = previous != nullptr
                               ? previous->worker_cells
                               : std::make_shared<PerWorker<WorkerCells>>(workers);
  for (config::BackendConfig& backend_config : snapshot->config.backends) {
    if (backend_config.spawn) {
      backend_config.servers = spawnedServers(backend_config, spawned);
    }
    const Backend* old_backend = previous ? previous->findBackend(backend_config.name) : nullptr;
    Backend backend{.config = &backend_config,
                    .servers = {},
                    .stats = carryOver(old_backend ? &old_backend->stats : nullptr, workers)};
    for (const config::ServerConfig& server_config : backend_config.servers) {
      // DNS names were expanded to their records by discovery (discovery.h); a name here is a
      // caller's mistake, and resolving it would block.
      auto address = SocketAddress::fromHostPort(server_config.address);
      if (!address) {
        address.error().message = fmt::format("backend {}, server {}: {}", backend_config.name,
                                              server_config.name, address.error().message);
        return std::unexpected(address.error());
      }
      const Server* old = findServer(previous, backend_config.name, server_config.name);
      Server server{.name = server_config.name,
                    .address = *address,
                    .weight = server_config.weight,
                    .stats = statsFor(old, *address, workers, backend_config.health_check.has_value()),
                    .max_connections = server_config.max_connections > 0
                                           ? server_config.max_connections
                                           : backend_config.server_max_connections,
                    .backup = server_config.backup};
      if (auto tls = buildServerTls(server, server_config, backend_config.health_check); !tls) {
        tls.error().message = fmt::format("backend {}, server {}: tls: {}", backend_config.name,
                                          server_config.name, tls.error().message);
        return std::unexpected(tls.error());
      }
      backend.servers.push_back(std::move(server));
    }
    for (auto built : {buildMaglev(backend), buildCookieSigner(backend, old_backend)}) {
      if (!built) {
        built.error().message = fmt::format("backend {}: {}", backend_config.name,
                                            built.error().message);
        return std::unexpected(built.error());
      }
    }
    snapshot->backends.push_back(std::move(backend));
  }
  for (const config::FrontendConfig& frontend_config : snapshot->config.frontends) {
    const Frontend* old = previous ? previous->findFrontend(frontend_config.name) : nullptr;
    auto frontend = buildFrontend(frontend_config, snapshot->backends, old, workers);
    if (!frontend) {
      frontend.error().message =
          fmt::format("frontend {}: {}", frontend_config.name, frontend.error().message);
      return std::unexpected(frontend.error());
    }
    snapshot->frontends.push_back(std::move(*frontend));
  }
  return snapshot;
}

const Frontend* Snapshot::findFrontend(std::string_view name) const {
  for (const Frontend& frontend : frontends) {
    if (frontend.config->name == name) {
      return &frontend;
    }
  }
  return nullptr;
}

} // namespace corral::runtime

namespace corral::runtime {

const Backend* Snapshot::findBackend(std::string_view name) const {
  for (const Backend& backend : backends) {
    if (backend.config->name == name) {
      return &backend;
    }
  }
  return nullptr;
}

} // namespace corral::runtime

namespace corral::runtime {

int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint32_t Server::effectiveWeight(std::chrono::milliseconds slow_start, int64_t now_ms) const {
  const int32_t override_weight = stats->weight_override.load(std::memory_order_relaxed);
  const uint32_t base = override_weight >= 0 ? static_cast<uint32_t>(override_weight) : weight;
  if (slow_start.count() <= 0 || base == 0) {
    return base;
  }
  const int64_t elapsed = now_ms - stats->up_since_ms.load(std::memory_order_relaxed);
  if (elapsed >= slow_start.count()) {
    return base;
  }
  // Linear ramp from 10% to 100%, never below 1 so a slow-starting server still gets a little.
  const double factor = 0.1 + 0.9 * static_cast<double>(std::max<int64_t>(elapsed, 0)) /
                                  static_cast<double>(slow_start.count());
  return std::max<uint32_t>(1, static_cast<uint32_t>(base * factor));
}

} // namespace corral::runtime

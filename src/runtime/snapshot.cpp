#include "corral/runtime/snapshot.h"

#include <netdb.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "backend_build.h"

namespace corral::runtime {
namespace {

// Numeric addresses parse directly; names go through getaddrinfo, which blocks: this runs on the
// control thread at start or reload, never on a worker.
Result<SocketAddress> resolve(const HostPort& host_port) {
  if (auto numeric = SocketAddress::fromHostPort(host_port)) {
    return numeric;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(host_port.port);
  const int rc = getaddrinfo(host_port.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return fail(ErrorCode::NotFound,
                fmt::format("cannot resolve \"{}\": {}", host_port.host, gai_strerror(rc)));
  }
  SocketAddress address = SocketAddress::fromSockaddr(found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  return address;
}

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

} // namespace

Result<std::shared_ptr<const Snapshot>> Snapshot::build(config::Config config,
                                                        const Snapshot* previous) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->config = std::move(config);
  const size_t workers = snapshot->workers = workerCount(snapshot->config, previous);
  snapshot->worker_cells = previous != nullptr
                               ? previous->worker_cells
                               : std::make_shared<PerWorker<WorkerCells>>(workers);
  for (const config::BackendConfig& backend_config : snapshot->config.backends) {
    const Backend* old_backend = previous ? previous->findBackend(backend_config.name) : nullptr;
    Backend backend{.config = &backend_config,
                    .servers = {},
                    .stats = carryOver(old_backend ? &old_backend->stats : nullptr, workers)};
    for (const config::ServerConfig& server_config : backend_config.servers) {
      auto address = resolve(server_config.address);
      if (!address) {
        address.error().message = fmt::format("backend {}, server {}: {}", backend_config.name,
                                              server_config.name, address.error().message);
        return std::unexpected(address.error());
      }
      const Server* old = findServer(previous, backend_config.name, server_config.name);
      backend.servers.push_back({.name = server_config.name,
                                 .address = *address,
                                 .weight = server_config.weight,
                                 .stats = carryOver(old ? &old->stats : nullptr, workers)});
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
    size_t index = 0;
    while (index < snapshot->backends.size() &&
           snapshot->backends[index].config->name != frontend_config.backend) {
      ++index;
    }
    if (index == snapshot->backends.size()) {
      return fail(ErrorCode::BadConfig, fmt::format("frontend {}: unknown backend {}",
                                                    frontend_config.name, frontend_config.backend));
    }
    const Frontend* old = previous ? previous->findFrontend(frontend_config.name) : nullptr;
    snapshot->frontends.push_back({.config = &frontend_config,
                                   .backend = index,
                                   .stats = carryOver(old ? &old->stats : nullptr, workers)});
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

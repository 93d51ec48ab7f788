#include "corral/runtime/placement.h"

#include <algorithm>
#include <cassert>

namespace corral::runtime {

namespace {

bool availableNow(const Backend& backend, size_t index, std::span<const uint32_t> tried,
                  int64_t now_ms) {
  return std::find(tried.begin(), tried.end(), index) == tried.end() &&
         backend.servers[index].stats->acceptsNew(now_ms);
}

} // namespace

bool mayTakeNew(const Backend& backend, size_t index, std::span<const uint32_t> tried,
                int64_t now_ms) {
  if (!availableNow(backend, index, tried, now_ms)) {
    return false;
  }
  if (!backend.servers[index].backup) {
    return true;
  }
  for (size_t i = 0; i < backend.servers.size(); ++i) {
    if (!backend.servers[i].backup && availableNow(backend, i, tried, now_ms)) {
      return false;
    }
  }
  return true;
}

void fillCandidates(const Backend& backend, std::span<const uint32_t> tried, int64_t now_ms,
                    std::vector<balance::Candidate>& out) {
  out.clear();
  const std::chrono::milliseconds slow_start = backend.config->slow_start;
  for (size_t i = 0; i < backend.servers.size(); ++i) {
    const Server& server = backend.servers[i];
    out.push_back({.weight = server.effectiveWeight(slow_start, now_ms),
                   .active = server.stats->active.load(std::memory_order_relaxed),
                   .eligible = mayTakeNew(backend, i, tried, now_ms)});
  }
}

std::vector<balance::MaglevServer> maglevServers(const Backend& backend, int64_t now_ms) {
  std::vector<balance::MaglevServer> servers;
  servers.reserve(backend.servers.size());
  for (const Server& server : backend.servers) {
    servers.push_back({.name = server.name,
                       .weight = server.effectiveWeight(backend.config->slow_start, now_ms)});
  }
  return servers;
}

Result<std::shared_ptr<const balance::MaglevTable>> buildMaglevTable(const Backend& backend,
                                                                     int64_t now_ms) {
  const config::BackendConfig& config = *backend.config;
  auto table = balance::MaglevTable::create(maglevServers(backend, now_ms),
                                            config.balance == config::Balance::Hash
                                                ? config.hash.table_size
                                                : config.ip_hash.table_size);
  if (!table) {
    return std::unexpected(table.error());
  }
  return std::shared_ptr<const balance::MaglevTable>(std::move(*table));
}

std::unique_ptr<balance::Balancer> makeBalancer(const Backend& backend,
                                                std::shared_ptr<const balance::MaglevTable> table) {
  switch (backend.placement()) {
  case config::Balance::LeastConnections:
    return balance::makeLeastConnections(backend.servers.size());
  case config::Balance::IpHash:
    assert(table != nullptr); // Snapshot::build makes one for every ip_hash placement
    return balance::makeIpHash(std::move(table));
  case config::Balance::RoundRobin:
  case config::Balance::StickyCookie: // never a placement: its fallback is
  case config::Balance::Hash:
    break;
  }
  return balance::makeRoundRobin(backend.servers.size());
}

std::unique_ptr<balance::Balancer> makeBalancer(const Backend& backend) {
  return makeBalancer(backend, backend.maglev);
}

} // namespace corral::runtime

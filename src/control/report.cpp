// `ctl status` and `ctl route` from a snapshot (report.h).

#include "report.h"

#include <algorithm>
#include <cctype>
#include <span>

#include <fmt/format.h>

#include "corral/balance/client_key.h"
#include "corral/balance/key_hash.h"
#include "corral/runtime/placement.h"

namespace corral::control {
namespace {

std::string_view balanceName(config::Balance balance) {
  switch (balance) {
  case config::Balance::RoundRobin: return "round_robin";
  case config::Balance::LeastConnections: return "least_connections";
  case config::Balance::IpHash: return "ip_hash";
  case config::Balance::StickyCookie: return "sticky_cookie";
  case config::Balance::Hash: return "hash";
  }
  return "unknown";
}

template <class Cells, class Field>
uint64_t sum(const runtime::PerWorker<Cells>& cells, Field field) {
  uint64_t total = 0;
  for (size_t w = 0; w < cells.size(); ++w) {
    total += (cells.at(w).*field).get();
  }
  return total;
}

// The state word of DESIGN.md: operator state first, then health, then passive ejection.
std::pair<std::string, std::string> stateOf(const runtime::ServerStats& stats,
                                            const std::string& last_check) {
  switch (stats.admin.load()) {
  case runtime::AdminState::Disabled: return {"disabled", ""};
  case runtime::AdminState::Drain: return {"drain", ""};
  case runtime::AdminState::Enabled: break;
  }
  switch (stats.health.load()) {
  case runtime::Health::Unknown: return {"unknown", ""};
  case runtime::Health::Down: return {"down", last_check};
  case runtime::Health::Up: break;
  }
  if (stats.ejected_until_ms.load() > runtime::steadyMs()) {
    return {"down", "ejected after failed connects"};
  }
  return {"up", ""};
}

std::string tlsMode(const config::FrontendConfig& frontend) {
  return frontend.tls ? "terminate" : frontend.tls_passthrough ? "passthrough" : "off";
}

uint64_t rejected(const runtime::PerWorker<runtime::FrontendCells>& cells) {
  uint64_t total = 0;
  for (size_t w = 0; w < cells.size(); ++w) {
    for (const auto& counter : cells.at(w).rejected) {
      total += counter.get();
    }
  }
  return total;
}

} // namespace

admin::Status statusOf(const runtime::Snapshot& snapshot, const StatusInputs& inputs) {
  admin::Status status{
      .version = std::string(inputs.version),
      .uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - inputs.started_at).count()};
  const auto& bound = inputs.bound;
  for (size_t i = 0; i < snapshot.frontends.size(); ++i) {
    const runtime::Frontend& frontend = snapshot.frontends[i];
    status.frontends.push_back(
        {.name = frontend.config->name,
         .listen = i < bound.size() ? bound[i].second.toString() : "",
         .backend = frontend.config->backend,
         .tls = tlsMode(*frontend.config),
         .active = frontend.stats->active.load(),
         .total = sum(frontend.stats->cells, &runtime::FrontendCells::connections),
         .rejected = rejected(frontend.stats->cells)});
  }
  const int64_t now = runtime::steadyMs();
  for (const runtime::Backend& backend : snapshot.backends) {
    admin::BackendStatus backend_status{.name = backend.config->name,
                                        .balance = std::string(balanceName(backend.config->balance)),
                                        .servers = {}};
    const std::vector<cluster::InstanceStatus> instances = inputs.instances(backend.config->name);
    for (size_t s = 0; s < backend.servers.size(); ++s) {
      const runtime::Server& server = backend.servers[s];
      const auto check = inputs.last_checks.find({backend.config->name, server.name});
      const std::string last_check = check != inputs.last_checks.end() ? check->second.detail : "";
      auto [state, reason] = stateOf(*server.stats, last_check);
      const int32_t override_weight = server.stats->weight_override.load();
      admin::ServerStatus row{
          .name = server.name,
          .address = server.address.toString(),
          .state = state,
          .reason = reason,
          .weight = override_weight >= 0 ? static_cast<uint32_t>(override_weight) : server.weight,
          .effective_weight = server.effectiveWeight(backend.config->slow_start, now),
          .active = server.stats->active.load(),
          .total = sum(server.stats->cells, &runtime::ServerCells::connections),
          .bytes_in = sum(server.stats->cells, &runtime::ServerCells::bytes_in),
          .bytes_out = sum(server.stats->cells, &runtime::ServerCells::bytes_out),
          .last_check = last_check,
          .last_check_ms = check != inputs.last_checks.end() ? check->second.latency_ms : 0};
      if (s < instances.size()) {
        const auto& instance = instances[s];
        row.pid = instance.pid;
        row.uptime_s = std::chrono::duration<double>(std::chrono::system_clock::now() -
                                                     instance.started_at).count();
        row.restarts = static_cast<uint32_t>(instance.restarts);
      }
      backend_status.servers.push_back(std::move(row));
      backend_status.limited = backend_status.limited || server.max_connections > 0;
    }
    backend_status.queued = backend.stats->queue.length();
    status.backends.push_back(std::move(backend_status));
  }
  return status;
}

namespace {

// balance: hash: what Session::pickByKey would do with this key and these loads; nullopt when the
// connection would carry no key (it goes to hash.fallback).
std::optional<Result<admin::RouteAnswer>> routeHashKey(const runtime::Backend& backend,
                                                       const balance::MaglevTable& table,
                                                       const SocketAddress& client,
                                                       std::optional<std::string_view> value,
                                                       std::span<const balance::Candidate> candidates) {
  const config::HashConfig& hash = backend.config->hash;
  std::optional<uint64_t> key;
  if (hash.source == config::HashSource::ClientIp) {
    key = balance::clientKey(client, backend.config->ip_hash.ipv4_prefix,
                             backend.config->ip_hash.ipv6_prefix);
  } else if (value && !value->empty()) {
    std::string text(*value);
    if (hash.source == config::HashSource::Sni) { // as sessions do: names are case-insensitive
      std::ranges::transform(text, text.begin(), [](unsigned char c) { return std::tolower(c); });
    }
    key = balance::applicationKey(text);
  }
  if (!key) {
    return std::nullopt;
  }
  const auto pick = balance::pickByKey(table, candidates, *key, hash.bounded_load);
  if (!pick.server) {
    return fail(ErrorCode::Unavailable, fmt::format("no server of {} is up", backend.config->name));
  }
  const std::string& home = backend.servers[pick.first_choice].name;
  std::string why = fmt::format("hash: the key falls in table slot {} of {}, owned by {}", pick.slot,
                                table.tableSize(), home);
  if (pick.skipped_for_load > 0) {
    why += fmt::format("; bounded_load {} passed over {} slot(s) of servers above the bound",
                       hash.bounded_load, pick.skipped_for_load);
  } else if (*pick.server != pick.first_choice) {
    why += ", which cannot take clients now; the next slots' owner can";
  }
  return admin::RouteAnswer{.server = backend.servers[*pick.server].name, .reason = why};
}

} // namespace

Result<admin::RouteAnswer> routeOf(const runtime::Backend& backend,
                                   std::shared_ptr<const balance::MaglevTable> table,
                                   const NextPick& next_pick, size_t workers,
                                   const SocketAddress& client,
                                   std::optional<std::string_view> cookie,
                                   std::optional<std::string_view> key_value) {
  const std::string_view backend_name = backend.config->name;
  const int64_t now = runtime::steadyMs();
  std::string why;
  if (cookie && backend.cookie_signer) {
    const auto now_unix = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
    const auto id = backend.cookie_signer->verify(backend.config->name, *cookie, now_unix);
    for (const runtime::Server& server : backend.servers) {
      if (id && server.name == *id && server.stats->acceptsSticky(now)) {
        return admin::RouteAnswer{.server = server.name,
                                  .reason = "sticky cookie names this server, which is up"};
      }
    }
    why = id ? fmt::format("cookie names {}, which cannot take clients; ", *id)
             : "cookie is not valid (forged, expired or another backend's); ";
  }
  std::vector<balance::Candidate> candidates;
  runtime::fillCandidates(backend, {}, now, candidates); // as a worker does for a new client
  if (backend.config->balance == config::Balance::Hash) {
    if (auto answer = routeHashKey(backend, *table, client, key_value, candidates)) {
      return std::move(*answer);
    }
    why += "no key: hash.fallback ";
  }
  uint64_t key = 0;
  switch (backend.placement()) {
  case config::Balance::IpHash:
    key = balance::clientKey(client, backend.config->ip_hash.ipv4_prefix,
                             backend.config->ip_hash.ipv6_prefix);
    why += "ip_hash: the Maglev table maps this client's address to it";
    break;
  case config::Balance::LeastConnections:
    why += "least_connections: fewest active connections for its weight, ties in turn";
    break;
  default:
    why += "round_robin: next in the rotation";
  }
  if (backend.placement() != config::Balance::IpHash && workers > 1) {
    // The kernel hands each connection to one of the workers (SO_REUSEPORT), and each keeps its
    // own rotation: the answer is exact for workers: 1.
    why += fmt::format(" of worker 0 (each of the {} workers keeps its own)", workers);
  }
  const auto pick = next_pick(candidates, key);
  if (!pick) {
    return fail(ErrorCode::Unavailable, fmt::format("no server of {} is up", backend_name));
  }
  return admin::RouteAnswer{.server = backend.servers[*pick].name, .reason = why};
}

} // namespace corral::control

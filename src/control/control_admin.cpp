// What the admin API and `corral ctl` see and steer: status, drain/disable/enable, weights,
// rolling restarts, routing explanations and instance logs.

#include <fmt/format.h>

#include "corral/balance/balancer.h"
#include "corral/balance/client_key.h"
#include "corral/control/control_plane.h"
#include "corral/core/log.h"
#include "corral/runtime/placement.h"

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

namespace corral::control {
namespace {

std::string_view balanceName(config::Balance balance) {
  switch (balance) {
  case config::Balance::RoundRobin: return "round_robin";
  case config::Balance::LeastConnections: return "least_connections";
  case config::Balance::IpHash: return "ip_hash";
  case config::Balance::StickyCookie: return "sticky_cookie";
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

} // namespace

Result<const runtime::Server*> ControlPlane::findServer(std::string_view backend,
                                                        std::string_view server) const {
  // current() keeps the snapshot alive only for this call; the control thread owns snapshot_,
  // which holds the server for as long as the caller (also on the control thread) looks at it.
  const runtime::Backend* found = snapshot_->findBackend(backend);
  if (found == nullptr) {
    return fail(ErrorCode::NotFound, fmt::format("no backend named {}", backend));
  }
  for (const runtime::Server& candidate : found->servers) {
    if (candidate.name == server) {
      return &candidate;
    }
  }
  return fail(ErrorCode::NotFound, fmt::format("backend {} has no server named {}", backend, server));
}

admin::Status ControlPlane::status() {
  const runtime::SnapshotPtr snapshot = current();
  admin::Status status{
      .version = CORRAL_VERSION,
      .uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count()};
  const auto bound = proxy_->boundAddresses();
  for (size_t i = 0; i < snapshot->frontends.size(); ++i) {
    const runtime::Frontend& frontend = snapshot->frontends[i];
    status.frontends.push_back(
        {.name = frontend.config->name,
         .listen = i < bound.size() ? bound[i].second.toString() : "",
         .backend = frontend.config->backend,
         .active = frontend.stats->active.load(),
         .total = sum(frontend.stats->cells, &runtime::FrontendCells::connections)});
  }
  const int64_t now = runtime::steadyMs();
  for (const runtime::Backend& backend : snapshot->backends) {
    admin::BackendStatus backend_status{.name = backend.config->name,
                                        .balance = std::string(balanceName(backend.config->balance)),
                                        .servers = {}};
    std::vector<cluster::InstanceStatus> instances;
    if (auto* spawned = supervisor(backend.config->name)) {
      instances = spawned->status();
    }
    for (size_t s = 0; s < backend.servers.size(); ++s) {
      const runtime::Server& server = backend.servers[s];
      const auto check = last_checks_.find({backend.config->name, server.name});
      const std::string last_check = check != last_checks_.end() ? check->second.detail : "";
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
          .last_check_ms = check != last_checks_.end() ? check->second.latency_ms : 0};
      if (s < instances.size()) {
        const auto& instance = instances[s];
        row.pid = instance.pid;
        row.uptime_s = std::chrono::duration<double>(std::chrono::system_clock::now() -
                                                     instance.started_at).count();
        row.restarts = static_cast<uint32_t>(instance.restarts);
      }
      backend_status.servers.push_back(std::move(row));
    }
    status.backends.push_back(std::move(backend_status));
  }
  return status;
}

Result<void> ControlPlane::serverAction(std::string_view backend, std::string_view server,
                                        admin::ServerAction action) {
  auto found = findServer(backend, server);
  if (!found) {
    return std::unexpected(found.error());
  }
  runtime::ServerStats& stats = *(*found)->stats;
  switch (action) {
  case admin::ServerAction::Drain:
    stats.admin.store(runtime::AdminState::Drain);
    break;
  case admin::ServerAction::Disable:
    stats.admin.store(runtime::AdminState::Disabled);
    break;
  case admin::ServerAction::Enable:
    if (stats.admin.exchange(runtime::AdminState::Enabled) != runtime::AdminState::Enabled) {
      stats.up_since_ms.store(runtime::steadyMs()); // slow start applies after enable too
      refreshMaglev(std::string(backend));          // its ramp starts now, not at the next tick
    }
    break;
  }
  log::admin()->info("{}/{}: {}", backend, server,
                     action == admin::ServerAction::Drain     ? "drain"
                     : action == admin::ServerAction::Disable ? "disabled"
                                                              : "enabled");
  return {};
}

Result<void> ControlPlane::setWeight(std::string_view backend, std::string_view server,
                                     uint32_t weight) {
  auto found = findServer(backend, server);
  if (!found) {
    return std::unexpected(found.error());
  }
  (*found)->stats->weight_override.store(static_cast<int32_t>(weight));
  log::admin()->info("{}/{}: weight {}", backend, server, weight);
  refreshMaglev(std::string(backend));
  return {};
}

Result<void> ControlPlane::restart(std::string_view backend) {
  cluster::Supervisor* spawned = supervisor(backend);
  if (spawned == nullptr) {
    if (current()->findBackend(backend) == nullptr) {
      return fail(ErrorCode::NotFound, fmt::format("no backend named {}", backend));
    }
    return fail(ErrorCode::BadInput,
                fmt::format("backend {} has no spawn section: corral does not run its servers",
                            backend));
  }
  const std::string name(backend);
  return spawned->restart([name](Result<void> result) {
    if (result) {
      log::cluster()->info("{}: rolling restart finished", name);
    } else {
      log::cluster()->error("{}: rolling restart stopped: {}", name, result.error().message);
    }
  });
}

Result<admin::RouteAnswer> ControlPlane::route(std::string_view backend_name,
                                               std::string_view client_ip,
                                               std::optional<std::string_view> cookie) {
  const runtime::SnapshotPtr snapshot = current();
  const runtime::Backend* backend = snapshot->findBackend(backend_name);
  if (backend == nullptr) {
    return fail(ErrorCode::NotFound, fmt::format("no backend named {}", backend_name));
  }
  auto client = SocketAddress::fromHostPort({.host = std::string(client_ip), .port = 0});
  if (!client) {
    return fail(ErrorCode::BadInput, client.error().message);
  }
  const int64_t now = runtime::steadyMs();
  std::string why;
  if (cookie && backend->cookie_signer) {
    const auto now_unix = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
    const auto id = backend->cookie_signer->verify(backend->config->name, *cookie, now_unix);
    for (const runtime::Server& server : backend->servers) {
      if (id && server.name == *id && server.stats->acceptsSticky(now)) {
        return admin::RouteAnswer{.server = server.name,
                                  .reason = "sticky cookie names this server, which is up"};
      }
    }
    why = id ? fmt::format("cookie names {}, which cannot take clients; ", *id)
             : "cookie is not valid (forged, expired or another backend's); ";
  }
  std::vector<balance::Candidate> candidates;
  runtime::fillCandidates(*backend, {}, now, candidates); // as a worker does for a new client
  auto balancer = runtime::makeBalancer(*backend, maglevInUse(*backend));
  uint64_t key = 0;
  switch (backend->placement()) {
  case config::Balance::IpHash:
    key = balance::clientKey(*client, backend->config->ip_hash.ipv4_prefix,
                             backend->config->ip_hash.ipv6_prefix);
    why += "ip_hash: the Maglev table maps this client's address to it";
    break;
  case config::Balance::LeastConnections:
    why += "least_connections: fewest active connections for its weight";
    break;
  default:
    why += "round_robin: each worker rotates on its own; this is the first in the rotation";
  }
  const auto pick = balancer->pick(candidates, key);
  if (!pick) {
    return fail(ErrorCode::Unavailable, fmt::format("no server of {} is up", backend_name));
  }
  return admin::RouteAnswer{.server = backend->servers[*pick].name, .reason = why};
}

Result<std::vector<std::string>> ControlPlane::logs(std::string_view backend, int instance) {
  cluster::Supervisor* spawned = supervisor(backend);
  if (spawned == nullptr || instance < 0 || static_cast<uint32_t>(instance) >= spawned->instances()) {
    return fail(ErrorCode::NotFound, fmt::format("no spawned instance {}#{}", backend, instance));
  }
  std::vector<std::string> lines;
  for (const auto& line : spawned->recentOutput(static_cast<uint32_t>(instance))) {
    lines.push_back(fmt::format("[{}] {}", line.pid, line.text));
  }
  return lines;
}

Result<uint64_t> ControlPlane::followLogs(std::string_view backend, int instance,
                                          std::function<void(std::string_view)> on_line) {
  cluster::Supervisor* spawned = supervisor(backend);
  if (spawned == nullptr || instance < 0 || static_cast<uint32_t>(instance) >= spawned->instances()) {
    return fail(ErrorCode::NotFound, fmt::format("no spawned instance {}#{}", backend, instance));
  }
  const cluster::FollowerId follower = spawned->followOutput(
      static_cast<uint32_t>(instance), [on_line = std::move(on_line)](const cluster::OutputLine& line) {
        on_line(fmt::format("[{}] {}", line.pid, line.text));
      });
  followers_[++next_follower_] = {spawned, follower};
  return next_follower_;
}

void ControlPlane::unfollowLogs(uint64_t id) {
  const auto found = followers_.find(id);
  if (found != followers_.end()) {
    found->second.first->unfollowOutput(found->second.second);
    followers_.erase(found);
  }
}

} // namespace corral::control

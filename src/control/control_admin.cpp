// What the admin API and `corral ctl` see and steer: status, drain/disable/enable, weights,
// rolling restarts, routing explanations and instance logs.

#include <fmt/format.h>

#include "corral/control/control_plane.h"
#include "corral/core/log.h"
#include "corral/runtime/placement.h"
#include "report.h"

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

namespace corral::control {

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
  return statusOf(*current(), {.version = CORRAL_VERSION,
                               .started_at = started_at_,
                               .bound = proxy_->boundAddresses(),
                               .last_checks = last_checks_,
                               .instances = [this](std::string_view backend) {
                                 auto* spawned = supervisor(backend);
                                 return spawned != nullptr ? spawned->status()
                                                           : std::vector<cluster::InstanceStatus>{};
                               }});
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
  dispatchWaiters(backend); // enabled: it takes waiters; drained or disabled: its own move on
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
  auto spawned = spawnedBackend(backend);
  if (!spawned) {
    return std::unexpected(spawned.error());
  }
  const std::string name(backend);
  return (*spawned)->restart([name](Result<void> result) {
    if (result) {
      log::cluster()->info("{}: rolling restart finished", name);
    } else {
      log::cluster()->error("{}: rolling restart stopped: {}", name, result.error().message);
    }
  });
}

Result<admin::RouteAnswer> ControlPlane::route(std::string_view backend_name,
                                               std::string_view client_ip,
                                               std::optional<std::string_view> cookie,
                                               std::optional<std::string_view> key) {
  const runtime::SnapshotPtr snapshot = current();
  const runtime::Backend* backend = snapshot->findBackend(backend_name);
  if (backend == nullptr) {
    return fail(ErrorCode::NotFound, fmt::format("no backend named {}", backend_name));
  }
  auto client = SocketAddress::fromHostPort({.host = std::string(client_ip), .port = 0});
  if (!client) {
    return fail(ErrorCode::BadInput, client.error().message);
  }
  const size_t index = static_cast<size_t>(backend - snapshot->backends.data());
  const auto next_pick = [&](std::span<const balance::Candidate> candidates, uint64_t client_key) {
    if (backend->placement() != config::Balance::IpHash) {
      const proxy::Proxy::NextPick next =
          proxy_->peekPick(0, snapshot.get(), index, candidates, client_key);
      if (next.known) {
        return next.server;
      }
      // Worker 0 has not adopted this snapshot yet; when it does, its balancers start afresh.
    }
    // ip_hash has no state but its table: the one last posted, which workers have or soon will.
    return runtime::makeBalancer(*backend, maglevInUse(*backend))->peek(candidates, client_key);
  };
  return routeOf(*backend, maglevInUse(*backend), next_pick, proxy_->workerCount(), *client,
                 cookie, key);
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

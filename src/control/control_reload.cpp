// A reload applies every setting it can live, or fails and changes nothing (issue 14): listeners
// of admin and metrics move (the new address is bound before the old one closes), the access log
// switches target (or reopens its file), spawn sections scale and roll their instances. What it
// cannot apply (`workers`: threads own their sessions and listeners) fails the reload, names the
// key and points at `corral ctl upgrade`.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "corral/config/loader.h"
#include "corral/control/control_plane.h"
#include "corral/core/log.h"

namespace corral::control {
namespace {

template <typename T>
std::string listenText(const std::optional<T>& section) {
  return section ? fmt::format("{}:{}", section->listen.host, section->listen.port) : "off";
}

bool sameSpawn(const config::SpawnConfig& a, const config::SpawnConfig& b) {
  return a.command == b.command && a.instances == b.instances && a.port_first == b.port_first &&
         a.port_last == b.port_last && a.cwd == b.cwd && a.env == b.env &&
         a.stop_timeout == b.stop_timeout;
}

} // namespace

// Bound by prepareListeners() until the reload commits or gives up.
struct ControlPlane::ListenerMoves {
  bool admin_moved = false;    // admin_->listenAlso() bound the new address
  std::unique_ptr<admin::AdminServer> admin_new; // admin was off
  bool admin_off = false;
  bool metrics_changed = false;
  std::unique_ptr<metrics::MetricsServer> metrics_new; // null: metrics off
};

Result<void> ControlPlane::reload() {
  auto loaded = config::loadFile(config_path_);
  if (!loaded) {
    std::string lines;
    for (const auto& diagnostic : loaded.error()) {
      log::config()->error("{}", diagnostic.toString());
      lines += (lines.empty() ? "" : "\n") + diagnostic.toString();
    }
    log::config()->error("reload failed: the running configuration is unchanged");
    control_metrics_->countConfigReload(metrics::ReloadResult::Failure);
    return fail(ErrorCode::BadConfig, lines);
  }
  config::Config next = std::move(loaded->config);
  std::map<std::string, uint32_t> scaled = keepScaledCounts(next);
  if (auto applied = applyReload(std::move(next)); !applied) {
    log::config()->error("reload failed: {}; the running configuration is unchanged",
                         applied.error().message);
    control_metrics_->countConfigReload(metrics::ReloadResult::Failure);
    return fail(ErrorCode::BadConfig, applied.error().message);
  }
  scaled_ = std::move(scaled);
  if (auto supervisors = startSupervisors(); !supervisors) {
    log::cluster()->error("{}", supervisors.error().message);
  }
  discovery_.watch(config_);
  control_metrics_->countConfigReload(metrics::ReloadResult::Success);
  log::config()->info("reloaded {}", config_path_);
  return {};
}

// Every step that can fail runs before the snapshot is published, and is undone if a later one
// fails; what follows the publish cannot fail.
Result<void> ControlPlane::applyReload(config::Config next) {
  if (auto reloadable = checkReloadable(config_, next); !reloadable) {
    return reloadable;
  }
  auto changes = spawnChanges(next);
  if (!changes) {
    return std::unexpected(changes.error());
  }
  ListenerMoves moves;
  if (auto prepared = prepareListeners(next, moves); !prepared) {
    settleListeners(moves, false);
    return prepared;
  }
  const std::string previous_log = config_.access_log;
  const bool retarget = next.access_log != previous_log;
  if (retarget) {
    if (auto opened = proxy_->retargetAccessLog(next.access_log); !opened) {
      settleListeners(moves, false);
      return opened;
    }
  }
  const runtime::SnapshotPtr before = current();
  config::Config previous = std::exchange(config_, std::move(next));
  discovery_.resolveNow(config_);
  if (auto published = rebuild(); !published) {
    config_ = std::move(previous);
    settleListeners(moves, false);
    if (retarget) {
      (void)proxy_->retargetAccessLog(previous_log); // reopens what was open a moment ago
    }
    return published;
  }
  settleListeners(moves, true);
  if (!retarget) {
    proxy_->reopenAccessLog(); // the same file: logrotate moved it (nginx's USR1)
  }
  for (const auto& [backend, spawn] : *changes) {
    retireSlotsFrom(*before, backend, spawn.instances);
    applySpawn(backend, spawn);
  }
  return {};
}

Result<void> ControlPlane::checkReloadable(const config::Config& running,
                                           const config::Config& next) {
  if (running.workers == next.workers) {
    return {};
  }
  return fail(ErrorCode::BadConfig,
              "a reload cannot apply a change of workers; use `corral ctl upgrade`, which starts "
              "corral anew with this configuration and keeps the sockets and the instances");
}

// A `ctl scale` count outlives reloads that leave the file's spawn.instances as it was when the
// backend was scaled; a changed value in the file wins. Returns the scales still in force.
std::map<std::string, uint32_t> ControlPlane::keepScaledCounts(config::Config& next) const {
  std::map<std::string, uint32_t> kept;
  for (config::BackendConfig& backend : next.backends) {
    const auto scaled = scaled_.find(backend.name);
    const config::BackendConfig* running = config_.findBackend(backend.name);
    if (scaled == scaled_.end() || !backend.spawn || running == nullptr || !running->spawn ||
        backend.spawn->instances != scaled->second) {
      continue;
    }
    backend.spawn->instances = running->spawn->instances;
    kept.insert(*scaled);
  }
  return kept;
}

void ControlPlane::adoptScaledCounts(
    const std::map<std::string, std::pair<uint32_t, uint32_t>>& scaled) {
  for (config::BackendConfig& backend : config_.backends) {
    const auto found = scaled.find(backend.name);
    if (found == scaled.end() || !backend.spawn ||
        backend.spawn->instances != found->second.first) {
      continue; // the file changed spawn.instances since the scale: the file wins
    }
    config::SpawnConfig spawn = *backend.spawn;
    spawn.instances = found->second.second;
    if (cluster::checkSpawn(backend.name, spawn)) { // else the port range shrank meanwhile
      backend.spawn->instances = spawn.instances;
      scaled_[backend.name] = found->second.first;
    }
  }
}

// The spawn sections of running backends that `next` changes.
Result<std::vector<std::pair<std::string, config::SpawnConfig>>> ControlPlane::spawnChanges(
    const config::Config& next) const {
  std::vector<std::pair<std::string, config::SpawnConfig>> changes;
  for (const config::BackendConfig& backend : next.backends) {
    const config::BackendConfig* running = config_.findBackend(backend.name);
    if (!backend.spawn || running == nullptr || !running->spawn ||
        sameSpawn(*running->spawn, *backend.spawn) || supervisor(backend.name) == nullptr) {
      continue;
    }
    if (auto ready = checkSpawnChange(backend.name, *backend.spawn); !ready) {
      return fail(ErrorCode::BadConfig,
                  fmt::format("backends[{}].spawn: {}", backend.name, ready.error().message));
    }
    changes.emplace_back(backend.name, *backend.spawn);
  }
  return changes;
}

Result<void> ControlPlane::prepareListeners(const config::Config& next, ListenerMoves& moves) {
  if (listenText(config_.admin) != listenText(next.admin)) {
    if (!next.admin) {
      moves.admin_off = true;
    } else if (admin_) {
      if (auto bound = admin_->listenAlso(next.admin->listen); !bound) {
        return bound;
      }
      moves.admin_moved = true;
    } else {
      auto server = admin::AdminServer::create(base_, *next.admin, *this);
      if (!server) {
        return std::unexpected(server.error());
      }
      moves.admin_new = std::move(*server);
    }
  }
  if (listenText(config_.metrics) != listenText(next.metrics)) {
    moves.metrics_changed = true;
    if (next.metrics) {
      auto server = metrics::MetricsServer::create(
          *next.metrics, [this] { return current(); }, control_metrics_);
      if (!server) {
        return fail(ErrorCode::BadConfig,
                    fmt::format("metrics.listen {} is in use or cannot be bound ({}); /metrics "
                                "stays on {}",
                                listenText(next.metrics), server.error().message,
                                metrics_ ? metrics_->boundAddress().toString() : "nothing"));
      }
      moves.metrics_new = std::move(*server);
    }
  }
  return {};
}

// commit: the new listeners stay and the old ones close; else the new ones close.
void ControlPlane::settleListeners(ListenerMoves& moves, bool commit) {
  if (moves.admin_moved) {
    admin_->settleListener(commit);
  }
  if (!commit) {
    return;
  }
  if (moves.admin_new) {
    admin_ = std::move(moves.admin_new);
  }
  if (moves.admin_off && admin_) {
    admin_->stopAccepting(); // not destroyed: this very request may be on one of its connections
    log::admin()->info("admin API closed (admin removed from the configuration)");
  }
  if (moves.metrics_changed) {
    metrics_ = std::move(moves.metrics_new);
    if (!metrics_) {
      log::metrics()->info("/metrics closed (metrics removed from the configuration)");
    }
  }
}

} // namespace corral::control

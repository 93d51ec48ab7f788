// Cluster mode: one supervisor per backend with `spawn`. A slot's address change (a rolling
// restart switched it to the replacement) becomes a new snapshot; the old process is drained by
// its own active count before the supervisor stops it.

#include <algorithm>

#include <fmt/format.h>

#include "corral/control/control_plane.h"
#include "corral/core/log.h"

namespace corral::control {
namespace {

constexpr std::chrono::milliseconds kRollDrainPoll{100};

// health_check.tls for a replacement instance: the context and SNI host its slot's regular checks
// use. Every server of a spawn backend is built from the same settings (127.0.0.1, no servers[]
// tls), so any running one's will do; with none running the probe has no context and speaks
// plaintext.
health::ProbeTls replacementProbeTls(const runtime::Backend* backend) {
  if (backend == nullptr || backend->servers.empty()) {
    return {};
  }
  const runtime::Server& any = backend->servers.front();
  return {.context = any.health_tls, .host = any.host};
}

// Polls an old instance's active sessions until none is left (or the supervisor's stop_timeout
// makes it give up on its own). Frees itself.
struct DrainWatch {
  event* timer = nullptr;
  std::shared_ptr<runtime::ServerStats> stats;
  std::function<void()> drained;

  static void onTick(evutil_socket_t, short, void* self) {
    auto* watch = static_cast<DrainWatch*>(self);
    if (watch->stats->active.load() > 0) {
      return;
    }
    watch->drained();
    event_free(watch->timer);
    delete watch;
  }
};

} // namespace

Result<void> ControlPlane::startSupervisors() {
  const runtime::SnapshotPtr snapshot = current();
  for (const runtime::Backend& backend : snapshot->backends) {
    const std::string& name = backend.config->name;
    if (!backend.config->spawn || supervisors_.contains(name)) {
      continue;
    }
    cluster::SupervisorCallbacks callbacks{
        .on_instance_changed =
            [this, name](uint32_t slot, const SocketAddress& address) {
              onInstanceChanged(name, slot, address);
            },
        .on_restart =
            [this, name](uint32_t slot) {
              control_metrics_->countInstanceRestart(name, cluster::instanceName(name, slot));
            },
        .wait_healthy =
            [this, name](const SocketAddress& address, std::function<void(bool)> done) {
              const runtime::SnapshotPtr snapshot = current();
              const runtime::Backend* b = snapshot->findBackend(name);
              health_->probeUntilHealthy(address, b ? b->config->health_check : std::nullopt,
                                         replacementProbeTls(b), std::chrono::seconds(30),
                                         std::move(done));
            },
        .drain_old =
            [this, name](uint32_t slot, const SocketAddress&, std::function<void()> drained) {
              drainOld(name, slot, std::move(drained));
            },
    };
    auto supervisor = cluster::makeSupervisor(
        base_, {.backend = name, .spawn = *backend.config->spawn}, std::move(callbacks));
    if (!supervisor) {
      return std::unexpected(supervisor.error());
    }
    if (started_) {
      (*supervisor)->start();
    }
    supervisors_.emplace(name, std::move(*supervisor));
  }
  return {};
}

void ControlPlane::onInstanceChanged(const std::string& backend, uint32_t slot,
                                     const SocketAddress& address) {
  auto& slots = spawned_[backend];
  if (slots.size() <= slot) {
    slots.resize(slot + 1);
  }
  slots[slot] = address;
  auto old = findServer(backend, cluster::instanceName(backend, slot));
  if (old && (*old)->address.toString() != address.toString()) {
    retired_[(*old)->name] = (*old)->stats; // drainOld() waits on its sessions
  }
  if (auto published = rebuild(); !published) {
    log::cluster()->error("{}#{}: {}", backend, slot, published.error().message);
  }
}

// The slot already points at its replacement, so the old process gets no new clients; wait for
// the sessions it still serves (counted on the stats the previous snapshot gave it).
void ControlPlane::drainOld(const std::string& backend, uint32_t slot,
                            std::function<void()> drained) {
  const auto found = retired_.find(cluster::instanceName(backend, slot));
  std::shared_ptr<runtime::ServerStats> old_stats;
  if (found != retired_.end()) {
    old_stats = std::move(found->second);
    retired_.erase(found);
  }
  if (!old_stats) {
    drained();
    return;
  }
  auto* watch = new DrainWatch{.timer = nullptr, .stats = old_stats, .drained = std::move(drained)};
  watch->timer = event_new(base_, -1, EV_PERSIST, DrainWatch::onTick, watch);
  const timeval interval{0, static_cast<suseconds_t>(kRollDrainPoll.count() * 1000)};
  event_add(watch->timer, &interval);
}

cluster::Supervisor* ControlPlane::supervisor(std::string_view backend) const {
  const auto found = supervisors_.find(backend);
  return found == supervisors_.end() ? nullptr : found->second.get();
}

Result<cluster::Supervisor*> ControlPlane::spawnedBackend(std::string_view backend) const {
  if (cluster::Supervisor* spawned = supervisor(backend)) {
    return spawned;
  }
  if (current()->findBackend(backend) == nullptr) {
    return fail(ErrorCode::NotFound, fmt::format("no backend named {}", backend));
  }
  return fail(ErrorCode::BadInput,
              fmt::format("backend {} has no spawn section: corral does not run its servers",
                          backend));
}

// What reconfigure() would refuse, asked before anything of a reload or a scale is applied.
Result<void> ControlPlane::checkSpawnChange(const std::string& backend,
                                            const config::SpawnConfig& spawn) const {
  if (auto checked = cluster::checkSpawn(backend, spawn); !checked) {
    return checked;
  }
  const cluster::Supervisor* spawned = supervisor(backend);
  if (spawned != nullptr && spawned->rolling()) {
    return fail(ErrorCode::Unavailable,
                fmt::format("a rolling restart of {} is in progress; try again once it is done",
                            backend));
  }
  return {};
}

// Slots at `instances` and above are leaving: drainOld() waits on the sessions their servers in
// `before` (the snapshot that still routed to them) hold.
void ControlPlane::retireSlotsFrom(const runtime::Snapshot& before, const std::string& backend,
                                   uint32_t instances) {
  auto& slots = spawned_[backend];
  if (slots.size() > instances) {
    slots.resize(instances);
  }
  const runtime::Backend* found = before.findBackend(backend);
  // A spawned backend's servers are its slots, in order (Snapshot::build).
  for (size_t slot = instances; found != nullptr && slot < found->servers.size(); ++slot) {
    const runtime::Server& server = found->servers[slot];
    retired_[server.name] = server.stats;
  }
}

void ControlPlane::applySpawn(const std::string& backend, const config::SpawnConfig& spawn) {
  auto applied = supervisor(backend)->reconfigure(spawn, [backend](Result<void> rolled) {
    if (!rolled) {
      log::cluster()->error("{}: the new spawn section was not rolled out: {}", backend,
                            rolled.error().message);
    }
  });
  if (!applied) { // checkSpawnChange() asked the same a moment ago
    log::cluster()->error("{}: {}", backend, applied.error().message);
  }
}

Result<void> ControlPlane::scale(std::string_view name, uint32_t instances) {
  auto spawned = spawnedBackend(name);
  if (!spawned) {
    return std::unexpected(spawned.error());
  }
  const std::string backend(name);
  auto in_config = std::find_if(config_.backends.begin(), config_.backends.end(),
                                [&](const config::BackendConfig& b) { return b.name == backend; });
  config::SpawnConfig& running = *in_config->spawn; // a supervisor runs only for a spawn section
  config::SpawnConfig next = running;
  next.instances = instances;
  next.instances_auto = false;
  if (auto ready = checkSpawnChange(backend, next); !ready) {
    const ErrorCode code = ready.error().code == ErrorCode::BadConfig ? ErrorCode::BadInput
                                                                       : ready.error().code;
    return fail(code, ready.error().message); // 400: the N asked for does not fit
  }
  const uint32_t in_file = scaled_.contains(backend) ? scaled_[backend] : running.instances;
  const runtime::SnapshotPtr before = current();
  running = next;
  if (instances == in_file) {
    scaled_.erase(backend);
  } else {
    scaled_[backend] = in_file;
  }
  auto published = rebuild(); // leaving slots get no new clients from here on
  retireSlotsFrom(*before, backend, instances);
  applySpawn(backend, next);
  log::cluster()->info("{}: scaled to {} instances", backend, instances);
  return published;
}

void ControlPlane::stopSupervisors(std::function<void()> done) {
  auto remaining = std::make_shared<size_t>(supervisors_.size());
  if (*remaining == 0) {
    done();
    return;
  }
  for (auto& [name, supervisor] : supervisors_) {
    supervisor->stop([remaining, done] {
      if (--*remaining == 0) {
        done();
      }
    });
  }
}

} // namespace corral::control

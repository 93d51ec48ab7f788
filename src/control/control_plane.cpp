#include "corral/control/control_plane.h"

#include <unistd.h>

#include <fmt/format.h>

#include "corral/core/log.h"
#include "health_result.h"

namespace corral::control {
namespace {

constexpr timeval kShutdownDrainPoll{0, 50 * 1000};
constexpr timeval kSlowStartTick{1, 0}; // Maglev tables follow slow-start ramps once a second

} // namespace

ControlPlane::ControlPlane(event_base* base, std::string config_path)
    : base_(base), config_path_(std::move(config_path)), discovery_(base, [this] {
        if (auto rebuilt = rebuild(); !rebuilt) {
          log::core()->error("DNS discovery: {}", rebuilt.error().message);
        }
      }) {}

Result<std::unique_ptr<ControlPlane>> ControlPlane::create(event_base* base, std::string config_path,
                                                           config::Config config,
                                                           Inherited inherited) {
  std::unique_ptr<ControlPlane> plane(new ControlPlane(base, std::move(config_path)));
  plane->config_ = std::move(config);
  plane->adoptScaledCounts(inherited.scaled);
  plane->discovery_.resolveNow(plane->config_);
  // Adopted instances are servers from the first snapshot on: the sockets handed over are
  // accepting already, and a connection must not find the backend empty.
  for (const auto& [backend, slots] : inherited.slots) {
    for (const cluster::HandoverSlot& slot : slots) {
      auto& addresses = plane->spawned_[backend];
      addresses.resize(std::max<size_t>(addresses.size(), slot.slot + 1));
      addresses[slot.slot] = *SocketAddress::fromHostPort({.host = "127.0.0.1", .port = slot.port});
    }
  }
  auto snapshot =
      runtime::Snapshot::build(plane->discovery_.expand(plane->config_), nullptr, plane->spawned_);
  if (!snapshot) {
    return std::unexpected(snapshot.error());
  }
  plane->snapshot_ = *snapshot;
  plane->inherited_.health = std::move(inherited.health);
  plane->seedHealth();
  auto proxy = proxy::Proxy::create(*snapshot, std::move(inherited.listeners));
  if (!proxy) {
    return std::unexpected(proxy.error());
  }
  plane->proxy_ = std::move(*proxy);
  ControlPlane* raw = plane.get();
  plane->health_ = std::make_unique<health::HealthChecker>(
      base,
      [raw](const health::CheckTarget& target, auto, auto to, const health::CheckResult&) {
        raw->onHealthChanged(target, to);
      },
      [raw](const health::CheckTarget& target, const health::CheckResult& result) {
        raw->last_checks_[{target.backend, target.server}] = {
            .detail = result.detail, .latency_ms = result.latency.count() / 1e3};
        if (result.ok()) {
          raw->unejectOnSuccess(target);
        }
        raw->control_metrics_->countHealthCheck(target.backend, target.server,
                                                metricsResult(result));
      });
  const runtime::SnapshotPtr& current = plane->snapshot_;
  plane->control_metrics_ = std::make_shared<metrics::ControlMetrics>(
      [raw] { return raw->current(); },
      [raw](std::string_view backend, std::string_view server) {
        auto found = raw->findServer(backend, server);
        return found && (*found)->stats->health.load() == runtime::Health::Up;
      });
  if (auto metrics = plane->openMetrics(); !metrics) {
    return std::unexpected(metrics.error());
  }
  if (current->config.admin) {
    const auto& admin = *current->config.admin;
    const bool same = inherited.admin >= 0 &&
                      inherited.admin_listen == fmt::format("{}:{}", admin.listen.host, admin.listen.port);
    if (inherited.admin >= 0 && !same) {
      ::close(std::exchange(inherited.admin, -1)); // moved: the old process's goes with it
    }
    auto server = admin::AdminServer::create(base, admin, *plane, inherited.admin);
    if (!server) {
      return std::unexpected(server.error());
    }
    plane->admin_ = std::move(*server);
  }
  if (auto supervisors = plane->startSupervisors(); !supervisors) {
    return std::unexpected(supervisors.error());
  }
  plane->inherited_.slots = std::move(inherited.slots);
  if (!inherited.upgrade.is_null()) {
    plane->upgrade_status_ = std::move(inherited.upgrade);
    plane->upgrade_status_["state"] = "running";
  }
  return plane;
}

ControlPlane::~ControlPlane() {
  admin_.reset();
  for (event* timer : {slow_start_timer_, drain_poll_}) {
    if (timer != nullptr) {
      event_free(timer);
    }
  }
  health_.reset();
  supervisors_.clear(); // kills what is left, synchronously: children never outlive corral
  proxy_.reset();
}

void ControlPlane::start() {
  proxy_->start();
  for (auto& [name, supervisor] : supervisors_) {
    if (auto slots = inherited_.slots.find(name); slots != inherited_.slots.end()) {
      supervisor->adopt(slots->second);
    } else {
      supervisor->start();
    }
  }
  inherited_.slots.clear();
  updateHealthTargets();
  discovery_.watch(config_);
  slow_start_timer_ = event_new(base_, -1, EV_PERSIST, [](evutil_socket_t, short, void* self) {
    static_cast<ControlPlane*>(self)->onSlowStartTick();
  }, this);
  event_add(slow_start_timer_, &kSlowStartTick);
  started_ = true;
}

// A passing active check ends a passive ejection at once (Envoy's
// successful_active_health_check_uneject_host): a crashed instance respawned on the same port
// would otherwise sit out the whole ejection_time while every check says it serves.
void ControlPlane::unejectOnSuccess(const health::CheckTarget& target) {
  auto server = findServer(target.backend, target.server);
  if (!server || (*server)->address.toString() != target.address.toString()) {
    return;
  }
  runtime::ServerStats& stats = *(*server)->stats;
  if (stats.ejected_until_ms.load() > 0 && stats.health.load() == runtime::Health::Up) {
    stats.ejected_until_ms.store(0);
    stats.failures.store(0);
    dispatchWaiters(target.backend);
  }
}

runtime::SnapshotPtr ControlPlane::current() const {
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

// Every change of configuration, instance address or membership goes through here.
Result<void> ControlPlane::publish(runtime::SnapshotPtr next) {
  if (auto updated = proxy_->update(next); !updated) {
    return updated;
  }
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_ = std::move(next);
  }
  // The new snapshot's tables were built from the effective weights of now (Snapshot::build);
  // the workers drop the tables posted for the old one.
  posted_maglev_.clear();
  updateHealthTargets();
  return {};
}

Result<void> ControlPlane::rebuild() {
  auto next = runtime::Snapshot::build(discovery_.expand(config_), current().get(), spawned_);
  if (!next) {
    return std::unexpected(next.error());
  }
  return publish(*next);
}

void ControlPlane::shutdown(std::function<void()> done) {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  on_drained_ = std::move(done);
  proxy_->drain();
  // Workers end on their own threads; look every 50 ms rather than block this loop in join().
  drain_poll_ = event_new(base_, -1, EV_PERSIST, [](evutil_socket_t, short, void* self) {
    auto* plane = static_cast<ControlPlane*>(self);
    if (!plane->proxy_->drained()) {
      return;
    }
    event_del(plane->drain_poll_);
    plane->stopSupervisors([plane] { plane->on_drained_(); });
  }, this);
  event_add(drain_poll_, &kShutdownDrainPoll);
}

nlohmann::json ControlPlane::readyInfo() const {
  nlohmann::json ready;
  ready["pid"] = ::getpid();
  ready["frontends"] = nlohmann::json::object();
  for (const auto& [name, address] : proxy_->boundAddresses()) {
    ready["frontends"][name] = address.toString();
  }
  if (metrics_) {
    ready["metrics"] = metrics_->boundAddress().toString();
  }
  if (admin_) {
    ready["admin"] = admin_->boundAddress().toString();
  }
  return ready;
}

} // namespace corral::control

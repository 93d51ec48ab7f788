#pragma once
// The control thread (DESIGN.md, Architecture): owns the current Snapshot and everything that
// changes it — reloads, health checks, the cluster supervisors, operator commands from the admin
// API — and publishes to the workers. Every method runs on the control thread's event_base.

#include <event2/event.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "corral/admin/admin_server.h"
#include "corral/admin/control.h"
#include "corral/cluster/supervisor.h"
#include "corral/discovery/discovery.h"
#include "corral/control/handover.h"
#include "corral/health/health_checker.h"
#include "corral/metrics/metrics_server.h"
#include "corral/proxy/proxy.h"

namespace corral::control {

/// The last active check of one server, for `ctl status`.
struct LastCheck {
  std::string detail; // "ok", "refused", "timeout", "status 503"
  double latency_ms = 0;
};
using LastChecks = std::map<std::pair<std::string, std::string>, LastCheck>; // (backend, server)

class ControlPlane final : public admin::Control {
public:
  /// Builds the snapshot, binds every listener (frontends, admin, metrics): a startup failure
  /// such as a port in use is returned here, before anything runs.
  /// `inherited`: sockets and instances handed over by an upgrade or by systemd.
  static Result<std::unique_ptr<ControlPlane>> create(event_base* base, std::string config_path,
                                                      config::Config config,
                                                      Inherited inherited = {});
  ~ControlPlane() override;

  /// Starts the workers, the health checks and the spawned instances.
  void start();
  /// SIGTERM: stop accepting, let sessions drain, then stop spawned instances; `done` runs once
  /// all of that is over (the workers can then be joined without blocking).
  void shutdown(std::function<void()> done);
  void reopenAccessLog() { proxy_->reopenAccessLog(); }
  /// What `--ready-file` holds: pid and every bound address.
  nlohmann::json readyInfo() const;

  // admin::Control
  bool ready() override { return started_ && !stopping_; }
  admin::Status status() override;
  Result<void> serverAction(std::string_view backend, std::string_view server,
                            admin::ServerAction action) override;
  Result<void> setWeight(std::string_view backend, std::string_view server,
                         uint32_t weight) override;
  Result<void> restart(std::string_view backend) override;
  Result<void> scale(std::string_view backend, uint32_t instances) override;
  Result<void> reload() override;
  Result<admin::RouteAnswer> route(std::string_view backend, std::string_view client_ip,
                                   std::optional<std::string_view> cookie,
                                   std::optional<std::string_view> key) override;
  Result<std::vector<std::string>> logs(std::string_view backend, int instance) override;
  Result<uint64_t> followLogs(std::string_view backend, int instance,
                              std::function<void(std::string_view line)> on_line) override;
  void unfollowLogs(uint64_t id) override;
  Result<nlohmann::json> upgrade(const std::string& binary,
                                 std::chrono::milliseconds ready_timeout) override;
  nlohmann::json upgradeStatus() override { return upgrade_status_; }
  /// The new side of an upgrade reported ready: upgradeStatus() says done.
  void upgradeDone();
  /// Called when an upgrade handed everything over and this process has drained (then exit).
  void onHandedOver(std::function<void()> done) { on_handed_over_ = std::move(done); }

private:
  ControlPlane(event_base* base, std::string config_path);
  Result<void> publish(runtime::SnapshotPtr next);
  runtime::SnapshotPtr current() const;
  Result<const runtime::Server*> findServer(std::string_view backend, std::string_view server) const;
  void updateHealthTargets();
  void onHealthChanged(const health::CheckTarget& target, health::HealthState::State to);
  void unejectOnSuccess(const health::CheckTarget& target);
  void refreshMaglev(const std::string& backend);
  void dispatchWaiters(std::string_view backend);
  std::shared_ptr<const balance::MaglevTable> maglevInUse(const runtime::Backend& backend) const;
  void onSlowStartTick();
  Result<void> startSupervisors();
  void onInstanceChanged(const std::string& backend, uint32_t slot, const SocketAddress& address);
  void drainOld(const std::string& backend, uint32_t slot, std::function<void()> drained);
  cluster::Supervisor* supervisor(std::string_view backend) const;
  /// The backend's supervisor; NotFound without such a backend, BadInput without `spawn`.
  Result<cluster::Supervisor*> spawnedBackend(std::string_view backend) const;
  Result<void> checkSpawnChange(const std::string& backend, const config::SpawnConfig& spawn) const;
  void retireSlotsFrom(const runtime::Snapshot& before, const std::string& backend,
                       uint32_t instances);
  void applySpawn(const std::string& backend, const config::SpawnConfig& spawn);
  /// A snapshot of config_ with the current DNS records, the instances' addresses and the
  /// counters of the current one, published.
  Result<void> rebuild();
  void stopSupervisors(std::function<void()> done);
  // The reload (control_reload.cpp).
  struct ListenerMoves;
  Result<void> applyReload(config::Config next);
  /// What a reload cannot apply live: an error naming the key.
  static Result<void> checkReloadable(const config::Config& running, const config::Config& next);
  std::map<std::string, uint32_t> keepScaledCounts(config::Config& next) const;
  /// An upgrade: the old process's `ctl scale` counts, where the file still says what it did.
  void adoptScaledCounts(const std::map<std::string, std::pair<uint32_t, uint32_t>>& scaled);
  Result<std::vector<std::pair<std::string, config::SpawnConfig>>> spawnChanges(
      const config::Config& next) const;
  Result<void> prepareListeners(const config::Config& next, ListenerMoves& moves);
  void settleListeners(ListenerMoves& moves, bool commit);
  // The upgrade, old side (control_upgrade.cpp).
  struct Upgrade;
  static void onUpgradeMessage(evutil_socket_t, short, void* self) noexcept;
  void sendUpgradeState();
  void awaitNewProcessExit();
  void finishUpgrade();
  void failUpgrade(const std::string& reason);
  nlohmann::json handoverState(std::vector<int>& fds);
  Result<void> openMetrics();
  void seedHealth();

  event_base* base_;
  std::string config_path_;
  config::Config config_; // as loaded: server addresses may still be DNS names
  discovery::Discovery discovery_;
  mutable std::mutex snapshot_mutex_; // the scrape thread reads current(); never a worker
  runtime::SnapshotPtr snapshot_;
  // Maglev tables posted to the workers since snapshot_ was published (refreshMaglev), by backend.
  std::map<std::string, std::shared_ptr<const balance::MaglevTable>> posted_maglev_;
  runtime::Snapshot::Spawned spawned_;
  std::unique_ptr<proxy::Proxy> proxy_;
  std::unique_ptr<health::HealthChecker> health_;
  LastChecks last_checks_;
  std::shared_ptr<metrics::ControlMetrics> control_metrics_;
  std::unique_ptr<metrics::MetricsServer> metrics_;
  std::unique_ptr<admin::AdminServer> admin_;
  std::map<std::string, std::unique_ptr<cluster::Supervisor>, std::less<>> supervisors_;
  std::map<std::string, std::shared_ptr<runtime::ServerStats>> retired_; // rolled-out instances
  // Backends `ctl scale` runs at another count than the file says: backend → the file's
  // spawn.instances then (config_ holds the scaled count). Handed over by an upgrade.
  std::map<std::string, uint32_t> scaled_;
  std::map<uint64_t, std::pair<cluster::Supervisor*, cluster::FollowerId>> followers_;
  uint64_t next_follower_ = 0;
  event* slow_start_timer_ = nullptr;
  event* drain_poll_ = nullptr;
  std::function<void()> on_drained_;
  std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
  bool started_ = false;
  bool stopping_ = false;
  Inherited inherited_; // taken over at startup; the slots are adopted by start()
  std::unique_ptr<Upgrade> upgrade_;
  nlohmann::json upgrade_status_ = {{"state", "none"}};
  uint64_t upgrades_ = 0;
  std::function<void()> on_handed_over_;
};

} // namespace corral::control

#include "corral/metrics/control_metrics.h"

#include <algorithm>

#include <fmt/format.h>
#include <prometheus/gauge.h>

#include "metrics/families.h"

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

namespace corral::metrics {
namespace {

// Label values in the order of HealthCheckResult.
constexpr std::array<const char*, static_cast<size_t>(HealthCheckResult::kCount)>
    kHealthCheckResults = {"success", "timeout", "refused", "bad_status", "error"};

} // namespace

std::vector<std::string> instanceNames(const config::BackendConfig& backend) {
  if (!backend.spawn) {
    return {};
  }
  const uint32_t instances = backend.spawn->instances; // `auto` is resolved by the loader
  std::vector<std::string> names;
  for (uint32_t i = 0; i < instances; ++i) {
    names.push_back(fmt::format("{}#{}", backend.name, i));
  }
  return names;
}

ControlMetrics::ControlMetrics(SnapshotProvider snapshot, ServerStateProvider server_state)
    : snapshot_(std::move(snapshot)), server_state_(std::move(server_state)) {
  auto& reloads = prometheus::BuildCounter()
                      .Name("corral_config_reloads_total")
                      .Help("Configuration reloads (SIGHUP or the admin API), by result.")
                      .Register(registry_);
  reload_successes_ = &reloads.Add({{"result", "success"}});
  reload_failures_ = &reloads.Add({{"result", "failure"}});
  prometheus::BuildGauge()
      .Name("corral_build_info")
      .Help("Always 1; the labels describe the running build.")
      .Register(registry_)
      .Add({{"version", CORRAL_VERSION}})
      .Set(1);
}

void ControlMetrics::countHealthCheck(std::string_view backend, std::string_view server,
                                      HealthCheckResult result) {
  const std::lock_guard lock(mutex_);
  Key key{backend, server};
  ++health_checks_[std::move(key)][static_cast<size_t>(result)];
}

void ControlMetrics::countInstanceRestart(std::string_view backend, std::string_view instance) {
  const std::lock_guard lock(mutex_);
  ++restarts_[Key{backend, instance}];
}

void ControlMetrics::countConfigReload(ReloadResult result) {
  (result == ReloadResult::Success ? reload_successes_ : reload_failures_)->Increment();
}

std::vector<prometheus::MetricFamily> ControlMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> families = registry_.Collect();
  const runtime::SnapshotPtr snapshot = snapshot_ ? snapshot_() : nullptr;
  if (snapshot != nullptr) {
    const std::lock_guard lock(mutex_);
    forgetRemoved(*snapshot);
    appendServerFamilies(*snapshot, families);
    appendRestartFamily(*snapshot, families);
  }
  return families;
}

void ControlMetrics::appendServerFamilies(const runtime::Snapshot& snapshot,
                                          std::vector<prometheus::MetricFamily>& families) const {
  auto up = gaugeFamily("corral_server_up",
                        "1 if the server passes its health checks (or has none), else 0.");
  auto checks = counterFamily("corral_health_checks_total", "Health checks of the server, by result.");
  for (const runtime::Backend& backend : snapshot.backends) {
    const std::string& backend_name = backend.config->name;
    for (const runtime::Server& server : backend.servers) {
      const bool is_up = !server_state_ || server_state_(backend_name, server.name);
      addSample(up, {{"backend", backend_name}, {"server", server.name}}, is_up ? 1 : 0);
      const auto counts = health_checks_.find(Key{backend_name, server.name});
      for (size_t result = 0; result < kHealthCheckResults.size(); ++result) {
        const uint64_t count = counts != health_checks_.end() ? counts->second[result] : 0;
        addSample(checks,
                  {{"backend", backend_name},
                   {"server", server.name},
                   {"result", kHealthCheckResults[result]}},
                  static_cast<double>(count));
      }
    }
  }
  families.push_back(std::move(up));
  families.push_back(std::move(checks));
}

void ControlMetrics::appendRestartFamily(const runtime::Snapshot& snapshot,
                                         std::vector<prometheus::MetricFamily>& families) const {
  // The instance goes in the `server` label, not `instance`: Prometheus sets `instance` on every
  // series to the scrape target and renames a clashing exported one to `exported_instance`
  // (honor_labels: false, the default). The spawned slot "app#2" is also the server's name, so
  // the restarts join corral_server_up and the other per-server series on (backend, server).
  auto restarts = counterFamily("corral_instance_restarts_total",
                                "Spawned instances started again after they ended; the server "
                                "label is the instance's slot (app#0, app#1, ...).");
  for (const runtime::Backend& backend : snapshot.backends) {
    for (const std::string& instance : instanceNames(*backend.config)) {
      const auto count = restarts_.find(Key{backend.config->name, instance});
      addSample(restarts, {{"backend", backend.config->name}, {"server", instance}},
                count != restarts_.end() ? static_cast<double>(count->second) : 0);
    }
  }
  families.push_back(std::move(restarts));
}

void ControlMetrics::forgetRemoved(const runtime::Snapshot& snapshot) const {
  std::erase_if(health_checks_, [&](const auto& entry) {
    const runtime::Backend* backend = snapshot.findBackend(entry.first.first);
    return backend == nullptr ||
           std::ranges::none_of(backend->servers, [&](const runtime::Server& server) {
             return server.name == entry.first.second;
           });
  });
  std::erase_if(restarts_, [&](const auto& entry) {
    const runtime::Backend* backend = snapshot.findBackend(entry.first.first);
    if (backend == nullptr) {
      return true;
    }
    const std::vector<std::string> names = instanceNames(*backend->config);
    return std::ranges::find(names, entry.first.second) == names.end();
  });
}

} // namespace corral::metrics

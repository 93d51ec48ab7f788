#pragma once
// Snapshots built from configurations written in code, and lookups into collected families.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>

#include "corral/config/config.h"
#include "corral/runtime/snapshot.h"

namespace corral::metrics::testing {

using LabelMap = std::map<std::string, std::string>;

/// A server on 127.0.0.1 (Snapshot::build resolves names; numeric addresses keep tests offline).
inline config::ServerConfig server(std::string name, uint16_t port) {
  return {.address = {.host = "127.0.0.1", .port = port}, .weight = 1, .name = std::move(name)};
}

/// Frontend "web" → backend "app" with the given servers, run by `workers` workers.
inline config::Config webConfig(std::vector<config::ServerConfig> servers, uint32_t workers = 3) {
  config::Config config;
  config.workers = workers;
  config.frontends.push_back(
      {.name = "web", .listen = {.host = "127.0.0.1", .port = 0}, .backend = "app"});
  config::BackendConfig app;
  app.name = "app";
  app.servers = std::move(servers);
  config.backends.push_back(std::move(app));
  return config;
}

inline runtime::SnapshotPtr build(config::Config config, const runtime::Snapshot* previous = nullptr) {
  auto snapshot = runtime::Snapshot::build(std::move(config), previous);
  EXPECT_TRUE(snapshot.has_value()) << (snapshot ? "" : snapshot.error().message);
  return snapshot.value_or(nullptr);
}

inline LabelMap labelsOf(const prometheus::ClientMetric& metric) {
  LabelMap labels;
  for (const auto& label : metric.label) {
    labels[label.name] = label.value;
  }
  return labels;
}

inline const prometheus::MetricFamily* findFamily(const std::vector<prometheus::MetricFamily>& families,
                                                  const std::string& name) {
  for (const auto& family : families) {
    if (family.name == name) {
      return &family;
    }
  }
  return nullptr;
}

/// The series of `name` with exactly `labels`, or nullptr.
inline const prometheus::ClientMetric* findSeries(
    const std::vector<prometheus::MetricFamily>& families, const std::string& name,
    const LabelMap& labels) {
  const prometheus::MetricFamily* family = findFamily(families, name);
  if (family == nullptr) {
    return nullptr;
  }
  for (const auto& metric : family->metric) {
    if (labelsOf(metric) == labels) {
      return &metric;
    }
  }
  return nullptr;
}

/// A counter's or gauge's value, or nullopt when the series does not exist.
inline std::optional<double> valueOf(const std::vector<prometheus::MetricFamily>& families,
                                     const std::string& name, const LabelMap& labels) {
  const prometheus::MetricFamily* family = findFamily(families, name);
  const prometheus::ClientMetric* series = findSeries(families, name, labels);
  if (series == nullptr) {
    return std::nullopt;
  }
  return family->type == prometheus::MetricType::Counter ? series->counter.value
                                                         : series->gauge.value;
}

/// Every label set of `name`.
inline std::vector<LabelMap> labelSets(const std::vector<prometheus::MetricFamily>& families,
                                       const std::string& name) {
  std::vector<LabelMap> sets;
  if (const auto* family = findFamily(families, name)) {
    for (const auto& metric : family->metric) {
      sets.push_back(labelsOf(metric));
    }
  }
  return sets;
}

} // namespace corral::metrics::testing

#pragma once
// Building prometheus-cpp MetricFamily values by hand, for the collectors that derive their
// series at scrape time instead of keeping prometheus::Counter objects.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include "corral/runtime/stats.h"

namespace corral::metrics {

using Labels = std::vector<prometheus::ClientMetric::Label>;

prometheus::MetricFamily counterFamily(std::string name, std::string help);
prometheus::MetricFamily gaugeFamily(std::string name, std::string help);
prometheus::MetricFamily histogramFamily(std::string name, std::string help);

/// Appends one series; the value goes to the field that matches the family's type.
void addSample(prometheus::MetricFamily& family, Labels labels, double value);

/// A Histogram summed over workers: per-bucket counts (not cumulative) and the sum.
struct HistogramTotals {
  std::array<uint64_t, runtime::Histogram::kBounds.size() + 1> buckets{};
  uint64_t sum_microseconds = 0;

  void add(const runtime::Histogram& histogram);
};

/// Appends one histogram series with cumulative buckets, as Prometheus expects (le="+Inf" last,
/// equal to the count). The count is the sum of the buckets rather than Histogram::count, so the
/// series stays consistent even when a worker observes between the two reads.
void addHistogram(prometheus::MetricFamily& family, Labels labels, const HistogramTotals& totals);

} // namespace corral::metrics

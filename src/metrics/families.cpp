#include "metrics/families.h"

#include <limits>
#include <utility>

namespace corral::metrics {
namespace {

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type) {
  return {.name = std::move(name), .help = std::move(help), .type = type, .metric = {}};
}

} // namespace

prometheus::MetricFamily counterFamily(std::string name, std::string help) {
  return family(std::move(name), std::move(help), prometheus::MetricType::Counter);
}

prometheus::MetricFamily gaugeFamily(std::string name, std::string help) {
  return family(std::move(name), std::move(help), prometheus::MetricType::Gauge);
}

prometheus::MetricFamily histogramFamily(std::string name, std::string help) {
  return family(std::move(name), std::move(help), prometheus::MetricType::Histogram);
}

void addSample(prometheus::MetricFamily& family, Labels labels, double value) {
  prometheus::ClientMetric sample;
  sample.label = std::move(labels);
  if (family.type == prometheus::MetricType::Counter) {
    sample.counter.value = value;
  } else {
    sample.gauge.value = value;
  }
  family.metric.push_back(std::move(sample));
}

void HistogramTotals::add(const runtime::Histogram& histogram) {
  for (size_t i = 0; i < buckets.size(); ++i) {
    buckets[i] += histogram.buckets[i].get();
  }
  sum_microseconds += histogram.sum_microseconds.get();
}

void addHistogram(prometheus::MetricFamily& family, Labels labels, const HistogramTotals& totals) {
  prometheus::ClientMetric sample;
  sample.label = std::move(labels);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < totals.buckets.size(); ++i) {
    cumulative += totals.buckets[i];
    const double bound = i < runtime::Histogram::kBounds.size()
                             ? runtime::Histogram::kBounds[i]
                             : std::numeric_limits<double>::infinity();
    sample.histogram.bucket.push_back({.cumulative_count = cumulative, .upper_bound = bound});
  }
  sample.histogram.sample_count = cumulative;
  sample.histogram.sample_sum = static_cast<double>(totals.sum_microseconds) / 1e6;
  family.metric.push_back(std::move(sample));
}

} // namespace corral::metrics

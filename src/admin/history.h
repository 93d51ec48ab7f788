#pragma once
// The last few minutes of every server, for the status page's sparklines and `ctl top`'s rates:
// GET /api/v1/history. The admin server records one sample of the Status each second; rates are
// the differences of the counters between two samples, so the history costs the data path nothing.
//
// Memory is bounded by the window: every series is a ring of window / interval samples of 20 bytes,
// and a server that leaves the status (a reload removed it) loses its series at the next sample.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "corral/admin/control.h"

namespace corral::admin {

class History {
public:
  /// Keeps `window / interval` samples (at least 2).
  History(std::chrono::milliseconds window, std::chrono::milliseconds interval);

  /// One sample of every server in `status`, taken at `now_s` (seconds since the epoch). The first
  /// sample of a server only primes its counters: a rate needs two.
  void record(const Status& status, double now_s);

  /// {"interval_s", "window_s", "t": [oldest .. newest], "servers": [{"backend", "server",
  /// "connections_per_s": [...], "bytes_in_per_s": [...], "bytes_out_per_s": [...],
  /// "active": [...], "state": [...]}]}. A server's columns are aligned with the newest end of "t"
  /// and may be shorter (it appeared later).
  nlohmann::json toJson() const;

  size_t capacity() const { return capacity_; }
  /// Samples held, over all series: the memory bound's witness in tests.
  size_t sampleCount() const;

private:
  struct Sample {
    float connections_per_s;
    float bytes_in_per_s;
    float bytes_out_per_s;
    uint32_t active;
    uint8_t state; // index into state_names_
  };
  // A fixed-capacity ring, oldest first when read with at().
  template <class T>
  struct Ring {
    std::vector<T> items;
    size_t head = 0; // where the next item goes once full
    void push(T item, size_t capacity);
    const T& at(size_t i) const { return items[(head + i) % items.size()]; }
    size_t size() const { return items.size(); }
  };
  struct Series {
    std::string backend;
    std::string server;
    uint64_t total = 0;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    double at_s = 0; // when the counters above were read
    Ring<Sample> samples;
  };

  void recordServer(Series& series, const ServerStatus& server, double now_s);
  uint8_t stateIndex(const std::string& state);

  size_t capacity_;
  double interval_s_;
  double window_s_;
  Ring<double> times_;
  std::map<std::string, Series> series_; // by "backend/server"
  std::vector<std::string> order_;       // configuration order of the last status
  std::vector<std::string> state_names_; // interned: a handful of states, at most 256
};

} // namespace corral::admin

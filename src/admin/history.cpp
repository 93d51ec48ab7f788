#include "history.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace corral::admin {

template <class T>
void History::Ring<T>::push(T item, size_t capacity) {
  if (items.size() < capacity) {
    items.push_back(item);
    return;
  }
  items[head] = item;
  head = (head + 1) % capacity;
}

History::History(std::chrono::milliseconds window, std::chrono::milliseconds interval)
    : capacity_(std::max<size_t>(2, static_cast<size_t>(window / interval))),
      interval_s_(std::chrono::duration<double>(interval).count()),
      window_s_(std::chrono::duration<double>(window).count()) {}

void History::record(const Status& status, double now_s) {
  std::map<std::string, Series> next;
  order_.clear();
  for (const auto& backend : status.backends) {
    for (const auto& server : backend.servers) {
      auto key = backend.name + "/" + server.name;
      auto found = series_.find(key);
      Series series = found != series_.end()
                          ? std::move(found->second)
                          : Series{.backend = backend.name, .server = server.name};
      recordServer(series, server, now_s);
      order_.push_back(key);
      next.emplace(std::move(key), std::move(series));
    }
  }
  series_ = std::move(next); // servers that left the status go with their samples
  times_.push(now_s, capacity_);
}

void History::recordServer(Series& series, const ServerStatus& server, double now_s) {
  const bool primed = series.at_s > 0 && now_s > series.at_s;
  if (primed) {
    // Counters only grow for one server; after a restart of its counting they may not.
    const auto rate = [&](uint64_t now, uint64_t before) {
      return now >= before ? static_cast<float>((now - before) / (now_s - series.at_s)) : 0.0f;
    };
    series.samples.push(Sample{.connections_per_s = rate(server.total, series.total),
                               .bytes_in_per_s = rate(server.bytes_in, series.bytes_in),
                               .bytes_out_per_s = rate(server.bytes_out, series.bytes_out),
                               .active = static_cast<uint32_t>(server.active),
                               .state = stateIndex(server.state)},
                        capacity_);
  }
  series.total = server.total;
  series.bytes_in = server.bytes_in;
  series.bytes_out = server.bytes_out;
  series.at_s = now_s;
}

uint8_t History::stateIndex(const std::string& state) {
  const auto found = std::find(state_names_.begin(), state_names_.end(), state);
  if (found != state_names_.end()) {
    return static_cast<uint8_t>(found - state_names_.begin());
  }
  if (state_names_.size() == 256) {
    return 0; // cannot happen with corral's few states; never grow without bound
  }
  state_names_.push_back(state);
  return static_cast<uint8_t>(state_names_.size() - 1);
}

nlohmann::json History::toJson() const {
  nlohmann::json times = nlohmann::json::array();
  for (size_t i = 0; i < times_.size(); ++i) {
    times.push_back(times_.at(i));
  }
  nlohmann::json servers = nlohmann::json::array();
  for (const auto& key : order_) {
    const auto& series = series_.at(key);
    nlohmann::json connections = nlohmann::json::array(), in = nlohmann::json::array(),
                   out = nlohmann::json::array(), active = nlohmann::json::array(),
                   state = nlohmann::json::array();
    for (size_t i = 0; i < series.samples.size(); ++i) {
      const auto& sample = series.samples.at(i);
      connections.push_back(sample.connections_per_s);
      in.push_back(sample.bytes_in_per_s);
      out.push_back(sample.bytes_out_per_s);
      active.push_back(sample.active);
      state.push_back(state_names_[sample.state]);
    }
    servers.push_back({{"backend", series.backend},
                       {"server", series.server},
                       {"connections_per_s", std::move(connections)},
                       {"bytes_in_per_s", std::move(in)},
                       {"bytes_out_per_s", std::move(out)},
                       {"active", std::move(active)},
                       {"state", std::move(state)}});
  }
  return {{"interval_s", interval_s_},
          {"window_s", window_s_},
          {"t", std::move(times)},
          {"servers", std::move(servers)}};
}

size_t History::sampleCount() const {
  size_t count = 0;
  for (const auto& [key, series] : series_) {
    count += series.samples.size();
  }
  return count;
}

} // namespace corral::admin

#pragma once
// A Backend built by hand, without a snapshot: servers with fresh stats, a config the test owns.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "corral/runtime/snapshot.h"

namespace corral::runtime {

/// One server "s<i>" per weight, up and enabled; `config` must outlive the backend.
inline Backend backendOf(const config::BackendConfig& config,
                         const std::vector<uint32_t>& weights) {
  Backend backend{.config = &config, .servers = {}, .stats = std::make_shared<BackendStats>(1)};
  for (size_t i = 0; i < weights.size(); ++i) {
    backend.servers.push_back(Server{.name = "s" + std::to_string(i),
                                     .address = {},
                                     .weight = weights[i],
                                     .stats = std::make_shared<ServerStats>(1)});
  }
  return backend;
}

} // namespace corral::runtime

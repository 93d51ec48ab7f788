#include "corral/config/config.h"

#include <algorithm>

namespace corral::config {

const BackendConfig* Config::findBackend(std::string_view name) const {
  const auto it = std::find_if(backends.begin(), backends.end(),
                               [&](const BackendConfig& backend) { return backend.name == name; });
  return it == backends.end() ? nullptr : &*it;
}

} // namespace corral::config

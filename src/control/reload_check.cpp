// What a reload cannot apply to the running process (issue 14: "reload applies every setting, or
// refuses to pretend"). Until the control plane applies these live, a reload that changes one
// fails, names the key and points at `corral ctl upgrade`, which starts a process with the new
// configuration and keeps the sockets and the clones.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "corral/control/control_plane.h"

namespace corral::control {
namespace {

std::string listenText(const HostPort& listen) { return fmt::format("{}:{}", listen.host, listen.port); }

template <typename T>
std::string optionalListen(const std::optional<T>& section) {
  return section ? listenText(section->listen) : "off";
}

bool sameSpawn(const config::SpawnConfig& a, const config::SpawnConfig& b) {
  return a.command == b.command && a.instances == b.instances && a.port_first == b.port_first &&
         a.port_last == b.port_last && a.cwd == b.cwd && a.env == b.env;
}

} // namespace

Result<void> ControlPlane::checkReloadable(const config::Config& running, const config::Config& next) {
  std::vector<std::string> keys;
  if (running.workers != next.workers) {
    keys.push_back("workers");
  }
  if (running.access_log != next.access_log) {
    keys.push_back("access_log");
  }
  if (optionalListen(running.admin) != optionalListen(next.admin)) {
    keys.push_back("admin.listen");
  }
  if (optionalListen(running.metrics) != optionalListen(next.metrics)) {
    keys.push_back("metrics.listen");
  }
  for (const config::BackendConfig& backend : next.backends) {
    for (const config::BackendConfig& old : running.backends) {
      if (old.name == backend.name && old.spawn && backend.spawn &&
          !sameSpawn(*old.spawn, *backend.spawn)) {
        keys.push_back(fmt::format("backends[{}].spawn", backend.name));
      }
    }
  }
  if (keys.empty()) {
    return {};
  }
  return fail(ErrorCode::BadConfig,
              fmt::format("a reload cannot apply a change of {}; use `corral ctl upgrade`, which "
                          "starts corral anew with this configuration and keeps the sockets and "
                          "the instances",
                          fmt::join(keys, ", ")));
}

} // namespace corral::control

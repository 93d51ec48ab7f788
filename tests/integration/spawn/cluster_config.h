#pragma once
// The configuration these tests run: four clones of corral-demo-backend behind one frontend,
// checked over HTTP every 200 ms, and an admin API for `corral ctl`. Each clone answers
// "demo-N pid P request K", N being its slot (CORRAL_INSTANCE).

#include <string>
#include <string_view>

#include "tests/integration/spawn/spawned_cluster.h"

namespace corral::test {

inline constexpr int kInstances = 4;
inline constexpr int kPorts = kInstances + 4; // spawn needs one spare; more do no harm

// ${extra_backends}: more backends, each a YAML list item indented by two spaces.
inline constexpr std::string_view kClusterConfig = R"(
workers: 2
access_log: "off"
admin: {listen: "127.0.0.1:0"}
frontends:
  - {name: web, listen: "127.0.0.1:0", backend: app, drain_timeout: 5s}
backends:
  - name: app
    balance: ${balance}
    spawn: {command: ["${demo}"], instances: 4, ports: "${ports}", stop_timeout: 2s}
    health_check: {type: http, path: /healthz, interval: 200ms, timeout: 1s, rise: 1, fall: 2}
    connect_timeout: 1s
    retries: 2
${extra_backends}
)";

/// Values for kClusterConfig: `balance` for app, eight ports (instances and spares), no extra
/// backends.
inline Substitutions clusterSubstitutions(std::string balance = "round_robin") {
  return {{"balance", std::move(balance)},
          {"demo", demoBackendBinary()},
          {"ports", portRange(freePorts(kPorts), kPorts)},
          {"extra_backends", ""}};
}

/// "app#2" for slot 2.
inline std::string slotName(int slot) {
  return "app#" + std::to_string(slot);
}

} // namespace corral::test

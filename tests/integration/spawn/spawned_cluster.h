#pragma once
// The real `corral run` with a backend of spawned instances, seen the way an operator sees it:
// through the frontend, `corral ctl` (status --json, restart, logs) and corral's stderr, where
// the instances' output lands with an `app#N [pid]` prefix.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/corral_process.h"

namespace corral::test {

/// One server of a backend as `ctl status --json` lists it.
struct Instance {
  std::string name;   // "app#2"
  std::string state;  // "unknown", "up", "down", ...
  std::string reason; // why it is down, e.g. "ejected after failed connects"
  pid_t pid = 0;      // 0 while no process serves the slot
  uint32_t restarts = 0;
};

/// The first of `count` consecutive ports on 127.0.0.1 that could be bound a moment ago, below
/// the ephemeral range (so that no client socket takes one), at a place derived from this
/// process's pid so that tests running side by side pick different ranges.
int freePorts(int count);
/// "A-B" for spawn.ports: `count` ports from `first`.
std::string portRange(int first, int count);

/// The demo backend's path (compile definition DEMO_BACKEND_BINARY).
std::string demoBackendBinary();

/// A process that still runs: it exists and is not a zombie. A zombie has exited; once corral is
/// gone its zombies belong to PID 1, which may never reap them in a container.
bool isRunning(pid_t pid);
/// Gone altogether (kill(pid, 0) fails with ESRCH): exited and reaped.
bool isReaped(pid_t pid);

class SpawnedCluster {
public:
  explicit SpawnedCluster(std::string_view config_template, const Substitutions& substitutions,
                          std::chrono::milliseconds ready_timeout = 15s);

  CorralProcess& corral() { return corral_; }
  bool ready() const { return corral_.ready() && !admin_.empty(); }
  std::string frontend(std::string_view name = "web") const { return corral_.listenAddress(name); }
  const std::string& admin() const { return admin_; }

  /// `corral ctl --admin ADDR ARGS...`, killed by its pid after `timeout`.
  CommandResult ctl(const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout = 10s) const;
  /// The servers of `backend` from `ctl status --json`; nullopt (and a logged reason) if ctl or
  /// its JSON failed.
  std::optional<std::vector<Instance>> instances(std::string_view backend = "app") const;
  /// Waits until `backend` lists `count` servers, all up and each with a pid.
  std::optional<std::vector<Instance>> waitAllUp(size_t count, std::chrono::milliseconds timeout,
                                                 std::string_view backend = "app") const;
  /// Lines of corral's stderr that contain `text`.
  std::vector<std::string> stderrLinesWith(std::string_view text) const;

private:
  CorralProcess corral_;
  std::string admin_;
};

} // namespace corral::test

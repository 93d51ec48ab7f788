#pragma once
// What `ctl status` and `ctl route` show, computed from a snapshot: pure functions, so the
// ControlPlane only gathers their inputs (the bound addresses, the last health checks, the
// supervisors' instances, the Maglev table in use) and the admin server renders the JSON.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corral/admin/control.h"
#include "corral/balance/maglev_table.h"
#include "corral/cluster/supervisor.h"
#include "corral/control/control_plane.h"
#include "corral/runtime/snapshot.h"

namespace corral::control {

struct StatusInputs {
  std::string_view version;
  std::chrono::steady_clock::time_point started_at;
  std::vector<std::pair<std::string, SocketAddress>> bound; // per frontend, in snapshot order
  const LastChecks& last_checks;
  /// The spawned instances of a backend, by slot; empty for a backend of static servers.
  std::function<std::vector<cluster::InstanceStatus>(std::string_view backend)> instances;
};

/// Every frontend and backend of `snapshot` with its counters and each server's state.
admin::Status statusOf(const runtime::Snapshot& snapshot, const StatusInputs& inputs);

/// The server a new connection from `client` (with sticky cookie value `cookie`, or balance: hash
/// key value `key`, if any) would reach on `backend`, and why; `table` is the Maglev table the
/// workers route an ip_hash or hash backend with. Unavailable when no server can take the client.
Result<admin::RouteAnswer> routeOf(const runtime::Backend& backend,
                                   std::shared_ptr<const balance::MaglevTable> table,
                                   const SocketAddress& client,
                                   std::optional<std::string_view> cookie,
                                   std::optional<std::string_view> key = std::nullopt);

} // namespace corral::control

#pragma once
// What `ctl status` and `ctl route` show, computed from a snapshot: pure functions, so the
// ControlPlane only gathers their inputs (the bound addresses, the last health checks, the
// supervisors' instances, the Maglev table in use) and the admin server renders the JSON.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corral/admin/control.h"
#include "corral/balance/balancer.h"
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

/// What the balancer that routes the next connection would pick for these candidates and client
/// key, without moving it on (balance::Balancer::peek).
using NextPick = std::function<std::optional<size_t>(std::span<const balance::Candidate>,
                                                     uint64_t client_key)>;

/// The server the next connection from `client` (with sticky cookie value `cookie`, or balance:
/// hash key value `key`, if any) reaches on `backend`, and why. A key is placed on `table`, the
/// Maglev table the workers route an ip_hash or hash backend with. Otherwise the candidates are
/// those a worker sees (runtime::fillCandidates) and `next_pick` chooses. Round robin and least
/// connections are per worker: with `workers` above 1 the reason says the answer is worker 0's.
/// Unavailable when no server can take the client.
Result<admin::RouteAnswer> routeOf(const runtime::Backend& backend,
                                   std::shared_ptr<const balance::MaglevTable> table,
                                   const NextPick& next_pick, size_t workers,
                                   const SocketAddress& client,
                                   std::optional<std::string_view> cookie,
                                   std::optional<std::string_view> key = std::nullopt);

} // namespace corral::control

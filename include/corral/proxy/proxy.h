#pragma once
// The data plane: one worker thread per core, each with its own event_base and its own
// SO_REUSEPORT listening socket per frontend, owning its sessions end to end.

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "corral/core/address.h"
#include "corral/core/error.h"
#include "corral/balance/balancer.h"
#include "corral/balance/maglev_table.h"
#include "corral/runtime/snapshot.h"

namespace corral::proxy {

class AccessLog;
class Worker;

/// Listening sockets this process did not open: handed over by the corral it upgrades (matched by
/// frontend name) or by systemd socket activation (LISTEN_FDS, name empty: matched by address).
struct InheritedListener {
  std::string frontend;
  SocketAddress address; // the bound address
  std::vector<int> fds;  // taken by create(); what no frontend wants is closed there
};

class Proxy {
public:
  /// Binds every frontend (one socket per worker; a port of 0 is chosen once and shared) and
  /// opens the access log. A port in use or an unwritable log fails here, before any thread runs;
  /// a port that another process listens on is an error even where SO_REUSEPORT would share it.
  /// A frontend with `inherited` sockets uses them instead of binding (and dup()s one when there
  /// are fewer than workers).
  static Result<std::unique_ptr<Proxy>> create(runtime::SnapshotPtr snapshot,
                                               std::vector<InheritedListener> inherited = {});
  ~Proxy();

  /// Starts the worker threads.
  void start();
  /// Stops accepting. Open sessions may finish until their frontend's drain_timeout, then are
  /// closed; each worker thread ends when its last session has.
  void drain();
  /// True once every worker has finished draining; join() will not block then.
  bool drained() const;
  /// Waits for every worker thread to end (after drain()).
  void join();
  /// Moves every worker to `next` (a reload). Listeners whose frontend name and address did not
  /// change stay open (no accept gap); new ones open, removed ones close. Sessions in flight keep
  /// the snapshot they started with. Fails, changing nothing, when a new address cannot be bound.
  Result<void> update(runtime::SnapshotPtr next);
  /// Replaces the Maglev table of an ip_hash backend (after a health or weight change) in every
  /// worker still on `snapshot`.
  void publishMaglev(const runtime::Snapshot* snapshot, size_t backend,
                     std::shared_ptr<const balance::MaglevTable> table);
  /// What worker `worker`'s balancer for backend `backend` of `snapshot` would pick next for
  /// these candidates (balance::Balancer::peek), without moving it on; nullopt for nothing to
  /// pick, and unset (`known` false) while the worker still routes with another snapshot.
  struct NextPick {
    bool known = false;
    std::optional<size_t> server;
  };
  NextPick peekPick(size_t worker, const runtime::Snapshot* snapshot, size_t backend,
                    std::span<const balance::Candidate> candidates, uint64_t client_key) const;
  size_t workerCount() const { return workers_.size(); }
  /// Reopens the access log file (SIGUSR1, for logrotate).
  void reopenAccessLog();
  /// A reload changed `access_log` ("stdout", "off" or a path): opens it (an error changes
  /// nothing) and moves every worker to it.
  Result<void> retargetAccessLog(const std::string& target);

  /// The address each frontend is bound to, in configuration order.
  std::vector<std::pair<std::string, SocketAddress>> boundAddresses() const;
  /// Every frontend's listening sockets (still owned by the workers), for an upgrade handover.
  std::vector<InheritedListener> listeners() const;

private:
  Proxy() = default;
  /// One listening socket per worker for `frontend`, or an error naming it.
  static Result<std::vector<int>> bindFrontend(const runtime::Frontend& frontend, size_t workers,
                                               SocketAddress& bound,
                                               std::vector<InheritedListener>* inherited = nullptr);

  runtime::SnapshotPtr snapshot_;
  std::unique_ptr<AccessLog> access_log_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::pair<std::string, SocketAddress>> bound_;
  std::vector<HostPort> configured_;     // the listen key behind each bound_ entry
  std::vector<std::vector<int>> fds_;    // each bound_ entry's sockets, one per worker
  bool draining_ = false;
};

} // namespace corral::proxy

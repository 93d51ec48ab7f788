#pragma once
// The immutable view of the configuration that workers route with. The control thread builds a
// new Snapshot beside the old one; a connection keeps the snapshot it started with. Live counters
// that must survive a reload (active connections) sit behind shared_ptr and are carried over.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "corral/balance/maglev_table.h"
#include "corral/config/config.h"
#include "corral/protocol/cookie_signer.h"
#include "corral/core/address.h"
#include "corral/core/error.h"
#include "corral/runtime/stats.h"

namespace corral::runtime {

/// Counters shared by every worker; atomics, never a lock (DESIGN.md, Architecture).
struct ServerStats {
  explicit ServerStats(size_t workers) : cells(workers) {}
  std::atomic<uint32_t> active{0}; // live sessions, for least_connections
  PerWorker<ServerCells> cells;
};

struct Server {
  std::string name;      // "s1", "127.0.0.1:9001", "app#2"
  SocketAddress address; // resolved
  uint32_t weight = 1;
  std::shared_ptr<ServerStats> stats;
};

struct BackendStats {
  explicit BackendStats(size_t workers) : cells(workers) {}
  PerWorker<BackendCells> cells;
};

struct Backend {
  const config::BackendConfig* config = nullptr; // points into Snapshot::config
  std::vector<Server> servers;
  std::shared_ptr<BackendStats> stats;
  /// For ip_hash, and sticky_cookie with an ip_hash fallback: built from the servers in order.
  std::shared_ptr<const balance::MaglevTable> maglev;
  /// For sticky_cookie: signs and checks cookie values; shared by every worker (thread-safe).
  std::shared_ptr<const protocol::CookieSigner> cookie_signer;

  /// The placement used for clients without a valid sticky cookie (or all, in other modes).
  config::Balance placement() const {
    return config->balance == config::Balance::StickyCookie ? config->sticky_cookie.fallback
                                                            : config->balance;
  }
};

struct FrontendStats {
  explicit FrontendStats(size_t workers) : cells(workers) {}
  std::atomic<uint32_t> active{0}; // for max_connections, across workers
  PerWorker<FrontendCells> cells;
};

struct Frontend {
  const config::FrontendConfig* config = nullptr;
  size_t backend = 0; // index into Snapshot::backends
  std::shared_ptr<FrontendStats> stats;
};

struct Snapshot {
  config::Config config;
  size_t workers = 1; // worker threads; fixed for the life of the process
  std::shared_ptr<PerWorker<WorkerCells>> worker_cells;
  std::vector<Frontend> frontends;
  std::vector<Backend> backends;

  /// Builds a snapshot from a validated config. Server host names are resolved here (once, on
  /// the control thread, before any worker uses the result). Counters of frontends and servers
  /// that also exist in `previous` (same name) are carried over.
  static Result<std::shared_ptr<const Snapshot>> build(config::Config config,
                                                       const Snapshot* previous = nullptr);

  const Frontend* findFrontend(std::string_view name) const;
  const Backend* findBackend(std::string_view name) const;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

} // namespace corral::runtime

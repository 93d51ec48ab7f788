#pragma once
// The immutable view of the configuration that workers route with. The control thread builds a
// new Snapshot beside the old one; a connection keeps the snapshot it started with. Live counters
// that must survive a reload (active connections) sit behind shared_ptr and are carried over.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "corral/balance/maglev_table.h"
#include "corral/config/config.h"
#include "corral/protocol/cookie_signer.h"
#include "corral/core/address.h"
#include "corral/core/error.h"
#include "corral/runtime/backend_queue.h"
#include "corral/runtime/client_table.h"
#include "corral/runtime/stats.h"
#include "corral/tls/client_context.h"
#include "corral/tls/server_context.h"

namespace corral::runtime {

enum class Health : uint8_t { Unknown, Up, Down };
enum class AdminState : uint8_t { Enabled, Drain, Disabled };

/// Milliseconds on the steady clock: what ejection and slow start deadlines are written in.
int64_t steadyMs();

/// The live state of one server, shared by every worker and the control thread, carried over by
/// name across reloads. Workers read it at pick time with relaxed loads: never a lock (DESIGN.md,
/// Architecture). Health and admin state are written by the control thread; failures and ejection
/// by workers (passive checks).
struct ServerStats {
  explicit ServerStats(size_t workers) : cells(workers) {}
  std::atomic<uint32_t> active{0}; // live sessions, for least_connections
  PerWorker<ServerCells> cells;

  std::atomic<Health> health{Health::Up};          // Unknown while active checks have not run
  std::atomic<AdminState> admin{AdminState::Enabled};
  std::atomic<int32_t> weight_override{-1};        // `ctl weight`; -1: the configured weight
  std::atomic<int64_t> up_since_ms{0};             // when it last came up or was enabled
  std::atomic<uint32_t> failures{0};               // consecutive failed connects
  std::atomic<int64_t> ejected_until_ms{0};        // passive ejection

  /// May take new clients: up, enabled (not draining), not ejected.
  bool acceptsNew(int64_t now_ms) const {
    return health.load(std::memory_order_relaxed) == Health::Up &&
           admin.load(std::memory_order_relaxed) == AdminState::Enabled &&
           ejected_until_ms.load(std::memory_order_relaxed) <= now_ms;
  }
  /// May take a client whose sticky cookie names it: draining servers keep their clients.
  bool acceptsSticky(int64_t now_ms) const {
    return health.load(std::memory_order_relaxed) == Health::Up &&
           admin.load(std::memory_order_relaxed) != AdminState::Disabled &&
           ejected_until_ms.load(std::memory_order_relaxed) <= now_ms;
  }
};

struct Server {
  std::string name;      // "s1", "127.0.0.1:9001", "app#2"
  SocketAddress address; // resolved
  uint32_t weight = 1;   // as configured
  std::shared_ptr<ServerStats> stats;
  /// servers[].tls: corral speaks TLS to this server (re-encryption); null for plain TCP.
  std::shared_ptr<const tls::ClientContext> tls;
  std::string host; // the host of servers[].address as written: SNI and name check when tls
  uint32_t max_connections = 0; // its own, else the backend's server_max_connections; 0: none
  bool backup = false;          // servers[].backup: only while no primary can take a client
  /// health_check.tls: the context checks use (the server's own unless health_check.sni differs).
  std::shared_ptr<const tls::ClientContext> health_tls;

  /// The weight balancers use now: the `ctl weight` override or the configured weight, ramped by
  /// slow start (from 10% to 100% over `slow_start` after the server came up).
  uint32_t effectiveWeight(std::chrono::milliseconds slow_start, int64_t now_ms) const;
};

struct BackendStats {
  explicit BackendStats(size_t workers) : cells(workers) {}
  PerWorker<BackendCells> cells;
  BackendQueue queue; // clients waiting for a server under its max_connections
};

struct Backend {
  const config::BackendConfig* config = nullptr; // points into Snapshot::config
  std::vector<Server> servers;
  std::shared_ptr<BackendStats> stats;
  /// When usesMaglev(): built from the servers in order.
  std::shared_ptr<const balance::MaglevTable> maglev;
  /// For sticky_cookie: signs and checks cookie values; shared by every worker (thread-safe).
  std::shared_ptr<const protocol::CookieSigner> cookie_signer;

  /// The placement used for clients without a valid sticky cookie or hash key (or all, in other
  /// modes).
  config::Balance placement() const {
    switch (config->balance) {
    case config::Balance::StickyCookie: return config->sticky_cookie.fallback;
    case config::Balance::Hash: return config->hash.fallback;
    default: return config->balance;
    }
  }
  /// Routes through `maglev`: ip_hash, or a hash key (whose ip_hash fallback shares the table).
  bool usesMaglev() const {
    return placement() == config::Balance::IpHash || config->balance == config::Balance::Hash;
  }
};

struct FrontendStats {
  explicit FrontendStats(size_t workers) : cells(workers) {}
  std::atomic<uint32_t> active{0}; // for max_connections, across workers
  PerWorker<FrontendCells> cells;
};

/// One tls_passthrough route: an exact server name, or a wildcard "*.example.com" that matches
/// any name ending in ".example.com" (one label or more before it). Both are lower case.
struct SniRoute {
  std::string pattern; // "a.example.com", or ".example.com" for "*.example.com"
  bool wildcard = false;
  size_t backend = 0;  // index into Snapshot::backends
};

struct Frontend {
  static constexpr size_t kNoBackend = SIZE_MAX;

  const config::FrontendConfig* config = nullptr;
  /// Index into Snapshot::backends. For tls_passthrough: the default_backend, or kNoBackend.
  size_t backend = 0;
  std::shared_ptr<FrontendStats> stats;
  /// `tls`: the certificates and settings handshakes use; null when the frontend is plain TCP.
  std::shared_ptr<const tls::ServerContext> tls;
  /// What `tls` was built from (settings, file names, sizes and times), so that a snapshot built
  /// again from unchanged files keeps the context and its ticket keys: tickets stay valid.
  std::string tls_fingerprint;
  /// `tls_passthrough.routes`, in configuration order.
  std::vector<SniRoute> sni_routes;
  /// max_connections_per_client, connection_rate_per_client: shared by the workers, carried over
  /// a reload; null when neither is set.
  std::shared_ptr<ClientTable> clients;

  /// The backend for a ClientHello's server name: an exact route, else the longest wildcard that
  /// matches, else `backend` (the default, possibly kNoBackend). Case-insensitive (RFC 4343).
  size_t routeSni(std::string_view server_name) const;
};

struct Snapshot {
  config::Config config;
  size_t workers = 1; // worker threads; fixed for the life of the process
  std::shared_ptr<PerWorker<WorkerCells>> worker_cells;
  std::vector<Frontend> frontends;
  std::vector<Backend> backends;

  /// Builds a snapshot from a validated config whose server addresses are numeric (DNS names are
  /// expanded to their records first: discovery::Discovery::expand). Counters of frontends and servers
  /// that also exist in `previous` (same name) are carried over.
  /// `spawned` gives, per backend with a `spawn` section, the address of each instance slot (the
  /// cluster supervisor's), at most `instances` of them; a backend missing from it gets one
  /// server per instance on port `first + slot`. A server whose address
  /// changed gets fresh counters (so the old process can be drained by its own active count) but
  /// keeps its health, drain/disable and weight.
  using Spawned = std::map<std::string, std::vector<SocketAddress>, std::less<>>;
  static Result<std::shared_ptr<const Snapshot>> build(config::Config config,
                                                       const Snapshot* previous = nullptr,
                                                       const Spawned& spawned = {});

  const Frontend* findFrontend(std::string_view name) const;
  const Backend* findBackend(std::string_view name) const;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

} // namespace corral::runtime

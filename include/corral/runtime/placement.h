#pragma once
// Placement, once: what a backend's balancer sees of its servers, the server list of its Maglev
// table, and the balancer itself. The workers (Session::pickServer, Worker's balancers), the
// control plane (ctl route, ctl weight, health changes, slow start) and the snapshot build all call
// these, so `ctl route` answers with what a worker would pick and every Maglev table is built from
// the same weights.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "corral/balance/balancer.h"
#include "corral/balance/maglev_table.h"
#include "corral/core/error.h"
#include "corral/runtime/snapshot.h"

namespace corral::runtime {

/// Fills `out` (cleared first) with one candidate per server of `backend`, in server order: its
/// effective weight at `now_ms` (a `ctl weight` override, ramped by slow start), its live
/// connections, and whether it may take this client: it accepts new clients (up, enabled, not
/// ejected) and is not among `tried`, the indexes of servers this session already tried.
/// `out` is the caller's scratch vector, so a worker allocates nothing per connection.
void fillCandidates(const Backend& backend, std::span<const uint32_t> tried, int64_t now_ms,
                    std::vector<balance::Candidate>& out);

/// Whether server `index` of `backend` may take a new client at `now_ms`: it accepts new clients
/// (up, enabled, not ejected) and is not among `tried`; a backup server only while no primary
/// may. Connection limits are not looked at: a full primary is a reason to wait (in the queue),
/// not to go to a backup or, for a client that hashes to it, elsewhere.
bool mayTakeNew(const Backend& backend, size_t index, std::span<const uint32_t> tried,
                int64_t now_ms);

/// The servers of `backend`'s Maglev table at `now_ms`, in server order: each by name with its
/// effective weight, the weight balancers use. Health and drain are left out on purpose: the
/// ip_hash balancer skips a server that cannot take clients, so its clients move and come back
/// without moving anyone else.
std::vector<balance::MaglevServer> maglevServers(const Backend& backend, int64_t now_ms);

/// The Maglev table of a backend that usesMaglev() at `now_ms` (maglevServers, and the table size
/// of its hash or ip_hash section).
Result<std::shared_ptr<const balance::MaglevTable>> buildMaglevTable(const Backend& backend,
                                                                     int64_t now_ms);

/// A new balancer for `backend.placement()`: round robin, least connections, or ip_hash over
/// `table` (the Maglev table the caller routes with: the snapshot's, or a newer one rebuilt for a
/// weight change). `table` must not be null for an ip_hash placement.
std::unique_ptr<balance::Balancer> makeBalancer(const Backend& backend,
                                                std::shared_ptr<const balance::MaglevTable> table);

/// The same over the snapshot's own table, `backend.maglev`.
std::unique_ptr<balance::Balancer> makeBalancer(const Backend& backend);

} // namespace corral::runtime

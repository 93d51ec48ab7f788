#pragma once
// balance: hash — consistent hashing of an application key (a header, cookie, query value, path
// prefix, SNI or client address) through the backend's Maglev table, with bounded loads
// (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads", SODA 2018).
//
// The table depends only on the servers' names and weights, so every corral node with the same
// configuration sends a key to the same server. Bounded loads trade a little of that for balance:
// a server already holding its share times `bounded_load` is passed over for the key's next
// preference, so a hot key spills onto other servers instead of drowning one.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "corral/balance/balancer.h"
#include "corral/balance/maglev_table.h"

namespace corral::balance {

/// The 64-bit key of an application key's bytes; a different seed from clientKey(), so the value
/// "10.0.0.1" and the address 10.0.0.1 are unrelated keys.
uint64_t applicationKey(std::string_view value);

/// Where a key went, and why (for corral_hash_total and `ctl route`).
struct KeyPick {
  std::optional<size_t> server; // none when no server can take a client
  size_t slot = 0;              // the key's own table slot
  size_t first_choice = 0;      // the server owning that slot
  uint32_t skipped_for_load = 0; // table slots passed over: their server was over the bound
};

/// The server for `key`: the owner of its table slot when it can take the client (eligible, and
/// with bounded_load c > 0 holding fewer than ceil(c x (active + 1) x weight / total weight)
/// connections, where active and total weight are over the eligible servers); otherwise the owner
/// of the next slot that can. The walk is deterministic, so a retry or a second node makes the same
/// choice from the same loads. `servers` are in the table's server order.
KeyPick pickByKey(const MaglevTable& table, std::span<const Candidate> servers, uint64_t key,
                  double bounded_load);

} // namespace corral::balance

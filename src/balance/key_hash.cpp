// balance: hash (see key_hash.h): a walk along the Maglev table from the key's slot.

#include "corral/balance/key_hash.h"

#include <cmath>

#include "balance/hash.h"

namespace corral::balance {
namespace {

// "key" in ASCII: distinct from the client-address and Maglev seeds.
constexpr uint64_t kApplicationSeed = 0x6b65790000000000ULL;

bool canTake(const Candidate& candidate) {
  return candidate.eligible && candidate.weight > 0;
}

// The most connections each server may hold once this one is placed: its weight's share of
// c x (active + 1), rounded up, as §2 of the paper bounds every bin by ceil(c x m / n).
class LoadBound {
public:
  LoadBound(std::span<const Candidate> servers, double factor) : factor_(factor) {
    for (const Candidate& server : servers) {
      if (canTake(server)) {
        active_ += server.active;
        weight_ += server.weight;
      }
    }
  }
  bool any() const { return weight_ > 0; }
  bool admits(const Candidate& server) const {
    if (factor_ <= 0) {
      return true;
    }
    const double share = static_cast<double>(active_ + 1) * server.weight / weight_;
    return server.active < std::ceil(factor_ * share);
  }

private:
  double factor_;
  uint64_t active_ = 0;
  uint64_t weight_ = 0;
};

} // namespace

uint64_t applicationKey(std::string_view value) {
  return hashBytes(value, kApplicationSeed);
}

KeyPick pickByKey(const MaglevTable& table, std::span<const Candidate> servers, uint64_t key,
                  double bounded_load) {
  const std::span<const uint32_t> entries = table.entries();
  KeyPick pick{.slot = table.slotFor(key)};
  const LoadBound bound(servers, bounded_load);
  if (entries.empty() || !bound.any()) {
    return pick;
  }
  pick.first_choice = entries[pick.slot];
  // Each slot belongs to a server chosen by weight like the whole table, so the servers passed
  // over share the key's overflow out in proportion; a pickable server owns some slot (weight > 0
  // is in the table), so one lap finds it.
  std::optional<size_t> first_pickable;
  size_t slot = pick.slot;
  for (size_t step = 0; step < entries.size(); ++step) {
    const uint32_t server = entries[slot];
    if (canTake(servers[server])) {
      if (bound.admits(servers[server])) {
        pick.server = server;
        return pick;
      }
      first_pickable = first_pickable.value_or(server);
      ++pick.skipped_for_load;
    }
    slot = (slot + 1 == entries.size()) ? 0 : slot + 1;
  }
  // Only when live counts moved under us: the bound always admits some server otherwise.
  pick.server = first_pickable;
  return pick;
}

} // namespace corral::balance

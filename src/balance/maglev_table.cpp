#include "corral/balance/maglev_table.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <unordered_set>

#include <fmt/format.h>

#include "balance/hash.h"

namespace corral::balance {
namespace {

// The two independent hashes of a name that §3.4 asks for, as one hash with two seeds ("offset"
// and "skip" in ASCII). Changing either moves every ip_hash client: the golden test pins them.
constexpr uint64_t kOffsetSeed = 0x6f66667365740000ULL;
constexpr uint64_t kSkipSeed = 0x736b697000000000ULL;
constexpr uint32_t kEmptySlot = std::numeric_limits<uint32_t>::max();

bool isPrime(uint32_t number) {
  if (number < 2) {
    return false;
  }
  for (uint64_t divisor = 2; divisor * divisor <= number; ++divisor) {
    if (number % divisor == 0) {
      return false;
    }
  }
  return true;
}

std::optional<std::string> findDuplicateName(std::span<const MaglevServer> servers) {
  std::unordered_set<std::string_view> seen;
  for (const MaglevServer& server : servers) {
    if (!seen.insert(server.name).second) {
      return server.name;
    }
  }
  return std::nullopt;
}

// One server's walk along its preference list, permutation[j] = (offset + j * skip) mod M
// (§3.4), and its weight credit.
struct Placement {
  std::string_view name;
  uint32_t index = 0; // position in the caller's list
  uint64_t weight = 0;
  uint64_t next_slot = 0; // permutation[next] of Algorithm 1
  uint64_t skip = 0;
  uint64_t credit_due = 0; // see takesTurn()
};

// Servers with weight, in name order: the build visits them in this order, and whoever comes first
// in a round wins a contested slot, so sorting by name makes the table independent of input order.
std::vector<Placement> placementsByName(std::span<const MaglevServer> servers, uint32_t size) {
  std::vector<Placement> placements;
  for (size_t i = 0; i < servers.size(); ++i) {
    if (servers[i].weight == 0) {
      continue;
    }
    placements.push_back({.name = servers[i].name,
                          .index = static_cast<uint32_t>(i),
                          .weight = servers[i].weight,
                          .next_slot = hashBytes(servers[i].name, kOffsetSeed) % size,
                          .skip = hashBytes(servers[i].name, kSkipSeed) % (size - 1) + 1});
  }
  std::sort(placements.begin(), placements.end(),
            [](const Placement& a, const Placement& b) { return a.name < b.name; });
  return placements;
}

// Weights as Envoy's maglev_lb applies them: a server of the largest weight W takes a slot every
// round; one of weight w takes its k-th slot in the first round r with r * w >= (k - 1) * W, so
// slot counts come out proportional to weight. Integers, so every node rounds the same way.
bool takesTurn(Placement& placement, uint64_t round, uint64_t max_weight) {
  if (round * placement.weight < placement.credit_due) {
    return false;
  }
  placement.credit_due += max_weight;
  return true;
}

// The next slot of the server's preference list that nobody owns yet. M is prime and
// 0 < skip < M, so the list visits every slot and the walk ends while any slot is free.
uint32_t claimNextFreeSlot(Placement& placement, std::vector<uint32_t>& entries) {
  const uint64_t size = entries.size();
  while (entries[placement.next_slot] != kEmptySlot) {
    placement.next_slot += placement.skip;
    placement.next_slot -= placement.next_slot >= size ? size : 0;
  }
  const auto slot = static_cast<uint32_t>(placement.next_slot);
  entries[slot] = placement.index;
  return slot;
}

} // namespace

Result<std::unique_ptr<const MaglevTable>>
MaglevTable::create(std::span<const MaglevServer> servers, uint32_t table_size) {
  if (!isPrime(table_size)) {
    return fail(ErrorCode::BadConfig,
                fmt::format("table_size must be a prime such as 65537, got {}", table_size));
  }
  if (auto duplicate = findDuplicateName(servers)) {
    return fail(ErrorCode::BadConfig, fmt::format("two servers are named \"{}\"", *duplicate));
  }
  if (servers.size() >= kEmptySlot) {
    return fail(ErrorCode::BadConfig, fmt::format("too many servers: {}", servers.size()));
  }
  return std::unique_ptr<const MaglevTable>(new MaglevTable(servers, table_size));
}

MaglevTable::MaglevTable(std::span<const MaglevServer> servers, uint32_t table_size)
    : servers_(servers.begin(), servers.end()), table_size_(table_size),
      slot_counts_(servers.size(), 0) {
  fill();
}

// Algorithm 1 of §3.4: in round-robin order, each server claims the next free slot of its own
// preference list, until the table is full.
void MaglevTable::fill() {
  std::vector<Placement> placements = placementsByName(servers_, table_size_);
  if (placements.empty()) {
    return;
  }
  const uint64_t max_weight =
      std::max_element(placements.begin(), placements.end(), [](const auto& a, const auto& b) {
        return a.weight < b.weight;
      })->weight;
  entries_.assign(table_size_, kEmptySlot);
  uint32_t filled = 0;
  // The heaviest server claims a slot every round, so there are at most table_size_ rounds.
  for (uint64_t round = 1; filled < table_size_; ++round) {
    for (Placement& placement : placements) {
      if (filled == table_size_) {
        break;
      }
      if (takesTurn(placement, round, max_weight)) {
        claimNextFreeSlot(placement, entries_);
        ++slot_counts_[placement.index];
        ++filled;
      }
    }
  }
}

} // namespace corral::balance

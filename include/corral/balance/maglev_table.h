#pragma once
// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
// Balancer", NSDI 2016, §3.4 Algorithm 1), with weights as Envoy's maglev_lb adds them. A client
// key maps to a server through a lookup table in which every server owns a share of the slots
// proportional to its weight; adding or removing one of N servers moves about 1/N of the keys.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "corral/core/error.h"

namespace corral::balance {

/// 65537 is prime and the table size of the Maglev paper's evaluation (§5.3); it keeps the
/// imbalance between servers under 1% for up to ~650 servers (the paper's rule: M > 100 x N).
constexpr uint32_t kDefaultTableSize = 65537;

/// One server as the table sees it.
struct MaglevServer {
  std::string name;    // stable identity ("s1", "app#0", "10.0.0.5:80"): it alone places the server
  uint32_t weight = 1; // 0 leaves the server out of the table
};

/// An immutable lookup table, shared by every worker of a snapshot.
///
/// Placement depends only on the servers' names, weights and the table size, never on their order
/// or on pointer values, so two corral nodes with the same servers send a client to the same one.
class MaglevTable {
public:
  /// Builds the table. Fails on a table size that is not prime (the permutations of §3.4 need it)
  /// and on two servers with the same name (they would share one permutation).
  /// @param servers in backend order: lookup() returns positions in this list.
  static Result<std::unique_ptr<const MaglevTable>> create(std::span<const MaglevServer> servers,
                                                           uint32_t table_size = kDefaultTableSize);

  /// The position (in the list given to create()) of the server owning `key`'s slot, or
  /// std::nullopt when every server has weight 0.
  std::optional<size_t> lookup(uint64_t key) const {
    if (entries_.empty()) {
      return std::nullopt;
    }
    return entries_[slotFor(key)];
  }

  /// The slot that `key` falls in; keys 0 .. tableSize()-1 visit every slot once.
  size_t slotFor(uint64_t key) const { return key % table_size_; }

  /// Server position per slot; empty when every server has weight 0.
  std::span<const uint32_t> entries() const { return entries_; }

  uint32_t tableSize() const { return table_size_; }
  size_t serverCount() const { return servers_.size(); }
  const MaglevServer& server(size_t index) const { return servers_[index]; }
  /// How many slots server `index` owns (0 for weight 0).
  uint32_t slotCount(size_t index) const { return slot_counts_[index]; }

private:
  MaglevTable(std::span<const MaglevServer> servers, uint32_t table_size);
  void fill();

  std::vector<MaglevServer> servers_;
  uint32_t table_size_;
  std::vector<uint32_t> entries_;
  std::vector<uint32_t> slot_counts_;
};

} // namespace corral::balance

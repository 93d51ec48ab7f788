// ip_hash: Maglev consistent hashing of the client key (see maglev_table.h), with a fallback for
// servers that cannot take the client right now.

#include <cassert>
#include <utility>

#include "corral/balance/balancer.h"

namespace corral::balance {
namespace {

bool isPickable(const Candidate& candidate) {
  return candidate.eligible && candidate.weight > 0;
}

class IpHash final : public Balancer {
public:
  explicit IpHash(std::shared_ptr<const MaglevTable> table) : table_(std::move(table)) {
    assert(table_ != nullptr);
  }

  std::optional<size_t> pick(std::span<const Candidate> servers, uint64_t client_key) override {
    return peek(servers, client_key); // the table is all the state there is
  }

  std::optional<size_t> peek(std::span<const Candidate> servers,
                             uint64_t client_key) const override {
    assert(servers.size() == table_->serverCount());
    const std::span<const uint32_t> entries = table_->entries();
    if (entries.empty()) {
      return std::nullopt;
    }
    size_t slot = table_->slotFor(client_key);
    if (isPickable(servers[entries[slot]])) {
      return entries[slot];
    }
    if (!anyPickableInTable(servers)) {
      return std::nullopt; // the probe below would walk the whole table for nothing
    }
    // The following slots belong to servers spread by weight like the whole table, so the
    // clients of an unavailable server are shared out among the others; the walk is
    // deterministic, so a retried client lands on the same second choice each time.
    for (size_t step = 1; step < entries.size(); ++step) {
      slot = (slot + 1 == entries.size()) ? 0 : slot + 1;
      if (isPickable(servers[entries[slot]])) {
        return entries[slot];
      }
    }
    assert(false && "anyPickableInTable() promised a pickable slot");
    return std::nullopt;
  }

private:
  // Some server that owns a slot can take the client, so the probe is bounded by one lap.
  bool anyPickableInTable(std::span<const Candidate> servers) const {
    for (size_t i = 0; i < servers.size(); ++i) {
      if (isPickable(servers[i]) && table_->slotCount(i) > 0) {
        return true;
      }
    }
    return false;
  }

  std::shared_ptr<const MaglevTable> table_;
};

} // namespace

std::unique_ptr<Balancer> makeIpHash(std::shared_ptr<const MaglevTable> table) {
  return std::make_unique<IpHash>(std::move(table));
}

} // namespace corral::balance

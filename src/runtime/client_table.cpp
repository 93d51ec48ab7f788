#include "corral/runtime/client_table.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

namespace corral::runtime {
namespace {

constexpr uint32_t kNone = UINT32_MAX;
constexpr uint64_t kCountMask = 0xffff'ffffULL;

// MurmurHash3's 64-bit finalizer over the two halves: every input bit reaches the low bits, which
// pick the shard and the bucket (an IPv4 address sits in the top bytes of the second half).
uint64_t hashIp(const Ip16& ip) {
  uint64_t a;
  uint64_t b;
  std::memcpy(&a, ip.data(), 8);
  std::memcpy(&b, ip.data() + 8, 8);
  uint64_t h = a ^ (b * 0x9e3779b97f4a7c15ULL) ^ (b >> 29);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

} // namespace

struct ClientTable::Entry {
  Ip16 ip{};
  std::atomic<uint64_t> state{0}; // generation << 32 | open connections
  int64_t refilled_ms = 0;
  uint32_t milli_tokens = 0;      // thousandths of a token
  uint32_t hash_next = kNone;     // chain of one bucket
  uint32_t lru_prev = kNone;      // toward the most recently seen
  uint32_t lru_next = kNone;
};

struct ClientTable::Shard {
  mutable std::mutex mutex;
  std::vector<uint32_t> buckets; // first entry of each chain (global slots)
  uint32_t first = 0;            // this shard's slots are [first, first + per_shard)
  uint32_t used = 0;
  uint32_t lru_head = kNone;     // most recently seen
  uint32_t lru_tail = kNone;
};

ClientTable::ClientTable(size_t capacity)
    : capacity_(std::max(capacity, kShards) / kShards * kShards), per_shard_(capacity_ / kShards),
      entries_(new Entry[capacity_]()), shards_(new Shard[kShards]) {
  const size_t buckets = std::bit_ceil(per_shard_);
  for (size_t s = 0; s < kShards; ++s) {
    shards_[s].buckets.assign(buckets, kNone);
    shards_[s].first = static_cast<uint32_t>(s * per_shard_);
  }
}

ClientTable::~ClientTable() = default;

ClientTable::Shard& ClientTable::shardOf(uint64_t hash) const { return shards_[hash % kShards]; }

size_t ClientTable::memoryBytes() const {
  return sizeof(*this) + capacity_ * sizeof(Entry) + kShards * sizeof(Shard) +
         kShards * shards_[0].buckets.size() * sizeof(uint32_t);
}

static_assert(sizeof(ClientTable::Entry) == 48, "the documented memory per entry");

uint32_t ClientTable::find(const Shard& shard, const Ip16& ip, uint64_t hash) const {
  uint32_t slot = shard.buckets[(hash / kShards) & (shard.buckets.size() - 1)];
  while (slot != kNone && entries_[slot].ip != ip) {
    slot = entries_[slot].hash_next;
  }
  return slot;
}

void ClientTable::unlinkChain(Shard& shard, uint32_t slot) {
  uint32_t* link = &shard.buckets[(hashIp(entries_[slot].ip) / kShards) &
                                  (shard.buckets.size() - 1)];
  while (*link != slot) {
    link = &entries_[*link].hash_next;
  }
  *link = entries_[slot].hash_next;
}

void ClientTable::unlinkLru(Shard& shard, uint32_t slot) {
  Entry& entry = entries_[slot];
  (entry.lru_prev != kNone ? entries_[entry.lru_prev].lru_next : shard.lru_head) = entry.lru_next;
  (entry.lru_next != kNone ? entries_[entry.lru_next].lru_prev : shard.lru_tail) = entry.lru_prev;
  entry.lru_prev = entry.lru_next = kNone;
}

void ClientTable::pushLru(Shard& shard, uint32_t slot) {
  Entry& entry = entries_[slot];
  entry.lru_next = shard.lru_head;
  (shard.lru_head != kNone ? entries_[shard.lru_head].lru_prev : shard.lru_tail) = slot;
  shard.lru_head = slot;
}

// A fresh entry for `ip`: an unused slot, else the least recently seen one, whose generation
// moves on so that its old connections' releases miss it. The bucket starts full.
uint32_t ClientTable::claim(Shard& shard, const Ip16& ip, uint64_t hash) {
  uint32_t slot;
  if (shard.used < per_shard_) {
    slot = shard.first + shard.used++;
  } else {
    slot = shard.lru_tail;
    unlinkChain(shard, slot);
    unlinkLru(shard, slot);
  }
  Entry& entry = entries_[slot];
  const uint64_t generation = (entry.state.load(std::memory_order_relaxed) >> 32) + 1;
  entry.state.store(generation << 32, std::memory_order_relaxed);
  entry.ip = ip;
  entry.refilled_ms = INT64_MIN; // takeToken fills the bucket
  uint32_t& bucket = shard.buckets[(hash / kShards) & (shard.buckets.size() - 1)];
  entry.hash_next = bucket;
  bucket = slot;
  pushLru(shard, slot);
  return slot;
}

// The bucket holds `rate` tokens and gains `rate` per second, counted in thousandths of a token
// per millisecond: exact in integers, so a burst admits exactly `rate` connections.
bool ClientTable::takeToken(Entry& entry, uint32_t rate, int64_t now_ms) {
  const uint64_t full = uint64_t{rate} * 1000;
  const uint64_t gained = entry.refilled_ms == INT64_MIN
                              ? full
                              : uint64_t(std::max<int64_t>(now_ms - entry.refilled_ms, 0)) * rate;
  entry.milli_tokens = static_cast<uint32_t>(std::min(full, entry.milli_tokens + gained));
  entry.refilled_ms = now_ms;
  if (entry.milli_tokens < 1000) {
    return false;
  }
  entry.milli_tokens -= 1000;
  return true;
}

ClientTable::Verdict ClientTable::admit(const Ip16& ip, Limits limits, int64_t now_ms,
                                        Ticket& ticket) {
  const uint64_t hash = hashIp(ip);
  Shard& shard = shardOf(hash);
  const std::lock_guard lock(shard.mutex);
  uint32_t slot = find(shard, ip, hash);
  if (slot == kNone) {
    slot = claim(shard, ip, hash);
  } else if (shard.lru_head != slot) {
    unlinkLru(shard, slot);
    pushLru(shard, slot);
  }
  Entry& entry = entries_[slot];
  if (limits.rate > 0 && !takeToken(entry, std::min(limits.rate, kMaxRate), now_ms)) {
    return Verdict::TooFast;
  }
  // Releases change the count without the lock, so the check and the increment are one CAS.
  uint64_t state = entry.state.load(std::memory_order_relaxed);
  do {
    if (limits.max_connections > 0 && (state & kCountMask) >= limits.max_connections) {
      return Verdict::TooMany;
    }
  } while (!entry.state.compare_exchange_weak(state, state + 1, std::memory_order_relaxed));
  ticket = {.slot = slot, .generation = static_cast<uint32_t>(state >> 32)};
  return Verdict::Admitted;
}

void ClientTable::release(const Ticket& ticket) {
  if (ticket.slot >= capacity_) {
    return;
  }
  std::atomic<uint64_t>& state = entries_[ticket.slot].state;
  uint64_t value = state.load(std::memory_order_relaxed);
  while ((value >> 32) == ticket.generation && (value & kCountMask) > 0) {
    if (state.compare_exchange_weak(value, value - 1, std::memory_order_relaxed)) {
      return;
    }
  }
}

size_t ClientTable::size() const {
  size_t used = 0;
  for (size_t s = 0; s < kShards; ++s) {
    const std::lock_guard lock(shards_[s].mutex);
    used += shards_[s].used;
  }
  return used;
}

uint32_t ClientTable::connections(const Ip16& ip) const {
  const uint64_t hash = hashIp(ip);
  const Shard& shard = shardOf(hash);
  const std::lock_guard lock(shard.mutex);
  const uint32_t slot = find(shard, ip, hash);
  return slot == kNone ? 0 : static_cast<uint32_t>(entries_[slot].state.load() & kCountMask);
}

} // namespace corral::runtime

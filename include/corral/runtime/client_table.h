#pragma once
// The per-client state of a frontend's source limits (max_connections_per_client,
// connection_rate_per_client): open connections and a token bucket per client address.
//
// One table per frontend, shared by every worker: with SO_REUSEPORT the kernel spreads one
// client's connections over the workers, so per-worker tables would let a client open
// `workers x limit` connections. The table is split into 64 shards by a hash of the address, each
// with its own mutex, held only in admit() (at accept, for a hash lookup and a few stores: admit
// and release take 35-50 ns of CPU, bench/micro/client_table_bench). release() takes no lock: the open count sits in
// an atomic beside a generation number, so a connection that closes after its entry was evicted
// and reused changes nothing.
//
// Memory is fixed when the table is built: `capacity` entries of 48 bytes plus a 4-byte hash
// bucket each (65536 entries: 3.25 MiB), allocated and touched at once. A full shard evicts its
// least recently seen entry, so a flood of addresses cannot grow the table; an evicted client
// starts again with a full bucket and no open connections counted.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "corral/core/cidr.h"

namespace corral::runtime {

class ClientTable {
public:
  static constexpr size_t kDefaultCapacity = 65536;
  static constexpr size_t kShards = 64;
  /// connection_rate_per_client is at most this (config/), so tokens fit 32 bits in thousandths.
  static constexpr uint32_t kMaxRate = 1'000'000;

  struct Limits {
    uint32_t max_connections = 0; // 0: no limit
    uint32_t rate = 0;            // new connections per second, bucket of that size; 0: none
  };
  enum class Verdict { Admitted, TooMany, TooFast };
  /// What release() needs: which entry, and which client held it then.
  struct Ticket {
    uint32_t slot = UINT32_MAX;
    uint32_t generation = 0;
  };

  explicit ClientTable(size_t capacity = kDefaultCapacity);
  ~ClientTable();
  ClientTable(const ClientTable&) = delete;
  ClientTable& operator=(const ClientTable&) = delete;

  /// A new connection from `ip` at `now_ms` (steady clock): takes a token (when rate is set), then
  /// counts the connection unless that makes more than max_connections. On Admitted, `ticket` is
  /// to be released when the connection closes.
  Verdict admit(const Ip16& ip, Limits limits, int64_t now_ms, Ticket& ticket);
  /// The connection of `ticket` closed. Lock-free; a no-op when the entry was evicted since.
  void release(const Ticket& ticket);

  /// Entries in use (takes every shard's lock: for tests and status, not the connection path).
  size_t size() const;
  size_t capacity() const { return capacity_; }
  /// Bytes the table holds, fixed at construction.
  size_t memoryBytes() const;
  /// Open connections counted for `ip` (0 when it has no entry).
  uint32_t connections(const Ip16& ip) const;

  struct Entry; // public for the static_assert on its size; defined in client_table.cpp

private:
  struct Shard;
  Shard& shardOf(uint64_t hash) const;
  // Under the shard's lock.
  uint32_t find(const Shard& shard, const Ip16& ip, uint64_t hash) const;
  uint32_t claim(Shard& shard, const Ip16& ip, uint64_t hash);
  void unlinkChain(Shard& shard, uint32_t slot);
  void unlinkLru(Shard& shard, uint32_t slot);
  void pushLru(Shard& shard, uint32_t slot);
  static bool takeToken(Entry& entry, uint32_t rate, int64_t now_ms);

  size_t capacity_;
  size_t per_shard_;
  std::unique_ptr<Entry[]> entries_;
  std::unique_ptr<Shard[]> shards_;
};

} // namespace corral::runtime

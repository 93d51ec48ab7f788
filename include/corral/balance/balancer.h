#pragma once
// Balancers are pure: given what the worker knows of each server right now and a client key, they
// return the index of a server. Each worker owns its own balancer objects, built from its current
// snapshot, so pick() takes no lock; shared parts such as a Maglev table are immutable.
// peek() lets the control thread ask a worker's balancer what it would pick next.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "corral/balance/maglev_table.h"
#include "corral/config/config.h"

namespace corral::balance {

/// What a balancer sees of one server at pick time, in the backend's server order.
struct Candidate {
  uint32_t weight = 1;  // effective weight (slow start applied); 0 means never pick
  uint32_t active = 0;  // live connections across all workers (least_connections)
  bool eligible = true; // up, not draining or disabled, not already tried by this session
};

/// Chooses a server for a new connection.
class Balancer {
public:
  virtual ~Balancer() = default;
  /// @param servers one entry per server of the backend, in configuration order; its size never
  ///        changes for the life of the balancer.
  /// @param client_key hash of the client address (see clientKey()); ignored by round robin and
  ///        least connections.
  /// @return the index of the chosen server, or std::nullopt when no candidate is eligible.
  virtual std::optional<size_t> pick(std::span<const Candidate> servers, uint64_t client_key) = 0;
  /// What pick() would return now, without moving the balancer on (`ctl route`). It may run on
  /// another thread than pick(): the state pick() keeps is in relaxed atomics, so a peek during a
  /// pick sees either side of it, and nothing on the pick path waits.
  virtual std::optional<size_t> peek(std::span<const Candidate> servers,
                                     uint64_t client_key) const = 0;
};

/// Smooth weighted round robin, as NGINX does it: weights 5,1,1 give a a b a c a a.
std::unique_ptr<Balancer> makeRoundRobin(size_t server_count);

/// Fewest active connections relative to weight; ties go round robin.
std::unique_ptr<Balancer> makeLeastConnections(size_t server_count);

/// Consistent hashing of the client key through a shared Maglev table built from the backend's
/// servers in the same order as the candidates. When the table's server is not eligible (down, or
/// already tried by this session) the following slots of the table are probed, so the clients of
/// one unavailable server spread over the others and every other client stays where it was.
std::unique_ptr<Balancer> makeIpHash(std::shared_ptr<const MaglevTable> table);

} // namespace corral::balance

// Smooth weighted round robin, as NGINX's ngx_http_upstream_get_peer() does it
// (src/http/ngx_http_upstream_round_robin.c): every eligible server adds its weight to its current
// weight, the largest current weight wins and gives back the total. Over any run of `total weight`
// picks each server is chosen exactly `weight` times, and heavy servers are interleaved with light
// ones (5,1,1 gives a a b a c a a) instead of being picked in a burst.

#include <atomic>
#include <cassert>
#include <cstdint>
#include <utility>
#include <vector>

#include "corral/balance/balancer.h"

namespace corral::balance {
namespace {

class SmoothWeightedRoundRobin final : public Balancer {
public:
  explicit SmoothWeightedRoundRobin(size_t server_count) : current_weights_(server_count) {}

  std::optional<size_t> pick(std::span<const Candidate> servers, uint64_t /*client_key*/) override {
    const auto [best, total] = choose(servers);
    for (size_t i = 0; i < servers.size(); ++i) {
      if (servers[i].eligible && servers[i].weight != 0) {
        add(i, servers[i].weight);
      }
    }
    if (best) {
      add(*best, -total);
    }
    return best;
  }

  std::optional<size_t> peek(std::span<const Candidate> servers,
                             uint64_t /*client_key*/) const override {
    return choose(servers).first;
  }

private:
  // The winner of this round and the total weight it gives back; nothing is changed.
  std::pair<std::optional<size_t>, int64_t> choose(std::span<const Candidate> servers) const {
    assert(servers.size() == current_weights_.size());
    std::optional<size_t> best;
    int64_t best_weight = 0;
    int64_t total = 0;
    for (size_t i = 0; i < servers.size(); ++i) {
      // An ineligible server keeps its current weight, as NGINX skips a tried or down peer.
      if (!servers[i].eligible || servers[i].weight == 0) {
        continue;
      }
      const int64_t weight = current_weights_[i].load(std::memory_order_relaxed) + servers[i].weight;
      total += servers[i].weight;
      // Strictly greater: on a tie the first server in configuration order wins, as in NGINX.
      if (!best || weight > best_weight) {
        best = i;
        best_weight = weight;
      }
    }
    return {best, total};
  }

  // Only the owning worker writes, so a relaxed load and store is the whole update.
  void add(size_t i, int64_t delta) {
    current_weights_[i].store(current_weights_[i].load(std::memory_order_relaxed) + delta,
                              std::memory_order_relaxed);
  }

  // Signed: the winner goes below zero. Bounded by the sum of weights, so 64 bits cannot overflow.
  std::vector<std::atomic<int64_t>> current_weights_;
};

} // namespace

std::unique_ptr<Balancer> makeRoundRobin(size_t server_count) {
  return std::make_unique<SmoothWeightedRoundRobin>(server_count);
}

} // namespace corral::balance

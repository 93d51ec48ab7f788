// Smooth weighted round robin, as NGINX's ngx_http_upstream_get_peer() does it
// (src/http/ngx_http_upstream_round_robin.c): every eligible server adds its weight to its current
// weight, the largest current weight wins and gives back the total. Over any run of `total weight`
// picks each server is chosen exactly `weight` times, and heavy servers are interleaved with light
// ones (5,1,1 gives a a b a c a a) instead of being picked in a burst.

#include <cassert>
#include <cstdint>
#include <vector>

#include "corral/balance/balancer.h"

namespace corral::balance {
namespace {

class SmoothWeightedRoundRobin final : public Balancer {
public:
  explicit SmoothWeightedRoundRobin(size_t server_count) : current_weights_(server_count, 0) {}

  std::optional<size_t> pick(std::span<const Candidate> servers, uint64_t /*client_key*/) override {
    assert(servers.size() == current_weights_.size());
    std::optional<size_t> best;
    int64_t total = 0;
    for (size_t i = 0; i < servers.size(); ++i) {
      // An ineligible server keeps its current weight, as NGINX skips a tried or down peer.
      if (!servers[i].eligible || servers[i].weight == 0) {
        continue;
      }
      current_weights_[i] += servers[i].weight;
      total += servers[i].weight;
      // Strictly greater: on a tie the first server in configuration order wins, as in NGINX.
      if (!best || current_weights_[i] > current_weights_[*best]) {
        best = i;
      }
    }
    if (best) {
      current_weights_[*best] -= total;
    }
    return best;
  }

private:
  // Signed: the winner goes below zero. Bounded by the sum of weights, so 64 bits cannot overflow.
  std::vector<int64_t> current_weights_;
};

} // namespace

std::unique_ptr<Balancer> makeRoundRobin(size_t server_count) {
  return std::make_unique<SmoothWeightedRoundRobin>(server_count);
}

} // namespace corral::balance

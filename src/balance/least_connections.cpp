// Weighted least connections: the server with the fewest active connections per unit of weight.
// Loads are compared by cross-multiplication (a1/w1 < a2/w2 <=> a1*w2 < a2*w1) so that no
// rounding decides between two servers; both factors are 32-bit, so the products fit in 64.

#include <atomic>
#include <cassert>
#include <cstdint>

#include "corral/balance/balancer.h"

namespace corral::balance {
namespace {

bool lessLoaded(const Candidate& a, const Candidate& b) {
  return uint64_t{a.active} * b.weight < uint64_t{b.active} * a.weight;
}

class WeightedLeastConnections final : public Balancer {
public:
  explicit WeightedLeastConnections(size_t server_count) : server_count_(server_count) {}

  std::optional<size_t> pick(std::span<const Candidate> servers, uint64_t client_key) override {
    const std::optional<size_t> best = peek(servers, client_key);
    if (best) {
      next_start_.store((*best + 1) % server_count_, std::memory_order_relaxed);
    }
    return best;
  }

  std::optional<size_t> peek(std::span<const Candidate> servers,
                             uint64_t /*client_key*/) const override {
    assert(servers.size() == server_count_);
    std::optional<size_t> best;
    // The scan starts after the last pick and keeps the first of equally loaded servers, so
    // servers that stay tied (all idle, say) take turns instead of the first taking everything.
    size_t i = next_start_.load(std::memory_order_relaxed);
    for (size_t step = 0; step < server_count_; ++step, i = (i + 1 == server_count_) ? 0 : i + 1) {
      if (!servers[i].eligible || servers[i].weight == 0) {
        continue;
      }
      if (!best || lessLoaded(servers[i], servers[*best])) {
        best = i;
      }
    }
    return best;
  }

private:
  size_t server_count_;
  std::atomic<size_t> next_start_ = 0; // written by the owning worker only
};

} // namespace

std::unique_ptr<Balancer> makeLeastConnections(size_t server_count) {
  return std::make_unique<WeightedLeastConnections>(server_count);
}

} // namespace corral::balance

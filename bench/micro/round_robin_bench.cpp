// Round robin and least connections run once per new connection on a worker: a pick is a scan of
// the backend's servers, so its cost grows with their number.

#include <vector>

#include <benchmark/benchmark.h>

#include "corral/balance/balancer.h"

namespace corral::balance {
namespace {

std::vector<Candidate> candidates(int64_t count) {
  std::vector<Candidate> list(count);
  for (int64_t i = 0; i < count; ++i) {
    list[i].weight = 1 + i % 3; // mixed weights, so the smooth weighting has work to do
  }
  return list;
}

void BM_RoundRobinPick(benchmark::State& state) {
  const std::vector<Candidate> servers = candidates(state.range(0));
  auto balancer = makeRoundRobin(servers.size());
  for (auto _ : state) {
    benchmark::DoNotOptimize(balancer->pick(servers, 0));
  }
}
BENCHMARK(BM_RoundRobinPick)->Arg(4)->Arg(64);

void BM_LeastConnectionsPick(benchmark::State& state) {
  std::vector<Candidate> servers = candidates(state.range(0));
  auto balancer = makeLeastConnections(servers.size());
  for (auto _ : state) {
    const size_t pick = balancer->pick(servers, 0).value();
    ++servers[pick].active; // connections that stay open keep the loads changing
    benchmark::DoNotOptimize(pick);
  }
}
BENCHMARK(BM_LeastConnectionsPick)->Arg(4)->Arg(64);

} // namespace
} // namespace corral::balance

// Maglev lookup must stay under 50 ns (it runs once per new connection on a worker) and a rebuild
// for 1,000 servers at the default table size under 50 ms (it runs on the control thread at every
// reload, DNS change or weight change).

#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "corral/balance/balancer.h"
#include "corral/balance/client_key.h"
#include "corral/balance/maglev_table.h"

namespace corral::balance {
namespace {

std::vector<MaglevServer> servers(int64_t count) {
  std::vector<MaglevServer> list;
  for (int64_t i = 0; i < count; ++i) {
    list.push_back(
        {.name = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":8080",
         .weight = 1});
  }
  return list;
}

// Random keys, precomputed, so the loop measures the lookup rather than the generator.
std::vector<uint64_t> randomKeys() {
  std::mt19937_64 random(1);
  std::vector<uint64_t> keys(4096);
  for (uint64_t& key : keys) {
    key = random();
  }
  return keys;
}

void BM_MaglevLookup(benchmark::State& state) {
  const auto table = MaglevTable::create(servers(state.range(0))).value();
  const std::vector<uint64_t> keys = randomKeys();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table->lookup(keys[i++ & (keys.size() - 1)]));
  }
}
BENCHMARK(BM_MaglevLookup)->Arg(10)->Arg(1000);

// What a worker does per connection in ip_hash mode: hash the address, look it up, check the pick.
void BM_IpHashPickFromAddress(benchmark::State& state) {
  std::shared_ptr<const MaglevTable> table = MaglevTable::create(servers(state.range(0))).value();
  auto balancer = makeIpHash(table);
  const std::vector<Candidate> candidates(state.range(0));
  const SocketAddress client = SocketAddress::parse("192.0.2.17:40000").value();
  for (auto _ : state) {
    benchmark::DoNotOptimize(balancer->pick(candidates, clientKey(client, 32, 64)));
  }
}
BENCHMARK(BM_IpHashPickFromAddress)->Arg(10)->Arg(1000);

void BM_MaglevBuild(benchmark::State& state) {
  const std::vector<MaglevServer> list = servers(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(MaglevTable::create(list, kDefaultTableSize));
  }
}
BENCHMARK(BM_MaglevBuild)->Arg(10)->Arg(1000)->Unit(benchmark::kMillisecond);

} // namespace
} // namespace corral::balance

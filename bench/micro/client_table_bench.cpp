// ClientTable::admit holds one shard's mutex on the accept path (runtime/client_table.h): it must
// stay far below the cost of accepting a connection (several µs). admit+release per connection,
// one thread (uncontended) and four threads on the same table.

#include <cstring>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "corral/runtime/client_table.h"

namespace corral::runtime {
namespace {

std::vector<Ip16> addresses(size_t count) {
  std::mt19937_64 random(7);
  std::vector<Ip16> list(count);
  for (Ip16& ip : list) {
    const uint64_t a = random();
    const uint64_t b = random();
    std::memcpy(ip.data(), &a, 8);
    std::memcpy(ip.data() + 8, &b, 8);
  }
  return list;
}

void BM_AdmitRelease(benchmark::State& state) {
  static ClientTable table;
  const auto clients = addresses(static_cast<size_t>(state.range(0)));
  const ClientTable::Limits limits{.max_connections = 100, .rate = 1000};
  size_t i = static_cast<size_t>(state.thread_index()) * 7919;
  int64_t now = 0;
  for (auto _ : state) {
    ClientTable::Ticket ticket;
    const Ip16& ip = clients[i++ % clients.size()];
    benchmark::DoNotOptimize(table.admit(ip, limits, ++now, ticket));
    table.release(ticket);
  }
}
// 1,000 clients fit the table; 1,000,000 evict on nearly every admit.
BENCHMARK(BM_AdmitRelease)->Arg(1000)->Arg(1'000'000);
BENCHMARK(BM_AdmitRelease)->Arg(1000)->Threads(4);

} // namespace
} // namespace corral::runtime

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "corral/runtime/client_table.h"

namespace corral::runtime {
namespace {

Ip16 ipv4(uint32_t n) {
  return toIp16(SocketAddress::parse(fmt::format("{}.{}.{}.{}:1", 10 + (n >> 24), (n >> 16) & 255,
                                                 (n >> 8) & 255, n & 255))
                    .value());
}

using Verdict = ClientTable::Verdict;

TEST(ClientTableTest, CountsOpenConnectionsPerClient) {
  ClientTable table(1024);
  ClientTable::Ticket tickets[3];
  const ClientTable::Limits limits{.max_connections = 2};
  EXPECT_EQ(table.admit(ipv4(1), limits, 0, tickets[0]), Verdict::Admitted);
  EXPECT_EQ(table.admit(ipv4(1), limits, 0, tickets[1]), Verdict::Admitted);
  EXPECT_EQ(table.admit(ipv4(1), limits, 0, tickets[2]), Verdict::TooMany);
  EXPECT_EQ(table.admit(ipv4(2), limits, 0, tickets[2]), Verdict::Admitted); // another client
  EXPECT_EQ(table.connections(ipv4(1)), 2u);
  table.release(tickets[0]);
  EXPECT_EQ(table.connections(ipv4(1)), 1u);
  EXPECT_EQ(table.admit(ipv4(1), limits, 0, tickets[0]), Verdict::Admitted);
}

// The bucket holds `rate` tokens and gains `rate` a second: a burst admits exactly rate, and each
// 1/rate of a second after it admits one more.
TEST(ClientTableTest, ABurstAdmitsExactlyTheBucket) {
  ClientTable table(1024);
  const ClientTable::Limits limits{.rate = 5};
  ClientTable::Ticket ticket;
  int admitted = 0;
  for (int i = 0; i < 20; ++i) {
    admitted += table.admit(ipv4(7), limits, 1000, ticket) == Verdict::Admitted;
  }
  EXPECT_EQ(admitted, 5);
  EXPECT_EQ(table.admit(ipv4(7), limits, 1199, ticket), Verdict::TooFast); // 0.995 tokens
  EXPECT_EQ(table.admit(ipv4(7), limits, 1200, ticket), Verdict::Admitted);
  EXPECT_EQ(table.admit(ipv4(7), limits, 1200, ticket), Verdict::TooFast);
  admitted = 0;
  for (int i = 0; i < 20; ++i) { // ten seconds later the bucket is full again, not fuller
    admitted += table.admit(ipv4(7), limits, 11'200, ticket) == Verdict::Admitted;
  }
  EXPECT_EQ(admitted, 5);
}

// A flood of distinct addresses stays within the fixed capacity; the least recently seen go.
TEST(ClientTableTest, AFloodEvictsTheLeastRecentlySeen) {
  ClientTable table(1024);
  const size_t memory = table.memoryBytes();
  EXPECT_LT(memory, 1024 * 56 + 8192); // 48 bytes an entry, 4 a bucket, and the shards
  ClientTable::Ticket held;
  const ClientTable::Limits limits{.max_connections = 1};
  ASSERT_EQ(table.admit(ipv4(0), limits, 0, held), Verdict::Admitted);
  for (uint32_t n = 1; n <= 100'000; ++n) {
    ClientTable::Ticket ticket;
    table.admit(ipv4(n), limits, 0, ticket);
  }
  EXPECT_EQ(table.size(), table.capacity());
  EXPECT_EQ(table.memoryBytes(), memory);
  EXPECT_EQ(table.connections(ipv4(0)), 0u);       // evicted long ago
  EXPECT_EQ(table.connections(ipv4(100'000)), 1u); // the most recent are kept
  ClientTable::Ticket again;
  EXPECT_EQ(table.admit(ipv4(0), limits, 0, again), Verdict::Admitted);
  table.release(held); // the evicted entry's old connection: must not touch the new one
  EXPECT_EQ(table.connections(ipv4(0)), 1u);
}

TEST(ClientTableTest, SeenEntriesOutliveAFloodOfOthersInTheirShard) {
  ClientTable table(64 * 4); // four entries a shard
  ClientTable::Ticket ticket;
  const ClientTable::Limits limits{.max_connections = 10};
  table.admit(ipv4(0), limits, 0, ticket);
  for (uint32_t n = 1; n <= 2000; ++n) {
    table.admit(ipv4(0), limits, 0, ticket); // seen between every newcomer
    table.admit(ipv4(n), limits, 0, ticket);
    table.release(ticket);
  }
  EXPECT_EQ(table.connections(ipv4(0)), 10u);
}

TEST(ClientTableTest, WorkersShareTheLimit) {
  ClientTable table;
  const ClientTable::Limits limits{.max_connections = 100};
  std::atomic<int> admitted{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      ClientTable::Ticket ticket;
      for (int i = 0; i < 1000; ++i) {
        admitted += table.admit(ipv4(42), limits, 0, ticket) == Verdict::Admitted;
      }
    });
  }
  for (auto& worker : workers) {
    worker.join();
  }
  EXPECT_EQ(admitted.load(), 100);
  EXPECT_EQ(table.connections(ipv4(42)), 100u);
}

} // namespace
} // namespace corral::runtime

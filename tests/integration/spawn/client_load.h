#pragma once
// Continuous load through corral: a few client threads, each sending one request per new
// connection (httpExchange) back to back until stop(), a request count or a deadline, whichever
// comes first. Every request is recorded with its end time, so a test can ask what happened
// after an event (a kill, a restart) and print failures with their reasons.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/spawn/http_exchange.h"
#include "tests/support/wait.h"

namespace corral::test {

struct LoadOptions {
  int clients = 4;
  int max_requests = 20000; // over all clients
  std::chrono::milliseconds max_duration = 30s;
};

struct LoadRecord {
  Clock::time_point started;
  Clock::time_point ended;
  HttpExchange exchange;
};

class ClientLoad {
public:
  ClientLoad(std::string address, LoadOptions options);
  /// Stops and joins the clients.
  ~ClientLoad();
  ClientLoad(const ClientLoad&) = delete;
  ClientLoad& operator=(const ClientLoad&) = delete;

  /// Lets the requests in flight finish, then joins the clients. Idempotent.
  void stop();
  /// True once every client has ended (stop(), the request count or the deadline).
  bool finished() const { return running_.load() == 0; }

  /// A copy of the records so far, in the order the requests ended.
  std::vector<LoadRecord> records() const;
  /// Whether any request that ended after `since` satisfies `match`.
  bool any(Clock::time_point since, const std::function<bool(const LoadRecord&)>& match) const;

private:
  void run();

  std::string address_;
  LoadOptions options_;
  Clock::time_point deadline_;
  std::atomic<bool> stop_{false};
  std::atomic<int> started_requests_{0};
  std::atomic<int> running_{0};
  mutable std::mutex mutex_;
  std::vector<LoadRecord> records_;
  std::vector<std::thread> threads_;
};

/// "failed 2 of 1234 requests" plus the first few failures with their reasons.
std::string describeFailures(const std::vector<LoadRecord>& records, size_t limit = 5);

} // namespace corral::test

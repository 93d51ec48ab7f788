#include "tests/integration/spawn/client_load.h"

#include <algorithm>

#include <fmt/format.h>

namespace corral::test {

ClientLoad::ClientLoad(std::string address, LoadOptions options)
    : address_(std::move(address)), options_(options),
      deadline_(Clock::now() + options.max_duration) {
  running_ = options_.clients;
  for (int i = 0; i < options_.clients; ++i) {
    threads_.emplace_back([this] { run(); });
  }
}

ClientLoad::~ClientLoad() {
  stop();
}

void ClientLoad::stop() {
  stop_ = true;
  for (auto& thread : threads_) {
    if (thread.joinable()) {
      thread.join();
    }
  }
}

// Every loop ends: at stop(), after max_requests over all clients, or at the deadline.
void ClientLoad::run() {
  while (!stop_ && Clock::now() < deadline_ && started_requests_++ < options_.max_requests) {
    LoadRecord record{.started = Clock::now(), .ended = {}, .exchange = {}};
    record.exchange = httpExchange(address_);
    record.ended = Clock::now();
    const std::lock_guard lock(mutex_);
    records_.push_back(std::move(record));
  }
  --running_;
}

std::vector<LoadRecord> ClientLoad::records() const {
  const std::lock_guard lock(mutex_);
  return records_;
}

bool ClientLoad::any(Clock::time_point since,
                     const std::function<bool(const LoadRecord&)>& match) const {
  const std::lock_guard lock(mutex_);
  return std::any_of(records_.begin(), records_.end(), [&](const LoadRecord& record) {
    return record.ended >= since && match(record);
  });
}

std::string describeFailures(const std::vector<LoadRecord>& records, size_t limit) {
  size_t failed = 0;
  std::string examples;
  for (const LoadRecord& record : records) {
    if (record.exchange.ok()) {
      continue;
    }
    if (++failed <= limit) {
      examples += fmt::format(
          "\n  status {} after {} ms: {}", record.exchange.status,
          std::chrono::duration_cast<std::chrono::milliseconds>(record.ended - record.started)
              .count(),
          record.exchange.error.empty() ? record.exchange.body : record.exchange.error);
    }
  }
  return fmt::format("failed {} of {} requests{}", failed, records.size(), examples);
}

} // namespace corral::test

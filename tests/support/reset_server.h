#pragma once
// A server for one connection that sends PatternStream(seed) until nothing more fits anywhere on
// the way to a client that does not read (the kernel buffers, corral's queue), then resets with
// SO_LINGER 0: the test of what a relay still owes a client when its server fails.

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace corral::test {

class FloodThenResetServer {
public:
  explicit FloodThenResetServer(uint64_t seed);
  ~FloodThenResetServer();
  FloodThenResetServer(const FloodThenResetServer&) = delete;
  FloodThenResetServer& operator=(const FloodThenResetServer&) = delete;

  const std::string& address() const { return address_; }
  bool resetSent() const { return reset_sent_.load(); }

private:
  void serveOne(uint64_t seed);

  int listener_ = -1;
  std::string address_;
  std::thread thread_;
  std::atomic<bool> reset_sent_{false};
};

} // namespace corral::test

#pragma once
// corral-demo-backend as a real HTTP/1.1 server for the sticky tests: a process of its own that
// answers every request with "NAME pid P request K\n", keeps connections alive like any evhttp
// server, and can be stopped with SIGTERM as an operator (or a crash) would stop an instance.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include "tests/support/child_process.h"
#include "tests/support/corral_process.h"

namespace corral::test {

class DemoBackend {
public:
  /// Starts the demo backend on 127.0.0.1 with a port of the kernel's choice and waits up to
  /// `timeout` for its "listening on" line; on failure ready() is false and the test has failed.
  explicit DemoBackend(std::string name, std::chrono::milliseconds timeout = 10s);
  DemoBackend(const DemoBackend&) = delete;
  DemoBackend& operator=(const DemoBackend&) = delete;

  const std::string& name() const { return name_; }
  /// "127.0.0.1:PORT"; "" until ready.
  const std::string& address() const { return address_; }
  bool ready() const { return !address_.empty(); }
  /// SIGTERM, then waits for the process to exit; true when it exited 0 in time.
  bool stop(std::chrono::milliseconds timeout = 5s);

private:
  std::string name_;
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  std::string address_;
};

/// The path of the corral-demo-backend binary of this build.
std::string demoBackendBinary();

} // namespace corral::test

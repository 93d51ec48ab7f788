#pragma once
// An AdminServer on 127.0.0.1:0 with a FakeControl, its event loop on a thread of its own, and
// an HTTP client pointed at it.

#include <memory>
#include <string>
#include <thread>

#include "cli/ctl_client.h"
#include "corral/admin/admin_server.h"
#include "tests/unit/admin/fake_control.h"

struct event_base;

namespace corral::admin {

class AdminHarness {
public:
  /// `token`: written to a temporary token_file when not empty.
  explicit AdminHarness(const std::string& token = "");
  ~AdminHarness();

  FakeControl& control() { return control_; }
  event_base* base() { return base_; }
  std::string address() const { return server_->boundAddress().toString(); }
  HostPort hostPort() const;
  /// A client sending `token` (none when empty).
  cli::AdminClient client(const std::string& token = "") const;
  const std::string& tokenFile() const { return token_file_; }

private:
  FakeControl control_;
  event_base* base_;
  std::string token_file_;
  std::unique_ptr<AdminServer> server_;
  std::thread loop_;
};

/// A file under the test's temporary directory holding `text`; returns its path.
std::string writeTempFile(const std::string& name, const std::string& text);

} // namespace corral::admin

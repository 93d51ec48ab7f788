#include "tests/unit/admin/admin_harness.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <event2/event.h>
#include <event2/thread.h>
#include <gtest/gtest.h>

namespace corral::admin {

std::string writeTempFile(const std::string& name, const std::string& text) {
  const auto directory = std::filesystem::temp_directory_path() /
                         ("corral_admin_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(directory);
  const auto path = (directory / name).string();
  std::ofstream(path) << text;
  return path;
}

AdminHarness::AdminHarness(const std::string& token) {
  evthread_use_pthreads(); // FakeControl::emitLines and loopexit come from the test thread
  base_ = event_base_new();
  config::AdminConfig config{.listen = {.host = "127.0.0.1", .port = 0}, .token_file = ""};
  if (!token.empty()) {
    token_file_ = writeTempFile("admin.token", token + "\n");
    config.token_file = token_file_;
  }
  auto server = AdminServer::create(base_, config, control_);
  if (!server) {
    ADD_FAILURE() << server.error().message;
    std::abort();
  }
  server_ = std::move(*server);
  loop_ = std::thread([base = base_] { event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY); });
}

AdminHarness::~AdminHarness() {
  // loopexit, not loopbreak: it is an event, so it is not lost if the loop has not started yet
  // (event_base_loop clears a pending break when it starts).
  event_base_loopexit(base_, nullptr);
  loop_.join();
  server_.reset();
  event_base_free(base_);
}

HostPort AdminHarness::hostPort() const {
  return {.host = "127.0.0.1", .port = server_->boundAddress().port()};
}

cli::AdminClient AdminHarness::client(const std::string& token) const {
  return cli::AdminClient(hostPort(), token);
}

} // namespace corral::admin

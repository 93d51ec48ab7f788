#pragma once
// A Control with canned data that records every call, for driving the admin server over HTTP.
// Its methods run on the admin server's loop thread; the test thread reads what they recorded.

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "corral/admin/control.h"

struct event_base;

namespace corral::admin {

class FakeControl : public Control {
public:
  FakeControl();

  bool ready() override;
  Status status() override { return status_; }
  Result<void> serverAction(std::string_view backend, std::string_view server,
                            ServerAction action) override;
  Result<void> setWeight(std::string_view backend, std::string_view server,
                         uint32_t weight) override;
  Result<void> restart(std::string_view backend) override;
  Result<void> scale(std::string_view backend, uint32_t instances) override;
  Result<void> reload() override;
  Result<RouteAnswer> route(std::string_view backend, std::string_view client_ip,
                            std::optional<std::string_view> cookie,
                            std::optional<std::string_view> key) override;
  Result<std::vector<std::string>> logs(std::string_view backend, int instance) override;
  Result<uint64_t> followLogs(std::string_view backend, int instance,
                              std::function<void(std::string_view)> on_line) override;
  void unfollowLogs(uint64_t id) override;

  /// Every call so far, as "drain app app#0", "weight app s1 10", "route app 10.0.0.7 cookie=x".
  std::vector<std::string> calls() const;
  void setReady(bool ready);
  void failReloadWith(std::string message);
  /// Hands `lines`, in order, to every follower on `base`'s loop thread (as an instance's output).
  void emitLines(event_base* base, std::vector<std::string> lines);
  /// Waits up to `timeout` until `id` is unfollowed.
  bool waitUnfollowed(uint64_t id, std::chrono::milliseconds timeout);
  size_t followers() const;

private:
  Result<void> findServer(std::string_view backend, std::string_view server) const;
  void record(std::string call);
  static void onEmit(int, short, void* pending) noexcept;

  Status status_;
  mutable std::mutex mutex_;
  std::condition_variable unfollowed_;
  std::vector<std::string> calls_;
  bool ready_ = true;
  std::optional<std::string> reload_error_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::function<void(std::string_view)>> followers_;
};

} // namespace corral::admin

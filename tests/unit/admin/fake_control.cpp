#include "fake_control.h"

#include <event2/event.h>
#include <fmt/format.h>

namespace corral::admin {
namespace {

ServerStatus instance(int n, int pid) {
  return {.name = fmt::format("app#{}", n), .address = fmt::format("127.0.0.1:{}", 9001 + n),
          .state = "up", .reason = "", .weight = 1, .effective_weight = 1, .active = 2,
          .total = 40, .bytes_in = 1000, .bytes_out = 50000, .last_check = "ok",
          .last_check_ms = 0.4, .pid = pid, .uptime_s = 3700, .restarts = n};
}

} // namespace

FakeControl::FakeControl() {
  status_.version = "0.1.0";
  status_.uptime_s = 7300;
  status_.frontends = {{.name = "web", .listen = "127.0.0.1:8080", .backend = "app",
                        .tls = "terminate", .active = 4, .total = 81, .rejected = 2}};
  const ServerStatus down{.name = "s1", .address = "127.0.0.1:9101", .state = "down",
                          .reason = "refused", .weight = 10, .effective_weight = 3, .active = 0,
                          .total = 7, .bytes_in = 0, .bytes_out = 0, .last_check = "refused",
                          .last_check_ms = 0.2};
  status_.backends = {{.name = "app", .balance = "ip_hash", .servers = {instance(0, 4242),
                                                                          instance(1, 4243)},
                       .queued = 3, .limited = true},
                      {.name = "static", .balance = "round_robin", .servers = {down}}};
}

bool FakeControl::ready() {
  const std::lock_guard lock(mutex_);
  return ready_;
}

Result<void> FakeControl::findServer(std::string_view backend, std::string_view server) const {
  for (const auto& candidate : status_.backends) {
    for (const auto& known : candidate.servers) {
      if (candidate.name == backend && known.name == server) {
        return {};
      }
    }
  }
  return fail(ErrorCode::NotFound, fmt::format("unknown server {}/{}", backend, server));
}

void FakeControl::record(std::string call) {
  const std::lock_guard lock(mutex_);
  calls_.push_back(std::move(call));
}

Result<void> FakeControl::serverAction(std::string_view backend, std::string_view server,
                                       ServerAction action) {
  static const char* const kNames[] = {"drain", "disable", "enable"};
  record(fmt::format("{} {} {}", kNames[static_cast<int>(action)], backend, server));
  return findServer(backend, server);
}

Result<void> FakeControl::setWeight(std::string_view backend, std::string_view server,
                                    uint32_t weight) {
  record(fmt::format("weight {} {} {}", backend, server, weight));
  return findServer(backend, server);
}

Result<void> FakeControl::restart(std::string_view backend) {
  record(fmt::format("restart {}", backend));
  if (backend == "static") {
    return fail(ErrorCode::BadInput, "backend static has no spawn section");
  }
  return backend == "app" ? Result<void>() : fail(ErrorCode::NotFound, "unknown backend");
}

Result<void> FakeControl::scale(std::string_view backend, uint32_t instances) {
  record(fmt::format("scale {} {}", backend, instances));
  if (backend == "static") {
    return fail(ErrorCode::BadInput, "backend static has no spawn section");
  }
  return backend == "app" ? Result<void>() : fail(ErrorCode::NotFound, "unknown backend");
}

Result<void> FakeControl::reload() {
  record("reload");
  const std::lock_guard lock(mutex_);
  if (reload_error_) {
    return fail(ErrorCode::BadConfig, *reload_error_);
  }
  return {};
}

Result<RouteAnswer> FakeControl::route(std::string_view backend, std::string_view client_ip,
                                       std::optional<std::string_view> cookie,
                                       std::optional<std::string_view> key) {
  record(fmt::format("route {} {}{}{}", backend, client_ip,
                     cookie ? fmt::format(" cookie={}", *cookie) : "",
                     key ? fmt::format(" key={}", *key) : ""));
  if (backend != "app") {
    return fail(ErrorCode::NotFound, fmt::format("unknown backend {}", backend));
  }
  return RouteAnswer{.server = "app#1", .reason = fmt::format("hash of {} (ip_hash)", client_ip)};
}

Result<std::vector<std::string>> FakeControl::logs(std::string_view backend, int instance) {
  record(fmt::format("logs {} {}", backend, instance));
  if (backend != "app" || instance > 1) {
    return fail(ErrorCode::NotFound, fmt::format("unknown instance {}#{}", backend, instance));
  }
  return std::vector<std::string>{fmt::format("instance {} booting", instance),
                                  fmt::format("listening on {}", 9001 + instance)};
}

Result<uint64_t> FakeControl::followLogs(std::string_view backend, int instance,
                                         std::function<void(std::string_view)> on_line) {
  record(fmt::format("follow {} {}", backend, instance));
  const std::lock_guard lock(mutex_);
  followers_.emplace(next_id_, std::move(on_line));
  return next_id_++;
}

void FakeControl::unfollowLogs(uint64_t id) {
  record(fmt::format("unfollow {}", id));
  const std::lock_guard lock(mutex_);
  followers_.erase(id);
  unfollowed_.notify_all();
}

std::vector<std::string> FakeControl::calls() const {
  const std::lock_guard lock(mutex_);
  return calls_;
}

void FakeControl::setReady(bool ready) {
  const std::lock_guard lock(mutex_);
  ready_ = ready;
}

void FakeControl::failReloadWith(std::string message) {
  const std::lock_guard lock(mutex_);
  reload_error_ = std::move(message);
}

namespace {
struct PendingLines {
  FakeControl* control;
  std::vector<std::string> lines;
};
} // namespace

void FakeControl::emitLines(event_base* base, std::vector<std::string> lines) {
  auto* pending = new PendingLines{this, std::move(lines)};
  event_base_once(base, -1, EV_TIMEOUT, &FakeControl::onEmit, pending, nullptr);
}

void FakeControl::onEmit(int, short, void* pending) noexcept {
  const std::unique_ptr<PendingLines> emitted(static_cast<PendingLines*>(pending));
  std::vector<std::function<void(std::string_view)>> targets;
  {
    const std::lock_guard lock(emitted->control->mutex_);
    for (const auto& [id, on_line] : emitted->control->followers_) {
      targets.push_back(on_line);
    }
  }
  for (const auto& line : emitted->lines) {
    for (const auto& on_line : targets) {
      on_line(line);
    }
  }
}

bool FakeControl::waitUnfollowed(uint64_t id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return unfollowed_.wait_for(lock, timeout, [&] { return !followers_.contains(id); });
}

size_t FakeControl::followers() const {
  const std::lock_guard lock(mutex_);
  return followers_.size();
}

} // namespace corral::admin

#pragma once
// What the admin API needs from the rest of corral. The control thread implements Control; the
// admin server (admin_server.h) turns HTTP requests into these calls and their results into JSON,
// so the HTTP layer knows nothing about snapshots, health checks or the supervisor.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "corral/core/error.h"

namespace corral::admin {

/// Same range as a server's `weight` key in the configuration (HAProxy's 1..256). Weight 0 is not
/// "off": `disable` is.
constexpr uint32_t kMinWeight = 1;
constexpr uint32_t kMaxWeight = 256;
/// `ctl scale`: as many instances as `spawn.instances` may name.
constexpr uint32_t kMaxInstances = 1024;

enum class ServerAction {
  Drain,   // no new clients; open connections and sticky clients stay
  Disable, // maintenance: no traffic at all, sticky clients move
  Enable,  // back to the health checker's verdict
};

struct ServerStatus {
  std::string name;    // `name` key, else host:port; spawned instances are app#0, app#1, ...
  std::string address; // "127.0.0.1:9001"
  std::string state;   // unknown | up | down | drain | disabled
  std::string reason;  // why it is down ("refused", "timeout", "status 503"); may be empty
  uint32_t weight = 1;
  uint32_t effective_weight = 1; // below weight while slow start ramps
  uint64_t active = 0;
  uint64_t total = 0;
  uint64_t bytes_in = 0;  // from the client to the server
  uint64_t bytes_out = 0; // from the server to the client
  std::string last_check; // "ok", "refused", "timeout", "status 503"; empty before the first
  double last_check_ms = 0;
  // Spawned instances only.
  std::optional<int> pid;
  std::optional<double> uptime_s;
  std::optional<uint32_t> restarts;

  bool operator==(const ServerStatus&) const = default;
};

struct BackendStatus {
  std::string name;
  std::string balance; // as written in the configuration: round_robin, ip_hash, ...
  std::vector<ServerStatus> servers;
  uint64_t queued = 0;  // clients waiting for a server under its max_connections
  bool limited = false; // some server has max_connections, so clients may queue

  bool operator==(const BackendStatus&) const = default;
};

struct FrontendStatus {
  std::string name;
  std::string listen; // the bound address, with the real port when the configuration said 0
  std::string backend;
  std::string tls = "off"; // off | terminate | passthrough
  uint64_t active = 0;
  uint64_t total = 0;
  uint64_t rejected = 0; // connections closed at accept or before a server, every reason

  bool operator==(const FrontendStatus&) const = default;
};

/// Everything `corral ctl status` shows, in configuration order.
struct Status {
  std::string version;
  double uptime_s = 0;
  std::vector<FrontendStatus> frontends;
  std::vector<BackendStatus> backends;

  bool operator==(const Status&) const = default;
};

/// The JSON of GET /api/v1/status. Optional fields that are absent are written as null.
nlohmann::json toJson(const Status& status);
/// The inverse of toJson; a missing or mistyped field is a BadInput error naming it.
Result<Status> statusFromJson(const nlohmann::json& json);

/// Which server a client would get, and why ("hash of 10.0.0.7 (ip_hash)", "cookie names app#1",
/// "cookie forged; fell back to round_robin").
struct RouteAnswer {
  std::string server;
  std::string reason;
};

/// Called on the thread that runs the admin server's event_base (the control thread), never
/// concurrently. Unknown backend or server names fail with ErrorCode::NotFound (HTTP 404), bad
/// values with BadInput (400), a configuration that does not load with BadConfig (422).
class Control {
public:
  virtual ~Control() = default;

  /// False until every listener is bound, and again while draining before exit: GET /ready.
  virtual bool ready() = 0;
  virtual Status status() = 0;
  /// Survives a reload while the server still exists.
  virtual Result<void> serverAction(std::string_view backend, std::string_view server,
                                    ServerAction action) = 0;
  /// `weight` is within kMinWeight..kMaxWeight (the admin server checks). Survives a reload.
  virtual Result<void> setWeight(std::string_view backend, std::string_view server,
                                 uint32_t weight) = 0;
  /// Starts a rolling restart of the backend's spawned instances and returns at once; a backend
  /// without `spawn` is BadInput.
  virtual Result<void> restart(std::string_view backend) = 0;
  /// `ctl scale`: runs `instances` (within 1..kMaxInstances, the admin server checks) of the
  /// backend's spawned instances from now on, until a reload changes `spawn.instances` in the
  /// file. A backend without `spawn` is BadInput, a port range too small for them is BadInput.
  virtual Result<void> scale(std::string_view backend, uint32_t instances) = 0;
  /// Same as SIGHUP. On failure the message holds every configuration error, one per line, as
  /// `corral check` prints them, and the old configuration keeps running.
  virtual Result<void> reload() = 0;
  /// `client_ip` is an IPv4 or IPv6 literal (the admin server checks); `cookie` is the value of
  /// the backend's sticky cookie, if the client would send one; `key` is the value of a `balance:
  /// hash` key as the connection would carry it (a header's value, "/t/42" for path:2).
  virtual Result<RouteAnswer> route(std::string_view backend, std::string_view client_ip,
                                    std::optional<std::string_view> cookie,
                                    std::optional<std::string_view> key) = 0;
  /// The captured output lines of spawned instance `instance` (app#N has instance N), oldest first.
  virtual Result<std::vector<std::string>> logs(std::string_view backend, int instance) = 0;
  /// Calls `on_line` with each new line of that instance until unfollowLogs(id). Returns the id.
  virtual Result<uint64_t> followLogs(std::string_view backend, int instance,
                                      std::function<void(std::string_view line)> on_line) = 0;
  /// After this returns, the on_line of `id` is never called again.
  virtual void unfollowLogs(uint64_t id) = 0;
  /// `ctl upgrade`: starts handing the sockets and instances to a new corral process from
  /// `binary` (empty: this one's on disk) and returns at once with {"id", "old_pid"}; the
  /// outcome is told by upgradeStatus(), by the new process once it took over.
  /// `ready_timeout`: how long the new process may take to report ready.
  virtual Result<nlohmann::json> upgrade(const std::string& binary,
                                         std::chrono::milliseconds ready_timeout);
  /// {"id", "state": "none|running|done|failed", "reason", "old_pid", "old_version",
  ///  "new_pid", "new_version", "handover_ms"} of the last upgrade.
  virtual nlohmann::json upgradeStatus();
};

} // namespace corral::admin

#pragma once
// Active health checks (DESIGN.md: health_check): each target is checked every `interval` ±10%
// on the control thread's event loop, never blocking it, and its up/down state follows
// HealthState's rise/fall rules. The checker knows nothing of the proxy: it reports results and
// state changes through callbacks, and the caller publishes them.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corral/config/config.h"
#include "corral/core/address.h"
#include "corral/health/health_state.h"
#include "corral/tls/client_context.h"

struct event_base;

namespace corral::health {

struct CheckTarget {
  std::string backend;
  std::string server;
  SocketAddress address;
  config::HealthCheckConfig check;
  /// check.tls: the context the check's handshake uses; `host` (the server's address as
  /// written) is the SNI when neither health_check.sni nor servers[].tls.sni says otherwise.
  std::shared_ptr<const tls::ClientContext> tls;
  std::string host;
};

/// What a check found, as the `result` label of corral_health_checks_total: a fixed set, so
/// every series can be exported at 0 from startup (DESIGN.md: Metrics).
enum class CheckOutcome {
  Ok,
  Refused,     // nothing listens: connection refused
  Timeout,     // no connect, or no status line, within `timeout`
  BadStatus,   // a status outside expect_status
  BadResponse, // not an HTTP/1.x status line, or closed before one
  Error,       // any other socket error (reset, unreachable, ...)
};
inline constexpr CheckOutcome kCheckOutcomes[] = {
    CheckOutcome::Ok,        CheckOutcome::Refused,     CheckOutcome::Timeout,
    CheckOutcome::BadStatus, CheckOutcome::BadResponse, CheckOutcome::Error};

/// "ok", "refused", "timeout", "bad_status", "bad_response", "error".
std::string_view toString(CheckOutcome outcome);

struct CheckResult {
  CheckOutcome outcome = CheckOutcome::Error;
  /// "ok", "refused", "timeout", "status 503", "bad response", "closed", "reset", or a system
  /// error's text: the reason an operator reads in the log and the admin API.
  std::string detail;
  /// From the start of the connect to the verdict.
  std::chrono::microseconds latency{0};

  bool ok() const { return outcome == CheckOutcome::Ok; }
};

/// health_check.tls: the check handshakes with `context` before it counts as connected (and
/// before an http check's request), sending `host` as SNI unless the context names another.
struct ProbeTls {
  std::shared_ptr<const tls::ClientContext> context; // null: plain TCP
  std::string host;
};

class ServerMonitor;
class HealthyWaiter;

class HealthChecker {
public:
  using State = HealthState::State;
  /// A target's state changed (each change once; the checker also logs it).
  using StateCallback =
      std::function<void(const CheckTarget&, State from, State to, const CheckResult&)>;
  /// Every finished check, for corral_health_checks_total{result} and the admin status.
  using ResultCallback = std::function<void(const CheckTarget&, const CheckResult&)>;

  /// Callbacks run on `base`'s loop. They may call setTargets() but must not destroy the checker.
  HealthChecker(event_base* base, StateCallback on_state_changed, ResultCallback on_result);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  /// Replaces the set of checked servers, e.g. after a reload. A target whose backend, server and
  /// address are unchanged keeps its state and schedule (its new check settings apply from its
  /// next check); a new one starts Unknown and is checked within 100 ms; a removed one stops at
  /// once, a check in flight included, and reports nothing more.
  void setTargets(std::vector<CheckTarget> targets);

  /// std::nullopt when the server is not a target.
  std::optional<State> state(std::string_view backend, std::string_view server) const;

  /// A one-shot readiness probe, for a rolling restart's replacement instance: checks `address`
  /// every `check.interval` until `check.rise` checks in a row succeed, then calls done(true); or
  /// done(false) once `deadline` has passed. Without a configured check (std::nullopt), one
  /// successful TCP connect is enough, tried every 100 ms. With check.tls, each check handshakes
  /// as `tls` says, as the server's regular checks do. `done` is called exactly once, unless the
  /// checker is destroyed first: then never.
  void probeUntilHealthy(const SocketAddress& address,
                         const std::optional<config::HealthCheckConfig>& check, ProbeTls tls,
                         std::chrono::milliseconds deadline, std::function<void(bool)> done);

private:
  struct Waiting {
    std::unique_ptr<HealthyWaiter> waiter;
    std::function<void(bool)> done;
  };

  void onChecked(const ServerMonitor& monitor, const CheckResult& result,
                 std::optional<std::pair<State, State>> change);
  void logChange(const ServerMonitor& monitor, State to, const CheckResult& result) const;
  void finishWaiting(uint64_t id, bool healthy);

  event_base* base_;
  StateCallback on_state_changed_;
  ResultCallback on_result_;
  std::mt19937_64 random_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<ServerMonitor>> monitors_;
  std::map<uint64_t, Waiting> waiting_;
  uint64_t next_waiting_id_ = 0;
};

} // namespace corral::health

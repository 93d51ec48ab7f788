#pragma once
// DNS discovery (DESIGN.md, `resolve_interval`): a server address that is a name ("app:8080")
// stands for every A/AAAA record it resolves to. Names are resolved once, blocking, at start and
// reload (nothing is served yet, and the first snapshot should know every record), then again
// every resolve_interval with libevent's evdns on the control loop, so no event loop ever waits
// on DNS. When a name's records change, `on_changed` runs; the owner then rebuilds its snapshot
// from `expand(config)`.

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "corral/config/config.h"
#include "corral/core/address.h"
#include "corral/core/timer.h"

struct event_base;
struct evdns_base;
struct evutil_addrinfo;

namespace corral::discovery {

class Discovery {
public:
  /// `base` must outlive the Discovery; `on_changed` runs on its loop.
  Discovery(event_base* base, std::function<void()> on_changed);
  /// Pending lookups are cancelled; `on_changed` is not called again.
  ~Discovery();
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  /// Resolves, blocking, every name of `config` that has no records yet. A name that does not
  /// resolve is logged and stands for no server until a later lookup finds it.
  void resolveNow(const config::Config& config);
  /// `config` with each name replaced by one server per record, named after it
  /// ("10.0.0.5:8080"), in sorted order, so two balancer nodes that see the same records build
  /// the same Maglev table. Numeric addresses are left as they are.
  config::Config expand(config::Config config) const;
  /// From now on re-resolves the names of `config` (and only those) every resolve_interval, the
  /// shortest of the backends that have names; without names the timer stops.
  void watch(const config::Config& config);

private:
  struct Name {
    std::string host;
    uint16_t port = 0;
  };
  void onTimer();
  void onResolved(const std::string& name, int result, evutil_addrinfo* found);

  event_base* base_;
  std::function<void()> on_changed_;
  std::map<std::string, std::vector<SocketAddress>> records_; // "app:8080" -> its records
  std::vector<Name> watched_;
  std::chrono::milliseconds interval_{0};
  evdns_base* dns_ = nullptr;
  Timer timer_;
};

/// True when `address` is a DNS name rather than a numeric IPv4/IPv6 address.
bool isName(const HostPort& address);

} // namespace corral::discovery

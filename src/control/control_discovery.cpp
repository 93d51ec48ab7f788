// DNS discovery: a server address that is a name ("app:8080") stands for every A/AAAA record it
// resolves to, re-resolved every resolve_interval with libevent's evdns on the control thread, so
// no event loop ever waits on DNS. Each record becomes a server named after it ("10.0.0.5:8080"),
// in sorted order, so two balancer nodes that see the same records build the same Maglev table.

#include <netdb.h>

#include <event2/dns.h>
#include <event2/util.h>

#include <algorithm>

#include <fmt/format.h>

#include "corral/control/control_plane.h"
#include "corral/core/log.h"
#include "corral/core/units.h"

namespace corral::control {
namespace {

bool isName(const HostPort& address) { return !SocketAddress::fromHostPort(address).has_value(); }

std::string key(const HostPort& address) { return fmt::format("{}:{}", address.host, address.port); }

std::vector<SocketAddress> sorted(std::vector<SocketAddress> addresses) {
  std::sort(addresses.begin(), addresses.end(), [](const auto& a, const auto& b) {
    return std::pair(a.family(), a.ipBytes()) < std::pair(b.family(), b.ipBytes());
  });
  addresses.erase(std::unique(addresses.begin(), addresses.end(),
                              [](const auto& a, const auto& b) { return a.toString() == b.toString(); }),
                  addresses.end());
  return addresses;
}

std::vector<SocketAddress> fromAddrinfo(const evutil_addrinfo* info) {
  std::vector<SocketAddress> addresses;
  for (; info != nullptr; info = info->ai_next) {
    addresses.push_back(SocketAddress::fromSockaddr(info->ai_addr, info->ai_addrlen));
  }
  return sorted(std::move(addresses));
}

// One evdns lookup in flight; frees itself when it answers.
struct Lookup {
  ControlPlane* plane;
  std::string name; // "app:8080"
};

} // namespace

// At start (and reload) the names are resolved once, blocking: the control loop is not serving
// anything yet, and the first snapshot should already know every record.
void ControlPlane::resolveNow() {
  for (const config::BackendConfig& backend : config_.backends) {
    for (const config::ServerConfig& server : backend.servers) {
      if (!isName(server.address) || resolved_.contains(key(server.address))) {
        continue;
      }
      evutil_addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      evutil_addrinfo* found = nullptr;
      const std::string port = std::to_string(server.address.port);
      if (evutil_getaddrinfo(server.address.host.c_str(), port.c_str(), &hints, &found) != 0) {
        log::core()->warn("backend {}: {} does not resolve yet; retrying every {}", backend.name,
                          server.address.host, formatDuration(backend.resolve_interval));
        continue;
      }
      resolved_[key(server.address)] = fromAddrinfo(found);
      evutil_freeaddrinfo(found);
    }
  }
}

// The configuration as the snapshot sees it: each DNS name replaced by one server per record.
config::Config ControlPlane::materialize() const {
  config::Config config = config_;
  for (config::BackendConfig& backend : config.backends) {
    std::vector<config::ServerConfig> servers;
    for (const config::ServerConfig& server : backend.servers) {
      if (!isName(server.address)) {
        servers.push_back(server);
        continue;
      }
      const auto found = resolved_.find(key(server.address));
      for (const SocketAddress& record : found != resolved_.end() ? found->second : std::vector<SocketAddress>{}) {
        config::ServerConfig expanded = server;
        expanded.address = {.host = record.ipString(), .port = server.address.port};
        expanded.name = record.toString();
        servers.push_back(std::move(expanded));
      }
    }
    backend.servers = std::move(servers);
  }
  return config;
}

Result<void> ControlPlane::rebuild() {
  auto next = runtime::Snapshot::build(materialize(), current().get(), spawned_);
  if (!next) {
    return std::unexpected(next.error());
  }
  return publish(*next);
}

void ControlPlane::startDiscovery() {
  std::chrono::milliseconds interval{0};
  for (const config::BackendConfig& backend : config_.backends) {
    for (const config::ServerConfig& server : backend.servers) {
      if (isName(server.address)) {
        interval = interval.count() == 0 ? backend.resolve_interval
                                         : std::min(interval, backend.resolve_interval);
      }
    }
  }
  if (interval.count() == 0) {
    return; // nothing to discover
  }
  if (dns_ == nullptr) {
    dns_ = evdns_base_new(base_, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    resolve_timer_ = event_new(base_, -1, EV_PERSIST, [](evutil_socket_t, short, void* self) {
      static_cast<ControlPlane*>(self)->onResolveTimer();
    }, this);
  }
  const timeval every{static_cast<time_t>(interval.count() / 1000),
                      static_cast<suseconds_t>(interval.count() % 1000 * 1000)};
  event_add(resolve_timer_, &every);
}

void ControlPlane::onResolveTimer() {
  for (const config::BackendConfig& backend : config_.backends) {
    for (const config::ServerConfig& server : backend.servers) {
      if (!isName(server.address)) {
        continue;
      }
      evutil_addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      auto* lookup = new Lookup{.plane = this, .name = key(server.address)};
      ++lookups_in_flight_;
      evdns_getaddrinfo(dns_, server.address.host.c_str(), std::to_string(server.address.port).c_str(),
                        &hints, [](int result, evutil_addrinfo* found, void* arg) {
                          std::unique_ptr<Lookup> lookup(static_cast<Lookup*>(arg));
                          if (result == EVUTIL_EAI_CANCEL) {
                            return; // the plane is going away
                          }
                          lookup->plane->onResolved(lookup->name, result, found);
                          if (found != nullptr) {
                            evutil_freeaddrinfo(found);
                          }
                        }, lookup);
    }
  }
}

void ControlPlane::onResolved(const std::string& name, int result, evutil_addrinfo* found) {
  --lookups_in_flight_;
  if (result != 0) {
    log::core()->warn("{} does not resolve: {}; keeping the servers it had",
                      name, evutil_gai_strerror(result));
    return;
  }
  std::vector<SocketAddress> records = fromAddrinfo(found);
  auto& known = resolved_[name];
  const auto text = [](const std::vector<SocketAddress>& list) {
    std::vector<std::string> out;
    for (const auto& a : list) {
      out.push_back(a.toString());
    }
    return out;
  };
  if (text(known) == text(records)) {
    return;
  }
  log::core()->info("{} now resolves to {} record(s)", name, records.size());
  known = std::move(records);
  if (auto rebuilt = rebuild(); !rebuilt) {
    log::core()->error("{}: {}", name, rebuilt.error().message);
  }
}

} // namespace corral::control

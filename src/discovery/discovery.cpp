#include "corral/discovery/discovery.h"

#include <netdb.h>

#include <event2/dns.h>
#include <event2/util.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "corral/core/log.h"
#include "corral/core/units.h"

namespace corral::discovery {
namespace {

std::string key(const std::string& host, uint16_t port) { return fmt::format("{}:{}", host, port); }

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

std::vector<std::string> text(const std::vector<SocketAddress>& addresses) {
  std::vector<std::string> out;
  for (const auto& address : addresses) {
    out.push_back(address.toString());
  }
  return out;
}

} // namespace

bool isName(const HostPort& address) { return !SocketAddress::fromHostPort(address).has_value(); }

Discovery::Discovery(event_base* base, std::function<void()> on_changed)
    : base_(base), on_changed_(std::move(on_changed)), timer_(base, [this] { onTimer(); }) {}

Discovery::~Discovery() {
  if (dns_ != nullptr) {
    evdns_base_free(dns_, /*fail_requests=*/1); // pending lookups answer "cancelled" and go
  }
}

void Discovery::resolveNow(const config::Config& config) {
  for (const config::BackendConfig& backend : config.backends) {
    for (const config::ServerConfig& server : backend.servers) {
      const HostPort& address = server.address;
      if (!isName(address) || records_.contains(key(address.host, address.port))) {
        continue;
      }
      evutil_addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      evutil_addrinfo* found = nullptr;
      const std::string port = std::to_string(address.port);
      if (evutil_getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found) != 0) {
        log::core()->warn("backend {}: {} does not resolve yet; retrying every {}", backend.name,
                          address.host, formatDuration(backend.resolve_interval));
        continue;
      }
      records_[key(address.host, address.port)] = fromAddrinfo(found);
      evutil_freeaddrinfo(found);
    }
  }
}

config::Config Discovery::expand(config::Config config) const {
  for (config::BackendConfig& backend : config.backends) {
    std::vector<config::ServerConfig> servers;
    for (const config::ServerConfig& server : backend.servers) {
      if (!isName(server.address)) {
        servers.push_back(server);
        continue;
      }
      const auto found = records_.find(key(server.address.host, server.address.port));
      if (found == records_.end()) {
        continue;
      }
      for (const SocketAddress& record : found->second) {
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

void Discovery::watch(const config::Config& config) {
  watched_.clear();
  interval_ = std::chrono::milliseconds{0};
  for (const config::BackendConfig& backend : config.backends) {
    for (const config::ServerConfig& server : backend.servers) {
      if (isName(server.address)) {
        watched_.push_back({.host = server.address.host, .port = server.address.port});
        interval_ = interval_.count() == 0 ? backend.resolve_interval
                                           : std::min(interval_, backend.resolve_interval);
      }
    }
  }
  if (watched_.empty()) {
    timer_.cancel();
    return; // nothing to discover
  }
  if (dns_ == nullptr) {
    dns_ = evdns_base_new(base_, EVDNS_BASE_INITIALIZE_NAMESERVERS);
  }
  timer_.start(interval_);
}

// One evdns lookup in flight; frees itself when it answers.
void Discovery::onTimer() {
  timer_.start(interval_);
  struct Lookup {
    Discovery* discovery;
    std::string name; // "app:8080"
  };
  for (const Name& name : watched_) {
    evutil_addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    auto* lookup = new Lookup{.discovery = this, .name = key(name.host, name.port)};
    evdns_getaddrinfo(dns_, name.host.c_str(), std::to_string(name.port).c_str(), &hints,
                      [](int result, evutil_addrinfo* found, void* arg) {
                        std::unique_ptr<Lookup> lookup(static_cast<Lookup*>(arg));
                        if (result != EVUTIL_EAI_CANCEL) { // else the Discovery is going away
                          lookup->discovery->onResolved(lookup->name, result, found);
                        }
                        if (found != nullptr) {
                          evutil_freeaddrinfo(found);
                        }
                      }, lookup);
  }
}

void Discovery::onResolved(const std::string& name, int result, evutil_addrinfo* found) {
  if (result != 0) {
    log::core()->warn("{} does not resolve: {}; keeping the servers it had",
                      name, evutil_gai_strerror(result));
    return;
  }
  std::vector<SocketAddress> records = fromAddrinfo(found);
  auto& known = records_[name];
  if (text(known) == text(records)) {
    return;
  }
  log::core()->info("{} now resolves to {} record(s)", name, records.size());
  known = std::move(records);
  on_changed_();
}

} // namespace corral::discovery

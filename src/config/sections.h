#pragma once
// The sections of corral.yaml, each read through its own table of keys (private to config/).
// Checks that need only one section run here, right after it is read; checks across sections
// (names that refer to each other, repeated names) run on the finished Config in validate.h.

#include <array>
#include <cstdint>

#include "corral/config/config.h"

#include "config/yaml_reader.h"

namespace corral::config {

inline constexpr std::array<Choice<Balance>, 5> kBalanceChoices{{
    {"round_robin", Balance::RoundRobin},
    {"least_connections", Balance::LeastConnections},
    {"ip_hash", Balance::IpHash},
    {"sticky_cookie", Balance::StickyCookie},
    {"hash", Balance::Hash},
}};

/// The whole file: workers, admin, metrics, access_log, frontends, backends.
void readConfig(const Field& root, Config& config);
void readFrontend(const Field& section, FrontendConfig& frontend);
void readBackend(const Field& section, BackendConfig& backend);

void readStickyCookie(const Field& section, StickyCookieConfig& sticky_cookie);
void readIpHash(const Field& section, IpHashConfig& ip_hash);
void readHash(const Field& section, HashConfig& hash);
void readSpawn(const Field& section, std::optional<SpawnConfig>& spawn);
void readHealthCheck(const Field& section, std::optional<HealthCheckConfig>& health_check);
void readPassive(const Field& section, PassiveConfig& passive);
void readTcpKeepalive(const Field& section, std::optional<TcpKeepaliveConfig>& keepalive);

} // namespace corral::config

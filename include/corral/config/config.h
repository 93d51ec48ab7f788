#pragma once
// The validated configuration: plain data, built once by the loader (config/loader.h) and never
// changed afterwards. Every field has the default that DESIGN.md documents; a field whose YAML key
// was absent keeps it. Keys are the YAML keys of DESIGN.md, spelled the same.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "corral/core/address.h"
#include "corral/core/cidr.h"

namespace corral::config {

using namespace std::chrono_literals;
using Duration = std::chrono::milliseconds;

enum class Balance { RoundRobin, LeastConnections, IpHash, StickyCookie, Hash };
/// Where `balance: hash` finds a connection's key (`hash.key`).
enum class HashSource { Header, Cookie, Query, Path, Sni, ClientIp };
enum class HealthCheckType { Tcp, Http };
enum class ProxyProtocol { Off, V1, V2 };
/// splice(2) between plain sockets: auto moves a direction once it carries bulk (a read fills a
/// whole relay buffer), on from the first byte, off never.
enum class Splice { Auto, On, Off };

struct CertificateConfig {
  std::string cert; // PEM file, resolved relative to the config file's folder
  std::string key;
};

struct TlsConfig {
  std::vector<CertificateConfig> certificates; // first is the default
  std::vector<std::string> alpn;
  std::string min_version = "TLSv1.2";
};

struct SniRoute {
  std::string sni; // exact name or "*.example.com"
  std::string backend;
};

struct TlsPassthroughConfig {
  std::vector<SniRoute> routes;
  std::string default_backend; // empty: no default, unmatched clients are closed
};

/// TCP keepalive probes (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT): whole seconds.
struct TcpKeepaliveConfig {
  Duration idle = 60s;     // quiet time before the first probe
  Duration interval = 10s; // between probes
  uint32_t count = 6;      // unanswered probes before the connection is dropped
};

struct FrontendConfig {
  std::string name;
  HostPort listen;
  std::string backend;
  std::optional<TlsConfig> tls;
  std::optional<TlsPassthroughConfig> tls_passthrough;
  bool accept_proxy_protocol = false;
  std::vector<Cidr> trusted_proxies; // who may send the PROXY header; empty: anyone (loopback only)
  std::vector<Cidr> allow;           // source rules; empty: every address; deny wins
  std::vector<Cidr> deny;
  uint32_t max_connections_per_client = 0; // 0: no limit
  uint32_t connection_rate_per_client = 0; // new connections/s, token bucket of that size; 0: none
  uint32_t max_connections = 100000;
  Duration client_timeout = 60s;
  Duration tunnel_timeout = 1h; // idle limit once a tunnel: after a 101, or a non-HTTP exchange
  Duration max_lifetime = 0s;   // 0: none
  std::optional<TcpKeepaliveConfig> tcp_keepalive; // client sockets; off unless set
  Splice splice = Splice::Auto;
  Duration drain_timeout = 30s;
};

struct ServerTlsConfig {
  bool verify = true;
  std::string ca_file;
  std::string sni;
};

struct ServerConfig {
  HostPort address;  // host may be a DNS name (discovery/)
  uint32_t weight = 1;
  std::string name;  // the `name` key, else "host:port" as written
  std::optional<ServerTlsConfig> tls;
  /// Concurrent sessions at most; 0: the backend's server_max_connections (0 there: no limit).
  uint32_t max_connections = 0;
  bool backup = false; // takes clients only while no primary server can
};

/// Clients waiting for a server under its max_connections (`queue:`).
struct QueueConfig {
  uint32_t max = 1000;
  Duration timeout = 5s;
};

struct StickyCookieConfig {
  std::string name = "CORRAL";
  Balance fallback = Balance::RoundRobin; // never StickyCookie
  Duration max_age = 1h;
  std::string secret_file;                // empty: a random per-process key
  uint64_t max_header_size = 16 * 1024;
  Duration header_timeout = 5s;
};

struct IpHashConfig {
  uint32_t ipv4_prefix = 32;
  uint32_t ipv6_prefix = 64;
  uint32_t table_size = 65537; // prime; Maglev §3.4
};

/// `balance: hash`: consistent hashing of an application key through the backend's Maglev table.
struct HashConfig {
  HashSource source = HashSource::ClientIp;
  std::string name;            // header:NAME, cookie:NAME, query:NAME
  uint32_t path_segments = 0;  // path:N
  Balance fallback = Balance::RoundRobin; // round_robin | ip_hash, for a connection without the key
  double bounded_load = 0;     // c > 1: skip a server above c x the mean load; 0 = off
  uint32_t table_size = 65537; // prime; Maglev §3.4

  /// The key is in the first HTTP request head, read as sticky_cookie mode reads it.
  bool needsRequestHead() const {
    return source == HashSource::Header || source == HashSource::Cookie ||
           source == HashSource::Query || source == HashSource::Path;
  }
};

struct SpawnConfig {
  std::vector<std::string> command;
  uint32_t instances = 0;      // the loader resolves `auto` (and a missing key): one per core
  bool instances_auto = false; // `instances` was auto or left out
  uint16_t port_first = 0;  // `ports: 9001-9099`
  uint16_t port_last = 0;
  std::string cwd;
  std::map<std::string, std::string> env;
  Duration stop_timeout = 10s;
};

struct HealthCheckConfig {
  HealthCheckType type = HealthCheckType::Tcp;
  std::string path = "/healthz";
  std::string host; // http: the Host header; empty: the server's address
  bool tls = false; // check over TLS (the server's tls settings when it has them)
  std::string sni;  // with tls: the name sent (and verified); empty: the server's

  uint16_t expect_status_min = 200;
  uint16_t expect_status_max = 399;
  Duration interval = 2s;
  Duration timeout = 1s;
  uint32_t rise = 2;
  uint32_t fall = 3;
};

struct PassiveConfig {
  uint32_t consecutive_failures = 5;
  Duration ejection_time = 30s;
};

struct BackendConfig {
  std::string name;
  Balance balance = Balance::RoundRobin;
  StickyCookieConfig sticky_cookie;
  IpHashConfig ip_hash;
  HashConfig hash;
  std::vector<ServerConfig> servers; // may be empty only when `spawn` is set
  Duration resolve_interval = 5s;
  std::optional<SpawnConfig> spawn;
  std::optional<HealthCheckConfig> health_check; // absent: servers count as up
  PassiveConfig passive;
  Duration slow_start = 0s;
  uint32_t server_max_connections = 0; // default per-server limit; 0 = none
  QueueConfig queue;
  Duration connect_timeout = 3s;
  Duration server_timeout = 60s;
  uint32_t retries = 2;
  ProxyProtocol send_proxy_protocol = ProxyProtocol::Off;
  std::optional<TcpKeepaliveConfig> tcp_keepalive; // server sockets; off unless set
};

struct AdminConfig {
  HostPort listen{.host = "127.0.0.1", .port = 9900};
  std::string token_file;
  // How far back GET /api/v1/history (the status page's sparklines) reaches, one sample a second.
  Duration history = std::chrono::minutes(5);
};

struct MetricsConfig {
  HostPort listen{.host = "127.0.0.1", .port = 9100};
};

struct Config {
  std::string source;  // the file it was read from
  uint32_t workers = 0; // 0 = auto, one per core
  std::optional<AdminConfig> admin;
  std::optional<MetricsConfig> metrics;
  std::string access_log = "stdout"; // "stdout" | "off" | a file path
  std::vector<FrontendConfig> frontends;
  std::vector<BackendConfig> backends;

  const BackendConfig* findBackend(std::string_view name) const;
};

} // namespace corral::config

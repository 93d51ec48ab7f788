#include <algorithm>
#include <cctype>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "corral/core/address.h"

#include "config/sections.h"

namespace corral::config {
namespace {

// HAProxy's weight range: 1..256. Weight 0 is not "off": use `corral ctl disable` for that.
constexpr uint32_t kMaxWeight = 256;
constexpr uint32_t kMaxRetries = 10;
// Maglev picks M > 100 x N so that servers' shares differ by at most about 1% (Maglev §3.4).
constexpr uint64_t kTableSlotsPerServer = 100;
// A session is a few hundred bytes plus its sockets; a million of either is past any one process.
constexpr uint32_t kMaxConnectionLimit = 1000000;
constexpr uint32_t kMaxQueue = 1000000;

constexpr std::array<Choice<ProxyProtocol>, 3> kProxyProtocolChoices{{
    {"off", ProxyProtocol::Off},
    {"v1", ProxyProtocol::V1},
    {"v2", ProxyProtocol::V2},
}};

constexpr KeyRule<ServerTlsConfig> kServerTlsKeys[] = {
    {"verify", [](const Field& f, ServerTlsConfig& c) { f.read(c.verify); }},
    {"ca_file", [](const Field& f, ServerTlsConfig& c) { f.readPath(c.ca_file); }},
    {"sni", [](const Field& f, ServerTlsConfig& c) { f.read(c.sni); }},
};

void readServerTls(const Field& section, std::optional<ServerTlsConfig>& out) {
  ServerTlsConfig tls;
  if (readSection(section, tls, kServerTlsKeys)) {
    out = std::move(tls);
  }
}

// A server is named BACKEND/SERVER in the admin API and `corral ctl`.
void readServerName(const Field& field, std::string& out) {
  std::string name;
  if (!field.read(name)) {
    return;
  }
  if (name.find('/') != std::string::npos) {
    field.error(fmt::format("\"{}\" is not a valid server name: '/' separates backend and "
                            "server in BACKEND/SERVER",
                            name));
    return;
  }
  out = std::move(name);
}

bool isLabelChar(char c) {
  // '_' is not in RFC 1123, but resolvers pass it and docker-compose service names use it.
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

bool isAllDigits(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

// A host that is not a numeric address is resolved through DNS, so it must be a name DNS can
// hold (RFC 1123 §2.1: labels of at most 63 letters, digits and hyphens, 253 bytes in all). Its
// last label is never all digits (RFC 3696 §2), which tells a mistyped IPv4 address such as
// 256.256.256.256 from a name. Returns why the host is not valid, or nothing.
std::optional<std::string> checkHostName(std::string_view host) {
  if (SocketAddress::fromHostPort(HostPort{.host = std::string(host)})) {
    return std::nullopt;
  }
  if (host.ends_with('.')) {
    host.remove_suffix(1); // a fully qualified name: "web.example.com."
  }
  const size_t last_dot = host.rfind('.');
  const std::string_view last_label =
      last_dot == std::string_view::npos ? host : host.substr(last_dot + 1);
  if (isAllDigits(last_label)) {
    return fmt::format("\"{}\" is not a valid IPv4 address (four numbers from 0 to 255), and a "
                       "DNS name cannot end in a number",
                       host);
  }
  bool labels_ok = host.size() <= 253;
  for (size_t start = 0; labels_ok && start <= host.size();) {
    const size_t dot = std::min(host.find('.', start), host.size());
    const std::string_view label = host.substr(start, dot - start);
    labels_ok = !label.empty() && label.size() <= 63 && !label.starts_with('-') &&
                !label.ends_with('-') && std::all_of(label.begin(), label.end(), isLabelChar);
    start = dot + 1;
  }
  if (!labels_ok) {
    return fmt::format("\"{}\" is neither a numeric IP address nor a DNS name (dot-separated "
                       "labels of letters, digits and '-', each at most 63 long)",
                       host);
  }
  return std::nullopt;
}

void readServerAddress(const Field& field, HostPort& out) {
  HostPort address;
  if (!field.read(address)) {
    return;
  }
  if (address.port == 0) {
    field.error("a server's port must be from 1 to 65535");
    return;
  }
  if (const auto why = checkHostName(address.host)) {
    field.error(*why);
    return;
  }
  out = std::move(address);
}

constexpr KeyRule<ServerConfig> kServerKeys[] = {
    {"address", [](const Field& f, ServerConfig& c) { readServerAddress(f, c.address); }},
    {"weight", [](const Field& f, ServerConfig& c) { f.read(c.weight, 1, kMaxWeight); }},
    {"name", [](const Field& f, ServerConfig& c) { readServerName(f, c.name); }},
    {"tls", [](const Field& f, ServerConfig& c) { readServerTls(f, c.tls); }},
    {"max_connections",
     [](const Field& f, ServerConfig& c) { f.read(c.max_connections, 0, kMaxConnectionLimit); }},
    {"backup", [](const Field& f, ServerConfig& c) { f.read(c.backup); }},
};

// max 0 is allowed: a full server then turns clients away at once (queue_full).
constexpr KeyRule<QueueConfig> kQueueKeys[] = {
    {"max", [](const Field& f, QueueConfig& c) { f.read(c.max, 0, kMaxQueue); }},
    {"timeout", [](const Field& f, QueueConfig& c) { f.read(c.timeout, 1ms); }},
};

void readServer(const Field& section, ServerConfig& server) {
  if (!readSection(section, server, kServerKeys)) {
    return;
  }
  section.require("address");
  const auto address = section.find("address");
  if (server.name.empty() && address && !server.address.host.empty()) {
    server.name = address->node().Scalar(); // "host:port" exactly as written
  }
}

void readServers(const Field& list, std::vector<ServerConfig>& out) {
  for (const Field& item : list.items()) {
    readServer(item, out.emplace_back());
  }
}

constexpr KeyRule<BackendConfig> kBackendKeys[] = {
    {"name", [](const Field& f, BackendConfig& c) { f.readName(c.name); }},
    {"balance", [](const Field& f, BackendConfig& c) { f.read(c.balance, kBalanceChoices); }},
    {"sticky_cookie",
     [](const Field& f, BackendConfig& c) { readStickyCookie(f, c.sticky_cookie); }},
    {"ip_hash", [](const Field& f, BackendConfig& c) { readIpHash(f, c.ip_hash); }},
    {"hash", [](const Field& f, BackendConfig& c) { readHash(f, c.hash); }},
    {"servers", [](const Field& f, BackendConfig& c) { readServers(f, c.servers); }},
    {"resolve_interval", [](const Field& f, BackendConfig& c) { f.read(c.resolve_interval, 1ms); }},
    {"spawn", [](const Field& f, BackendConfig& c) { readSpawn(f, c.spawn); }},
    {"health_check", [](const Field& f, BackendConfig& c) { readHealthCheck(f, c.health_check); }},
    {"passive", [](const Field& f, BackendConfig& c) { readPassive(f, c.passive); }},
    {"slow_start", [](const Field& f, BackendConfig& c) { f.read(c.slow_start, 0ms); }},
    {"server_max_connections",
     [](const Field& f, BackendConfig& c) {
       f.read(c.server_max_connections, 0, kMaxConnectionLimit);
     }},
    {"queue", [](const Field& f, BackendConfig& c) { readSection(f, c.queue, kQueueKeys); }},
    {"connect_timeout", [](const Field& f, BackendConfig& c) { f.read(c.connect_timeout, 1ms); }},
    {"server_timeout", [](const Field& f, BackendConfig& c) { f.read(c.server_timeout, 1ms); }},
    {"retries", [](const Field& f, BackendConfig& c) { f.read(c.retries, 0, kMaxRetries); }},
    {"tcp_keepalive", [](const Field& f, BackendConfig& c) { readTcpKeepalive(f, c.tcp_keepalive); }},
    {"send_proxy_protocol",
     [](const Field& f, BackendConfig& c) {
       f.read(c.send_proxy_protocol, kProxyProtocolChoices);
     }},
};

// A section for another balance mode is harmless but likely a mistake.
void warnUnusedSection(const Field& section, std::string_view key, Balance mode,
                       const BackendConfig& backend) {
  if (backend.balance == mode) {
    return;
  }
  if (const auto unused = section.find(key)) {
    unused->warn(fmt::format("not used: balance is not {}", key));
  }
}

void checkTableSize(const Field& section, const BackendConfig& backend) {
  const uint64_t servers = backend.spawn ? backend.spawn->instances : backend.servers.size();
  const bool hash = backend.balance == Balance::Hash;
  const uint32_t size = hash ? backend.hash.table_size : backend.ip_hash.table_size;
  if ((backend.balance != Balance::IpHash && !hash) || size >= kTableSlotsPerServer * servers) {
    return;
  }
  section.warnAt(
      hash ? "hash.table_size" : "ip_hash.table_size",
      fmt::format("{} slots for {} servers spread clients unevenly; use a prime above {}", size,
                  servers, kTableSlotsPerServer * servers));
}

} // namespace

void readBackend(const Field& section, BackendConfig& backend) {
  if (!readSection(section, backend, kBackendKeys)) {
    return;
  }
  section.require("name");
  const auto servers = section.find("servers");
  const bool servers_is_list = !servers || servers->node().IsSequence() || servers->node().IsNull();
  if (backend.servers.empty() && servers_is_list && !section.has("spawn")) {
    section.errorAt("servers", "a backend needs servers or spawn");
  }
  // A spawn backend's servers are its instances (app#0, app#1, ...); static servers beside them
  // would be dropped without a word.
  if (servers && section.has("spawn")) {
    section.errorAt("spawn", "servers and spawn exclude each other: the servers of a spawn "
                             "backend are its instances; put the other servers in a backend of "
                             "their own");
  }
  // A hash key read from the request head takes max_header_size and header_timeout from there.
  if (backend.balance != Balance::Hash || !backend.hash.needsRequestHead()) {
    warnUnusedSection(section, "sticky_cookie", Balance::StickyCookie, backend);
  }
  warnUnusedSection(section, "ip_hash", Balance::IpHash, backend);
  warnUnusedSection(section, "hash", Balance::Hash, backend);
  if (backend.balance == Balance::Hash && !section.has("hash")) {
    section.errorAt("hash", "balance: hash needs hash.key (header:NAME, cookie:NAME, query:NAME, "
                            "path:N, sni or client_ip)");
  }
  checkTableSize(section, backend);
}

} // namespace corral::config

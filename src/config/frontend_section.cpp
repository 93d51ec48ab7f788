#include <fmt/format.h>

#include "config/sections.h"

namespace corral::config {
namespace {

constexpr uint32_t kMaxConnections = 10'000'000;
constexpr uint32_t kMaxRate = 1'000'000; // runtime::ClientTable counts thousandths in 32 bits
constexpr size_t kMaxAlpnLength = 255; // one length byte per protocol name; RFC 7301 §3.1

constexpr std::array<Choice<std::string_view>, 2> kTlsVersions{{
    {"TLSv1.2", "TLSv1.2"},
    {"TLSv1.3", "TLSv1.3"},
}};

constexpr std::array<Choice<Splice>, 3> kSpliceChoices{{
    {"auto", Splice::Auto},
    {"on", Splice::On},
    {"off", Splice::Off},
}};

constexpr KeyRule<CertificateConfig> kCertificateKeys[] = {
    {"cert", [](const Field& f, CertificateConfig& c) { f.readPath(c.cert); }},
    {"key", [](const Field& f, CertificateConfig& c) { f.readPath(c.key); }},
};

void readCertificates(const Field& list, std::vector<CertificateConfig>& out) {
  for (const Field& item : list.items()) {
    readSection(item, out.emplace_back(), kCertificateKeys);
    item.require("cert");
    item.require("key");
  }
  const bool is_list = list.node().IsSequence() || list.node().IsNull(); // else items() said so
  if (out.empty() && is_list) {
    list.error("at least one certificate is required");
  }
}

void readAlpn(const Field& field, std::vector<std::string>& out) {
  if (!field.read(out)) {
    return;
  }
  for (const std::string& protocol : out) {
    if (protocol.size() > kMaxAlpnLength) {
      field.error(fmt::format("ALPN protocol names are at most {} bytes", kMaxAlpnLength));
    }
  }
}

void readMinVersion(const Field& field, std::string& out) {
  std::string_view version;
  if (field.read(version, kTlsVersions)) {
    out = version;
  }
}

constexpr KeyRule<TlsConfig> kTlsKeys[] = {
    {"certificates", [](const Field& f, TlsConfig& c) { readCertificates(f, c.certificates); }},
    {"alpn", [](const Field& f, TlsConfig& c) { readAlpn(f, c.alpn); }},
    {"min_version", [](const Field& f, TlsConfig& c) { readMinVersion(f, c.min_version); }},
};

void readTls(const Field& section, std::optional<TlsConfig>& out) {
  TlsConfig tls;
  if (readSection(section, tls, kTlsKeys)) {
    section.require("certificates");
    out = std::move(tls);
  }
}

// An exact host name, or "*." followed by one: a wildcard stands for the leftmost labels only.
void readSniPattern(const Field& field, std::string& out) {
  std::string pattern;
  if (!field.read(pattern)) {
    return;
  }
  const std::string_view rest = std::string_view(pattern).substr(pattern.starts_with("*.") ? 2 : 0);
  if (rest.empty() || rest.find('*') != std::string_view::npos) {
    field.error(
        fmt::format("\"{}\" is not a server name or a wildcard such as *.example.com", pattern));
    return;
  }
  out = std::move(pattern);
}

constexpr KeyRule<SniRoute> kRouteKeys[] = {
    {"sni", [](const Field& f, SniRoute& c) { readSniPattern(f, c.sni); }},
    {"backend", [](const Field& f, SniRoute& c) { f.read(c.backend); }},
};

void readRoutes(const Field& list, std::vector<SniRoute>& out) {
  for (const Field& item : list.items()) {
    readSection(item, out.emplace_back(), kRouteKeys);
    item.require("sni");
    item.require("backend");
  }
}

constexpr KeyRule<TlsPassthroughConfig> kPassthroughKeys[] = {
    {"routes", [](const Field& f, TlsPassthroughConfig& c) { readRoutes(f, c.routes); }},
    {"default_backend", [](const Field& f, TlsPassthroughConfig& c) { f.read(c.default_backend); }},
};

void readPassthrough(const Field& section, std::optional<TlsPassthroughConfig>& out) {
  TlsPassthroughConfig passthrough;
  if (!readSection(section, passthrough, kPassthroughKeys)) {
    return;
  }
  if (!section.has("routes") && !section.has("default_backend")) {
    section.error("needs routes, default_backend or both: otherwise every client is closed");
  }
  out = std::move(passthrough);
}

// A list of CIDRs, each error at its own item.
void readCidrs(const Field& list, std::vector<Cidr>& out) {
  for (const Field& item : list.items()) {
    std::string text;
    if (!item.read(text)) {
      continue;
    }
    if (auto cidr = Cidr::parse(text)) {
      out.push_back(*cidr);
    } else {
      item.error(cidr.error().message);
    }
  }
}

// The kernel takes keepalive times in whole seconds, at most 32767 (MAX_TCP_KEEPIDLE).
void readKeepaliveTime(const Field& field, Duration& out) {
  Duration value = out;
  if (!field.read(value, 1s)) {
    return;
  }
  if (value % 1s != 0ms || value > 32767s) {
    field.error("must be a whole number of seconds, at most 32767s (the kernel's unit and limit)");
    return;
  }
  out = value;
}

constexpr KeyRule<TcpKeepaliveConfig> kKeepaliveKeys[] = {
    {"idle", [](const Field& f, TcpKeepaliveConfig& c) { readKeepaliveTime(f, c.idle); }},
    {"interval", [](const Field& f, TcpKeepaliveConfig& c) { readKeepaliveTime(f, c.interval); }},
    {"count", [](const Field& f, TcpKeepaliveConfig& c) { f.read(c.count, 1, 127); }},
};

constexpr KeyRule<FrontendConfig> kFrontendKeys[] = {
    {"name", [](const Field& f, FrontendConfig& c) { f.readName(c.name); }},
    {"listen", [](const Field& f, FrontendConfig& c) { f.readListen(c.listen); }},
    {"backend", [](const Field& f, FrontendConfig& c) { f.read(c.backend); }},
    {"tls", [](const Field& f, FrontendConfig& c) { readTls(f, c.tls); }},
    {"tls_passthrough",
     [](const Field& f, FrontendConfig& c) { readPassthrough(f, c.tls_passthrough); }},
    {"accept_proxy_protocol",
     [](const Field& f, FrontendConfig& c) { f.read(c.accept_proxy_protocol); }},
    {"trusted_proxies",
     [](const Field& f, FrontendConfig& c) { readCidrs(f, c.trusted_proxies); }},
    {"allow", [](const Field& f, FrontendConfig& c) { readCidrs(f, c.allow); }},
    {"deny", [](const Field& f, FrontendConfig& c) { readCidrs(f, c.deny); }},
    {"max_connections_per_client",
     [](const Field& f, FrontendConfig& c) {
       f.read(c.max_connections_per_client, 0, kMaxConnections);
     }},
    {"connection_rate_per_client",
     [](const Field& f, FrontendConfig& c) { f.read(c.connection_rate_per_client, 0, kMaxRate); }},
    {"max_connections",
     [](const Field& f, FrontendConfig& c) { f.read(c.max_connections, 1, kMaxConnections); }},
    {"client_timeout", [](const Field& f, FrontendConfig& c) { f.read(c.client_timeout, 1ms); }},
    {"tunnel_timeout", [](const Field& f, FrontendConfig& c) { f.read(c.tunnel_timeout, 1ms); }},
    {"max_lifetime", [](const Field& f, FrontendConfig& c) { f.read(c.max_lifetime, 0ms); }},
    {"tcp_keepalive",
     [](const Field& f, FrontendConfig& c) { readTcpKeepalive(f, c.tcp_keepalive); }},
    {"splice", [](const Field& f, FrontendConfig& c) { f.read(c.splice, kSpliceChoices); }},
    {"drain_timeout", [](const Field& f, FrontendConfig& c) { f.read(c.drain_timeout, 0ms); }},
};

// Where the frontend's clients go: `backend`, or the routes of tls_passthrough.
void checkRouting(const Field& section) {
  const auto passthrough = section.find("tls_passthrough");
  if (!passthrough) {
    section.require("backend");
    return;
  }
  if (section.has("tls")) {
    passthrough->error("tls and tls_passthrough exclude each other: a frontend either "
                       "decrypts or routes encrypted bytes by SNI");
  }
  if (const auto backend = section.find("backend")) {
    backend->warn("not used with tls_passthrough, which routes by tls_passthrough.routes and "
                  "tls_passthrough.default_backend");
  }
}

// Without trusted_proxies anyone who reaches the listener may claim any client address (and so
// pass the ACL and choose an ip_hash server); that is acceptable only on a loopback listener.
void checkProxySenders(const Field& section, const FrontendConfig& frontend) {
  if (!frontend.accept_proxy_protocol) {
    if (section.has("trusted_proxies")) {
      section.warnAt("trusted_proxies", "not used without accept_proxy_protocol: true");
    }
    return;
  }
  const auto listen = SocketAddress::fromHostPort(frontend.listen);
  const auto senders = section.find("trusted_proxies");
  const bool listed = senders && senders->node().size() > 0; // items with errors of their own
  if (frontend.trusted_proxies.empty() && !listed && listen && !listen->isLoopback()) {
    section.errorAt("accept_proxy_protocol",
                    fmt::format("on {}, which is not loopback, needs trusted_proxies: otherwise "
                                "any client may claim any address",
                                listen->toString()));
  }
}

} // namespace

void readTcpKeepalive(const Field& section, std::optional<TcpKeepaliveConfig>& keepalive) {
  TcpKeepaliveConfig value;
  if (readSection(section, value, kKeepaliveKeys)) {
    keepalive = value;
  }
}

void readFrontend(const Field& section, FrontendConfig& frontend) {
  if (!readSection(section, frontend, kFrontendKeys)) {
    return;
  }
  section.require("name");
  section.require("listen");
  checkRouting(section);
  checkProxySenders(section, frontend);
}

} // namespace corral::config

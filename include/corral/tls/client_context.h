#pragma once
// TLS from corral to a backend server (DESIGN.md servers[].tls: {verify, ca_file, sni}), for
// re-encryption after a TLS frontend or for backends that only speak TLS.

#include <memory>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

#include "corral/config/config.h"
#include "corral/core/error.h"

namespace corral::tls {

class ClientContext {
public:
  /// Builds the SSL_CTX: TLS 1.2 or newer; with `verify`, peer verification against `ca_file`, or
  /// the system's trust store when ca_file is empty. An unreadable or empty ca_file is an Error
  /// that names it.
  static Result<std::shared_ptr<ClientContext>> create(const config::ServerTlsConfig& tls);
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  /// A new client-side SSL for a connection to `server_host` (the host of servers[].address),
  /// owned by the caller (BUFFEREVENT_SSL_CONNECTING with BEV_OPT_CLOSE_ON_FREE takes it over).
  /// It sends SNI `sni`, else `server_host` unless that is an IP address (RFC 6066 §3 forbids IP
  /// literals in SNI); with verify, the server's certificate must name the same host (or carry
  /// the IP address). nullptr only when OpenSSL is out of memory. Thread-safe.
  SSL* newSsl(std::string_view server_host) const;

  /// Why the server's certificate was refused ("certificate has expired", "hostname mismatch",
  /// ...), or empty when verification passed or was off. For the log line of a failed connect.
  static std::string verifyFailure(const SSL* ssl);

  SSL_CTX* native() const { return context_; }

private:
  ClientContext(SSL_CTX* context, config::ServerTlsConfig tls);

  SSL_CTX* context_; // owned
  config::ServerTlsConfig tls_;
};

} // namespace corral::tls

#pragma once
// The TLS side of a frontend with `tls:` (DESIGN.md frontends[].tls): certificates chosen by SNI,
// ALPN, a minimum version, Mozilla's "intermediate" ciphers, a session cache and rotating ticket
// keys. Built once per frontend per configuration (again on reload) and shared by all workers.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "corral/config/config.h"
#include "corral/core/error.h"

namespace corral::tls {

struct ServerContextOptions {
  /// Ticket keys are replaced this often; a ticket is honoured for at most twice as long, and a
  /// session (ticket or cache) for at most this long (SSL_CTX_set_timeout).
  std::chrono::seconds ticket_key_interval = std::chrono::hours(12);
  /// Sessions kept for id-based resumption, shared by all threads (OpenSSL's default is 20480;
  /// each costs about 1 KiB). Clients that accept tickets do not use it.
  long session_cache_size = 20480;
};

/// Mozilla Server Side TLS 5.7, "intermediate" configuration: TLS 1.2 ciphers (TLS 1.3 keeps
/// OpenSSL's three suites, which are the same list) and groups.
inline constexpr const char* kIntermediateCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
inline constexpr const char* kIntermediateGroups = "X25519:prime256v1:secp384r1";

class TicketKeyRing;

class ServerContext {
public:
  /// Loads every certificate and key of `tls` and builds the SSL_CTX. Errors (BadConfig/NotFound)
  /// name the file: a missing or unreadable file, no certificate, a key that does not match its
  /// certificate; a min_version other than TLSv1.2 or TLSv1.3.
  static Result<std::shared_ptr<ServerContext>> create(const config::TlsConfig& tls,
                                                       const ServerContextOptions& options = {});
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  /// A new server-side SSL, owned by the caller (bufferevent_openssl_socket_new with
  /// BEV_OPT_CLOSE_ON_FREE takes it over). Thread-safe. The SSL keeps everything it needs alive
  /// (OpenSSL reference counts), so this object may be destroyed, e.g. by a reload, while
  /// handshakes started from it are still running.
  SSL* newSsl() const;

  /// Starts a new ticket key generation now (the schedule does it every ticket_key_interval).
  void rotateTicketKeys();

  /// The names each certificate answers to, in configuration order (index 0 is the default).
  const std::vector<std::vector<std::string>>& certificateNames() const { return names_; }

  /// The default context, for what this class does not wrap (e.g. SSL_CTX_sess_number).
  SSL_CTX* native() const { return default_.get(); }

private:
  struct SslCtxFree {
    void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
  };
  ServerContext(std::unique_ptr<SSL_CTX, SslCtxFree> default_context,
                std::shared_ptr<TicketKeyRing> ticket_keys,
                std::vector<std::vector<std::string>> names);

  std::unique_ptr<SSL_CTX, SslCtxFree> default_;
  std::shared_ptr<TicketKeyRing> ticket_keys_;
  std::vector<std::vector<std::string>> names_;
};

} // namespace corral::tls

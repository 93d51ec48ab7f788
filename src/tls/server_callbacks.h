#pragma once
// The OpenSSL callbacks of a TLS frontend and the state they read. The state hangs off each
// SSL_CTX (ex_data, freed with the SSL_CTX) rather than off ServerContext, because OpenSSL keeps
// an SSL_CTX alive for as long as any SSL made from it: a handshake that outlives a reload still
// finds its ALPN list, ticket keys and certificates.

#include <memory>
#include <string>
#include <vector>

#include "tls/certificate_index.h"
#include "tls/openssl_ptr.h"
#include "tls/ticket_key_ring.h"

namespace corral::tls {

/// Shared by every SSL_CTX of a frontend (one per certificate).
struct ServerPolicy {
  std::string alpn_wire; // the `alpn` list in ALPN wire format (RFC 7301 §3.1); empty: no ALPN
  std::shared_ptr<TicketKeyRing> ticket_keys;
};

/// Held by the default SSL_CTX only. contexts[i] serves certificate i; contexts[0] stays empty,
/// because the default context must not hold a reference to itself.
struct CertificateSelector {
  CertificateIndex index;
  std::vector<SslCtxPtr> contexts;
};

/// Installs the ALPN and session ticket callbacks of `context`, reading `policy`.
void attachPolicy(SSL_CTX* context, std::shared_ptr<const ServerPolicy> policy);

/// Installs the SNI callback on the default context: it moves a handshake to the context of the
/// certificate that `selector` picks for the client's server name.
void attachSelector(SSL_CTX* default_context, std::unique_ptr<CertificateSelector> selector);

/// "h2", "http/1.1" → "\x02h2\x08http/1.1". Names are 1..255 bytes (checked by the loader).
std::string alpnWireFormat(const std::vector<std::string>& protocols);

} // namespace corral::tls

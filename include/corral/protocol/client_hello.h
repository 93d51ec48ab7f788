#pragma once
// The server name (SNI, RFC 6066 §3) and ALPN protocols (RFC 7301 §3.1) of a TLS ClientHello, read
// without decrypting for tls_passthrough routing. The caller relays every byte it read, unchanged.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corral/protocol/parsed.h"

namespace corral::protocol {

struct ClientHello {
  std::optional<std::string> server_name;       // the host_name entry, as sent (no case folding)
  std::optional<std::vector<std::string>> alpn; // present when the client offered ALPN
};

/// A ClientHello larger than this is Bad; real ones are a few hundred bytes, up to a few KiB with
/// post-quantum key shares, and a bound keeps what an unauthenticated client makes us buffer small.
constexpr size_t kMaxClientHelloSize = 16 * 1024;

/// Parses the ClientHello at the start of `bytes`: TLS handshake records (RFC 8446 §5.1), whose
/// handshake message may span several records, holding a ClientHello (§4.1.2) of at most
/// kMaxClientHelloSize bytes. NeedMore while incomplete; Bad when the bytes are not a TLS handshake
/// starting with a well-formed ClientHello (lengths that do not add up, SSLv2, a duplicate
/// extension, an empty or malformed server_name or ALPN list).
Parsed<ClientHello> parseClientHello(std::string_view bytes);

} // namespace corral::protocol

#pragma once
// What a finished or failed TLS handshake tells the access log and the metrics. The reasons are a
// small fixed set, so that they can be Prometheus label values exported at 0 from startup.

#include <array>
#include <span>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

namespace corral::tls {

enum class HandshakeFailure {
  NoSharedCipher,      // no cipher suite, group or signature algorithm in common
  UnsupportedProtocol, // the client offered only versions below min_version (TLS 1.0/1.1 scanners)
  HttpRequest,         // plain HTTP sent to a TLS port
  NotTls,              // other bytes that are not a TLS record
  ClientAlert,         // the client gave up with an alert (unknown CA, bad certificate, ...)
  PeerClosed,          // the connection closed before the handshake finished
  Timeout,             // the caller's handshake timer fired first
  Other,
};

inline constexpr std::array kHandshakeFailures = {
    HandshakeFailure::NoSharedCipher, HandshakeFailure::UnsupportedProtocol,
    HandshakeFailure::HttpRequest,    HandshakeFailure::NotTls,
    HandshakeFailure::ClientAlert,    HandshakeFailure::PeerClosed,
    HandshakeFailure::Timeout,        HandshakeFailure::Other,
};

/// For log lines: "no shared cipher", "unsupported protocol", "http request", "timeout", ...
std::string_view describe(HandshakeFailure failure);

/// For metric labels: "no_shared_cipher", "unsupported_protocol", "http_request", "timeout", ...
std::string_view label(HandshakeFailure failure);

/// The reason behind one OpenSSL error code (ERR_get_error, bufferevent_get_openssl_error).
HandshakeFailure classifyHandshakeError(unsigned long openssl_error);

/// The reason behind the errors a failed handshake left, oldest first: the first one that is not
/// Other. No error at all means the peer closed the connection (PeerClosed).
HandshakeFailure handshakeFailure(std::span<const unsigned long> openssl_errors);

/// Drains this thread's OpenSSL error queue into handshakeFailure(). For blocking SSL_accept();
/// under libevent the bufferevent has already taken the errors (bufferevent_get_openssl_error).
HandshakeFailure handshakeFailureFromQueue();

struct HandshakeInfo {
  std::string version;     // "TLSv1.3"
  std::string cipher;      // "TLS_AES_128_GCM_SHA256"
  std::string server_name; // SNI as the client sent it; empty without SNI (never a metric label)
  std::string alpn;        // the negotiated protocol; empty when none
  bool resumed = false;    // a session ticket or a cached session was used
};

/// Reads the outcome of a completed handshake on `ssl`.
HandshakeInfo handshakeInfo(const SSL* ssl);

} // namespace corral::tls

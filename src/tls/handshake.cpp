#include "corral/tls/handshake.h"

#include <vector>

#include <openssl/err.h>

namespace corral::tls {
namespace {

struct FailureNames {
  std::string_view description;
  std::string_view label;
};

FailureNames names(HandshakeFailure failure) {
  switch (failure) {
  case HandshakeFailure::NoSharedCipher:
    return {"no shared cipher", "no_shared_cipher"};
  case HandshakeFailure::UnsupportedProtocol:
    return {"unsupported protocol", "unsupported_protocol"};
  case HandshakeFailure::HttpRequest:
    return {"http request", "http_request"};
  case HandshakeFailure::NotTls:
    return {"not tls", "not_tls"};
  case HandshakeFailure::ClientAlert:
    return {"client alert", "client_alert"};
  case HandshakeFailure::PeerClosed:
    return {"peer closed", "peer_closed"};
  case HandshakeFailure::Timeout:
    return {"timeout", "timeout"};
  case HandshakeFailure::Other:
    break;
  }
  return {"other", "other"};
}

// Alerts received from the peer are reported as SSL_AD_REASON_OFFSET + the alert number.
HandshakeFailure classifyAlert(int reason) {
  return reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION ? HandshakeFailure::UnsupportedProtocol
                                                      : HandshakeFailure::ClientAlert;
}

} // namespace

std::string_view describe(HandshakeFailure failure) { return names(failure).description; }

std::string_view label(HandshakeFailure failure) { return names(failure).label; }

HandshakeFailure classifyHandshakeError(unsigned long openssl_error) {
  if (ERR_GET_LIB(openssl_error) != ERR_LIB_SSL) {
    return HandshakeFailure::Other;
  }
  const int reason = ERR_GET_REASON(openssl_error);
  switch (reason) {
  case SSL_R_NO_SHARED_CIPHER:
  case SSL_R_NO_SHARED_GROUPS:
  case SSL_R_NO_SUITABLE_KEY_SHARE:
  case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
    return HandshakeFailure::NoSharedCipher;
  case SSL_R_UNSUPPORTED_PROTOCOL:
  case SSL_R_VERSION_TOO_LOW:
    return HandshakeFailure::UnsupportedProtocol;
  case SSL_R_HTTP_REQUEST:
  case SSL_R_HTTPS_PROXY_REQUEST:
    return HandshakeFailure::HttpRequest;
  case SSL_R_WRONG_VERSION_NUMBER:
  case SSL_R_UNKNOWN_PROTOCOL:
  case SSL_R_PACKET_LENGTH_TOO_LONG:
  case SSL_R_RECORD_LENGTH_MISMATCH:
    return HandshakeFailure::NotTls;
  case SSL_R_UNEXPECTED_EOF_WHILE_READING:
    return HandshakeFailure::PeerClosed;
  default:
    return reason >= SSL_AD_REASON_OFFSET ? classifyAlert(reason) : HandshakeFailure::Other;
  }
}

HandshakeFailure handshakeFailure(std::span<const unsigned long> openssl_errors) {
  if (openssl_errors.empty()) {
    return HandshakeFailure::PeerClosed;
  }
  for (const unsigned long error : openssl_errors) {
    if (const HandshakeFailure failure = classifyHandshakeError(error);
        failure != HandshakeFailure::Other) {
      return failure;
    }
  }
  return HandshakeFailure::Other;
}

HandshakeFailure handshakeFailureFromQueue() {
  std::vector<unsigned long> errors;
  while (const unsigned long error = ERR_get_error()) {
    errors.push_back(error);
  }
  return handshakeFailure(errors);
}

HandshakeInfo handshakeInfo(const SSL* ssl) {
  HandshakeInfo info{.version = SSL_get_version(ssl), .resumed = SSL_session_reused(ssl) == 1};
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
    info.cipher = SSL_CIPHER_get_name(cipher);
  }
  if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
    info.server_name = name;
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_length = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_length);
  if (alpn != nullptr) {
    info.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_length);
  }
  return info;
}

} // namespace corral::tls

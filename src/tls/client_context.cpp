#include "corral/tls/client_context.h"

#include <arpa/inet.h>

#include <array>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace corral::tls {
namespace {

bool isIpAddress(const std::string& host) {
  std::array<unsigned char, 16> bytes{};
  return inet_pton(AF_INET, host.c_str(), bytes.data()) == 1 ||
         inet_pton(AF_INET6, host.c_str(), bytes.data()) == 1;
}

Result<void> loadTrust(SSL_CTX* context, const config::ServerTlsConfig& tls) {
  if (tls.ca_file.empty()) {
    SSL_CTX_set_default_verify_paths(context);
    return {};
  }
  if (SSL_CTX_load_verify_locations(context, tls.ca_file.c_str(), nullptr) != 1) {
    ERR_clear_error();
    return fail(ErrorCode::BadConfig,
                fmt::format("{}: cannot read CA certificates (missing file or no PEM "
                            "certificate in it)",
                            tls.ca_file));
  }
  return {};
}

// Sets what the server must prove: the host name for a name, the address for an IP literal.
bool expectPeer(SSL* ssl, const std::string& host) {
  if (isIpAddress(host)) {
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  }
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set1_host(ssl, host.c_str()) == 1;
}

} // namespace

Result<std::shared_ptr<ClientContext>> ClientContext::create(const config::ServerTlsConfig& tls) {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  if (context == nullptr) {
    return fail(ErrorCode::BadConfig, "SSL_CTX_new failed");
  }
  std::shared_ptr<ClientContext> client(new ClientContext(context, tls));
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  SSL_CTX_set_options(context, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                   SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_verify(context, tls.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (tls.verify) {
    if (auto trusted = loadTrust(context, tls); !trusted) {
      return std::unexpected(trusted.error());
    }
  }
  return client;
}

ClientContext::ClientContext(SSL_CTX* context, config::ServerTlsConfig tls)
    : context_(context), tls_(std::move(tls)) {}

ClientContext::~ClientContext() { SSL_CTX_free(context_); }

SSL* ClientContext::newSsl(std::string_view server_host) const {
  SSL* ssl = SSL_new(context_);
  if (ssl == nullptr) {
    return nullptr;
  }
  const std::string name = tls_.sni.empty() ? std::string(server_host) : tls_.sni;
  const bool named = isIpAddress(name) || SSL_set_tlsext_host_name(ssl, name.c_str()) == 1;
  if (!named || (tls_.verify && !expectPeer(ssl, name))) {
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  return ssl;
}

std::string ClientContext::verifyFailure(const SSL* ssl) {
  if (SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE) {
    return {}; // OpenSSL still records a result, which nobody asked for
  }
  const long result = SSL_get_verify_result(ssl);
  return result == X509_V_OK ? std::string() : X509_verify_cert_error_string(result);
}

} // namespace corral::tls

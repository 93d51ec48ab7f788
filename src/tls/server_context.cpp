#include "corral/tls/server_context.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <openssl/err.h>

#include "tls/certificate_file.h"
#include "tls/server_callbacks.h"
#include "tls/tls_version.h"

namespace corral::tls {
namespace {

// Resumed sessions must come from the same frontend configuration; OpenSSL compares this id.
constexpr std::string_view kSessionIdContext = "corral";
constexpr size_t kMaxAlpnName = 255; // one length byte; RFC 7301 §3.1

Error openSslError(std::string_view what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return Error{.code = ErrorCode::BadConfig, .message = fmt::format("{}: {}", what, text.data())};
}

// Mozilla "intermediate": no server cipher preference (every offered suite is strong, and the
// client knows best whether it has AES hardware); compression off (CRIME); no renegotiation.
Result<void> applySecureDefaults(SSL_CTX* context, int min_version) {
  SSL_CTX_set_min_proto_version(context, min_version);
  SSL_CTX_set_max_proto_version(context, 0); // the highest this OpenSSL knows
  if (SSL_CTX_set_cipher_list(context, kIntermediateCiphers) != 1) {
    return std::unexpected(openSslError("cipher list"));
  }
  if (SSL_CTX_set1_groups_list(context, kIntermediateGroups) != 1) {
    return std::unexpected(openSslError("groups"));
  }
  SSL_CTX_set_dh_auto(context, 1); // DHE-RSA suites use RFC 7919 groups sized to the key
  SSL_CTX_clear_options(context, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET |
                                     SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
  // A client that closes TCP without close_notify is an ordinary EOF to a layer-4 relay: the
  // backend's own framing catches truncation, as it would without TLS.
  SSL_CTX_set_options(context, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                   SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS); // idle connections hold no 34 KiB buffers
  return {};
}

void enableResumption(SSL_CTX* context, const ServerContextOptions& options) {
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_SERVER);
  SSL_CTX_sess_set_cache_size(context, options.session_cache_size);
  SSL_CTX_set_timeout(context, static_cast<long>(options.ticket_key_interval.count()));
  SSL_CTX_set_session_id_context(context,
                                 reinterpret_cast<const unsigned char*>(kSessionIdContext.data()),
                                 kSessionIdContext.size());
}

Result<void> useCertificate(SSL_CTX* context, const CertificateFile& file) {
  if (SSL_CTX_use_certificate(context, file.leaf.get()) != 1 ||
      SSL_CTX_use_PrivateKey(context, file.key.get()) != 1) {
    return std::unexpected(openSslError("certificate"));
  }
  for (const X509Ptr& intermediate : file.chain) { // for the certificate just set
    if (SSL_CTX_add1_chain_cert(context, intermediate.get()) != 1) {
      return std::unexpected(openSslError("certificate chain"));
    }
  }
  return {};
}

bool sameNames(const CertificateFile& a, const CertificateFile& b) {
  return std::set(a.names.begin(), a.names.end()) == std::set(b.names.begin(), b.names.end());
}

// Certificate `index`, plus any later one with the same names and another key type: OpenSSL then
// serves ECDSA to clients that support it and RSA to the others (a dual-certificate setup).
Result<void> useCertificates(SSL_CTX* context, const std::vector<CertificateFile>& files,
                             size_t index) {
  std::set<int> key_types;
  for (size_t i = index; i < files.size(); ++i) {
    const int key_type = EVP_PKEY_get_base_id(files[i].key.get());
    if (i == index || (sameNames(files[i], files[index]) && !key_types.contains(key_type))) {
      key_types.insert(key_type);
      if (auto used = useCertificate(context, files[i]); !used) {
        return used;
      }
    }
  }
  return {};
}

Result<SslCtxPtr> makeContext(int min_version, const ServerContextOptions& options) {
  SslCtxPtr context(SSL_CTX_new(TLS_server_method()));
  if (!context) {
    return std::unexpected(openSslError("SSL_CTX_new"));
  }
  if (auto secured = applySecureDefaults(context.get(), min_version); !secured) {
    return std::unexpected(secured.error());
  }
  enableResumption(context.get(), options);
  return context;
}

Result<std::vector<CertificateFile>> loadAll(const config::TlsConfig& tls) {
  if (tls.certificates.empty()) {
    return fail(ErrorCode::BadConfig, "tls: at least one certificate is required");
  }
  std::vector<CertificateFile> files;
  for (const config::CertificateConfig& entry : tls.certificates) {
    auto file = loadCertificateFile(entry);
    if (!file) {
      return std::unexpected(file.error());
    }
    files.push_back(std::move(*file));
  }
  return files;
}

Result<std::string> alpnWire(const std::vector<std::string>& protocols) {
  for (const std::string& protocol : protocols) {
    if (protocol.empty() || protocol.size() > kMaxAlpnName) {
      return fail(ErrorCode::BadConfig,
                  fmt::format("alpn: \"{}\" is not 1 to {} bytes long", protocol, kMaxAlpnName));
    }
  }
  return alpnWireFormat(protocols);
}

// One SSL_CTX per certificate, all with the same settings and callbacks: the SNI callback moves
// a handshake from the default context to another, and OpenSSL then reads some callbacks (ALPN)
// from the new one.
Result<std::vector<SslCtxPtr>> makeContexts(const std::vector<CertificateFile>& files,
                                            int min_version, const ServerContextOptions& options,
                                            const std::shared_ptr<const ServerPolicy>& policy) {
  std::vector<SslCtxPtr> contexts;
  for (size_t i = 0; i < files.size(); ++i) {
    auto context = makeContext(min_version, options);
    if (!context) {
      return std::unexpected(context.error());
    }
    if (auto used = useCertificates(context->get(), files, i); !used) {
      return std::unexpected(used.error());
    }
    attachPolicy(context->get(), policy);
    contexts.push_back(std::move(*context));
  }
  return contexts;
}

} // namespace

Result<std::shared_ptr<ServerContext>> ServerContext::create(const config::TlsConfig& tls,
                                                             const ServerContextOptions& options) {
  const auto min_version = parseMinVersion(tls.min_version);
  if (!min_version) {
    return std::unexpected(min_version.error());
  }
  auto wire = alpnWire(tls.alpn);
  if (!wire) {
    return std::unexpected(wire.error());
  }
  const auto files = loadAll(tls);
  if (!files) {
    return std::unexpected(files.error());
  }
  auto policy = std::make_shared<const ServerPolicy>(ServerPolicy{
      .alpn_wire = std::move(*wire),
      .ticket_keys = std::make_shared<TicketKeyRing>(options.ticket_key_interval)});
  auto contexts = makeContexts(*files, *min_version, options, policy);
  if (!contexts) {
    return std::unexpected(contexts.error());
  }
  std::vector<std::vector<std::string>> names;
  for (const CertificateFile& file : *files) {
    names.push_back(file.names);
  }
  std::unique_ptr<SSL_CTX, SslCtxFree> default_context(contexts->front().release());
  attachSelector(default_context.get(),
                 std::make_unique<CertificateSelector>(CertificateSelector{
                     .index = CertificateIndex(names), .contexts = std::move(*contexts)}));
  return std::shared_ptr<ServerContext>(
      new ServerContext(std::move(default_context), policy->ticket_keys, std::move(names)));
}

ServerContext::ServerContext(std::unique_ptr<SSL_CTX, SslCtxFree> default_context,
                             std::shared_ptr<TicketKeyRing> ticket_keys,
                             std::vector<std::vector<std::string>> names)
    : default_(std::move(default_context)), ticket_keys_(std::move(ticket_keys)),
      names_(std::move(names)) {}

ServerContext::~ServerContext() = default;

SSL* ServerContext::newSsl() const { return SSL_new(default_.get()); }

void ServerContext::rotateTicketKeys() { ticket_keys_->rotate(); }

} // namespace corral::tls

#include "tls/server_callbacks.h"

#include <algorithm>

#include <openssl/core_names.h>
#include <openssl/rand.h>

namespace corral::tls {
namespace {

using PolicyPtr = std::shared_ptr<const ServerPolicy>;

template <class T>
void deleteExData(void* /*parent*/, void* data, CRYPTO_EX_DATA* /*ad*/, int /*index*/,
                  long /*argl*/, void* /*argp*/) {
  delete static_cast<T*>(data);
}

int policyIndex() {
  static const int index =
      SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, &deleteExData<PolicyPtr>);
  return index;
}

int selectorIndex() {
  static const int index =
      SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, &deleteExData<CertificateSelector>);
  return index;
}

const ServerPolicy& policyOf(SSL* ssl) {
  return **static_cast<PolicyPtr*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), policyIndex()));
}

// The client's list is `in`; the first of our protocols that it offers wins (server preference,
// RFC 7301 §3.2). No overlap continues without ALPN rather than failing, as HAProxy does: an L4
// balancer should not break clients that the backend might still serve.
int onAlpn(SSL* ssl, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
           unsigned int in_length, void* /*arg*/) noexcept {
  const std::string& ours = policyOf(ssl).alpn_wire;
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_length,
                            reinterpret_cast<const unsigned char*>(ours.data()),
                            static_cast<unsigned int>(ours.size()), in,
                            in_length) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// EVP_aes_256_cbc() names a cipher that OpenSSL 3 looks up in its provider store (locks, string
// compares) on every init; fetched once here, sealing a ticket skips that lookup.
const EVP_CIPHER* ticketCipher() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  return cipher;
}

bool initTicketCrypto(const TicketKey& key, const unsigned char* iv, EVP_CIPHER_CTX* cipher,
                      EVP_MAC_CTX* mac, bool encrypt) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                        const_cast<unsigned char*>(key.hmac_key.data()),
                                        key.hmac_key.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end(),
  };
  const int cipher_ok = EVP_CipherInit_ex(cipher, ticketCipher(), nullptr, key.aes_key.data(),
                                          iv, encrypt ? 1 : 0);
  return cipher_ok == 1 && EVP_MAC_CTX_set_params(mac, params) == 1;
}

// RFC 5077 §4: AES-256-CBC with HMAC-SHA256, keyed by the name in the ticket. Returns, as OpenSSL
// wants: 1 done; 2 done, and issue a fresh ticket; 0 no such key (full handshake); -1 error.
// A fresh ticket follows a ticket sealed with the previous key, and every TLS 1.3 resumption:
// TLS 1.3 clients use a ticket once (RFC 8446 §C.4, OpenSSL's client does), and OpenSSL's server
// sends none after a resumption unless told to, so without it every second connection of a client
// was a full handshake (as NGINX's ticket callback, renew for TLS 1.3).
int onTicketKey(SSL* ssl, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) noexcept {
  const auto keys = policyOf(ssl).ticket_keys->keysAt(TicketKeyRing::Clock::now());
  if (encrypt == 1) {
    std::copy(keys->current.name.begin(), keys->current.name.end(), key_name);
    const bool ok = RAND_bytes(iv, EVP_CIPHER_get_iv_length(ticketCipher())) == 1 &&
                    initTicketCrypto(keys->current, iv, cipher, mac, true);
    return ok ? 1 : -1;
  }
  const TicketKey* key = keys->find(key_name);
  if (key == nullptr) {
    return 0;
  }
  if (!initTicketCrypto(*key, iv, cipher, mac, false)) {
    return -1;
  }
  return key == &keys->current && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
}

// Runs for every ClientHello, before the certificate is chosen. A name no certificate covers keeps
// the default certificate, as HAProxy and NGINX do; the client's own check then decides.
int onServerName(SSL* ssl, int* /*alert*/, void* /*arg*/) noexcept {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  const auto* selector = static_cast<const CertificateSelector*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), selectorIndex()));
  if (const size_t index = selector->index.select(name); index != 0) {
    SSL_set_SSL_CTX(ssl, selector->contexts[index].get());
  }
  return SSL_TLSEXT_ERR_OK;
}

} // namespace

void attachPolicy(SSL_CTX* context, std::shared_ptr<const ServerPolicy> policy) {
  const bool has_alpn = !policy->alpn_wire.empty();
  SSL_CTX_set_ex_data(context, policyIndex(), new PolicyPtr(std::move(policy)));
  SSL_CTX_set_tlsext_ticket_key_evp_cb(context, &onTicketKey);
  if (has_alpn) {
    SSL_CTX_set_alpn_select_cb(context, &onAlpn, nullptr);
  }
}

void attachSelector(SSL_CTX* default_context, std::unique_ptr<CertificateSelector> selector) {
  SSL_CTX_set_ex_data(default_context, selectorIndex(), selector.release());
  SSL_CTX_set_tlsext_servername_callback(default_context, &onServerName);
}

std::string alpnWireFormat(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const std::string& protocol : protocols) {
    wire.push_back(static_cast<char>(protocol.size()));
    wire += protocol;
  }
  return wire;
}

} // namespace corral::tls

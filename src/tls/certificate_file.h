#pragma once
// A certificate entry of a TLS frontend (`{cert, key}`) read from its PEM files: the leaf, the
// chain that follows it in the same file, the private key, and the names SNI can select it by.

#include <string>
#include <vector>

#include "corral/config/config.h"
#include "corral/core/error.h"
#include "tls/openssl_ptr.h"

namespace corral::tls {

struct CertificateFile {
  X509Ptr leaf;
  std::vector<X509Ptr> chain; // intermediates after the leaf, in file order
  EvpPkeyPtr key;
  std::vector<std::string> names; // lower case; see certificateNames()
};

/// Reads `entry.cert` (leaf first, then its chain) and `entry.key`, and checks that the key belongs
/// to the leaf. Errors name the file: "certs/site.key: private key does not match certs/site.pem".
Result<CertificateFile> loadCertificateFile(const config::CertificateConfig& entry);

/// The DNS names of the subjectAltName extension, lower case; the subject CN only when the
/// certificate has no DNS name at all, as RFC 6125 §6.4.4 allows for legacy certificates.
std::vector<std::string> certificateNames(X509* certificate);

/// "RSA", "ECDSA", "Ed25519", ...: names a key type in messages.
std::string keyTypeName(const EVP_PKEY* key);

} // namespace corral::tls

#include "tests/certs/test_certificates.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

namespace corral::test {
namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    throw std::runtime_error(std::string("test certificates: ") + what + " failed");
  }
}

EVP_PKEY* makeKey(KeyType type) {
  EVP_PKEY* key = type == KeyType::Rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                                       : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  check(key != nullptr, "key generation");
  return key;
}

void addExtension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  check(extension != nullptr && X509_add_ext(certificate, extension, -1) == 1, "extension");
  X509_EXTENSION_free(extension);
}

// A v3 certificate for `key`, named `common_name`, valid over [from, until] relative to now.
X509* makeCertificate(EVP_PKEY* key, const std::string& common_name, std::chrono::seconds from,
                      std::chrono::seconds until) {
  X509* certificate = X509_new();
  X509_set_version(certificate, 2);
  unsigned char serial[8];
  check(RAND_bytes(serial, sizeof serial) == 1, "serial");
  serial[0] &= 0x7f; // positive
  BIGNUM* number = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate));
  BN_free(number);
  X509_gmtime_adj(X509_getm_notBefore(certificate), static_cast<long>(from.count()));
  X509_gmtime_adj(X509_getm_notAfter(certificate), static_cast<long>(until.count()));
  X509_NAME* subject = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_pubkey(certificate, key);
  return certificate;
}

void writePem(const std::string& path, const std::vector<X509*>& certificates, EVP_PKEY* key) {
  BIO* bio = BIO_new_file(path.c_str(), "w");
  check(bio != nullptr, "open for writing");
  for (X509* certificate : certificates) {
    PEM_write_bio_X509(bio, certificate);
  }
  if (key != nullptr) {
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  }
  BIO_free(bio);
}

} // namespace

struct TestCertificates::Ca {
  EVP_PKEY* key = nullptr;
  X509* certificate = nullptr;
  ~Ca() {
    X509_free(certificate);
    EVP_PKEY_free(key);
  }
};

TestCertificates::TestCertificates() : ca_(new Ca) {
  std::string pattern = (std::filesystem::temp_directory_path() / "corral-tls-XXXXXX").string();
  check(mkdtemp(pattern.data()) != nullptr, "mkdtemp");
  folder_ = pattern;
  ca_->key = makeKey(KeyType::Ecdsa);
  ca_->certificate = makeCertificate(ca_->key, "corral test CA", std::chrono::hours(-24),
                                     std::chrono::hours(24 * 30));
  X509_set_issuer_name(ca_->certificate, X509_get_subject_name(ca_->certificate));
  addExtension(ca_->certificate, ca_->certificate, NID_basic_constraints, "critical,CA:TRUE");
  addExtension(ca_->certificate, ca_->certificate, NID_key_usage, "critical,keyCertSign,cRLSign");
  addExtension(ca_->certificate, ca_->certificate, NID_subject_key_identifier, "hash");
  check(X509_sign(ca_->certificate, ca_->key, EVP_sha256()) > 0, "CA signature");
  ca_file_ = folder_ + "/ca.pem";
  writePem(ca_file_, {ca_->certificate}, nullptr);
}

TestCertificates::~TestCertificates() {
  delete ca_;
  std::error_code ignored;
  std::filesystem::remove_all(folder_, ignored);
}

config::CertificateConfig TestCertificates::issue(const CertificateSpec& spec) {
  EVP_PKEY* key = makeKey(spec.key_type);
  X509* certificate =
      makeCertificate(key, spec.common_name, spec.valid_from, spec.valid_until);
  X509_set_issuer_name(certificate, X509_get_subject_name(ca_->certificate));
  addExtension(certificate, ca_->certificate, NID_basic_constraints, "critical,CA:FALSE");
  addExtension(certificate, ca_->certificate, NID_ext_key_usage, "serverAuth");
  addExtension(certificate, ca_->certificate, NID_authority_key_identifier, "keyid");
  std::string alt_names;
  for (const std::string& name : spec.dns_names) {
    alt_names += (alt_names.empty() ? "DNS:" : ",DNS:") + name;
  }
  if (!alt_names.empty()) {
    addExtension(certificate, ca_->certificate, NID_subject_alt_name, alt_names);
  }
  check(X509_sign(certificate, ca_->key, EVP_sha256()) > 0, "signature");
  const config::CertificateConfig paths{.cert = folder_ + "/" + spec.file_stem + ".pem",
                                        .key = folder_ + "/" + spec.file_stem + ".key"};
  writePem(paths.cert, {certificate, ca_->certificate}, nullptr);
  writePem(paths.key, {}, key);
  X509_free(certificate);
  EVP_PKEY_free(key);
  return paths;
}

std::string TestCertificates::writeFile(const std::string& name, const std::string& text) const {
  const std::string path = folder_ + "/" + name;
  std::ofstream(path) << text;
  return path;
}

} // namespace corral::test

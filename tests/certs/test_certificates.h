#pragma once
// Certificates made at test time with the OpenSSL API, so that no private key is committed and
// none ever expires in the repository: a test CA and leaf certificates it signs, written as PEM
// files into a temporary folder that is removed with the object.

#include <chrono>
#include <string>
#include <vector>

#include "corral/config/config.h"

namespace corral::test {

enum class KeyType { Rsa, Ecdsa };

struct CertificateSpec {
  std::string file_stem;              // "a-rsa" → a-rsa.pem (leaf then CA) and a-rsa.key
  std::vector<std::string> dns_names; // subjectAltName; empty: none, only the CN
  std::string common_name;
  KeyType key_type = KeyType::Ecdsa;
  std::chrono::seconds valid_from = std::chrono::hours(-1); // relative to now
  std::chrono::seconds valid_until = std::chrono::hours(24);
};

class TestCertificates {
public:
  TestCertificates(); // makes the folder and the CA ("corral test CA", ECDSA P-256)
  ~TestCertificates();
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;

  /// Makes a key and a certificate signed by the CA; returns the {cert, key} paths.
  config::CertificateConfig issue(const CertificateSpec& spec);

  /// Writes `text` into a file of the folder; returns its path.
  std::string writeFile(const std::string& name, const std::string& text) const;

  const std::string& caFile() const { return ca_file_; }
  const std::string& folder() const { return folder_; }

private:
  struct Ca;
  std::string folder_;
  std::string ca_file_;
  Ca* ca_; // owned; OpenSSL types stay out of this header
};

} // namespace corral::test

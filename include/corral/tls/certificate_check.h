#pragma once
// What `corral check` says about the certificates and keys of a configuration, before anything
// listens: errors stop a start, warnings do not (a certificate that expired is still served, as
// HAProxy and NGINX do, so that a late renewal does not take the site down).

#include <chrono>
#include <string>
#include <vector>

#include "corral/config/config.h"

namespace corral::tls {

struct CertificateDiagnostics {
  std::vector<std::string> errors;   // "certs/site.key: private key does not match certs/site.pem"
  std::vector<std::string> warnings; // "certs/site.pem: certificate expired on 2024-01-31 ..."

  bool ok() const { return errors.empty(); }
};

/// Checks every certificate of a frontend's `tls`: the files exist and hold a PEM certificate and
/// an unencrypted key that matches it (errors); the certificate is valid at `now` (warnings when
/// expired or not yet valid); min_version is allowed (error). Each message names its file.
CertificateDiagnostics checkCertificates(
    const config::TlsConfig& tls,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

/// Checks servers[].tls: a ca_file, when given, must hold at least one PEM certificate.
CertificateDiagnostics checkServerTls(const config::ServerTlsConfig& tls);

} // namespace corral::tls

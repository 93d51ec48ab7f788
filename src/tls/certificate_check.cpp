#include "corral/tls/certificate_check.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <openssl/err.h>

#include "tls/certificate_file.h"
#include "tls/tls_version.h"

namespace corral::tls {
namespace {

using SystemClock = std::chrono::system_clock;

SystemClock::time_point toTimePoint(const ASN1_TIME* time) {
  tm parts{};
  ASN1_TIME_to_tm(time, &parts);
  return SystemClock::from_time_t(timegm(&parts));
}

// A certificate outside its validity still loads; clients will refuse it, so say so loudly.
void checkValidity(const std::string& path, X509* leaf, SystemClock::time_point now,
                   CertificateDiagnostics& out) {
  const auto not_before = toTimePoint(X509_get0_notBefore(leaf));
  const auto not_after = toTimePoint(X509_get0_notAfter(leaf));
  const auto seconds = [](SystemClock::time_point t) {
    return std::chrono::floor<std::chrono::seconds>(t);
  };
  if (now > not_after) {
    out.warnings.push_back(fmt::format("{}: certificate expired on {:%Y-%m-%d %H:%M:%S} UTC; "
                                       "clients will refuse it",
                                       path, seconds(not_after)));
  } else if (now < not_before) {
    out.warnings.push_back(fmt::format("{}: certificate is not valid before {:%Y-%m-%d %H:%M:%S} "
                                       "UTC; clients will refuse it until then",
                                       path, seconds(not_before)));
  }
}

} // namespace

CertificateDiagnostics checkCertificates(const config::TlsConfig& tls,
                                         SystemClock::time_point now) {
  CertificateDiagnostics out;
  if (auto version = parseMinVersion(tls.min_version); !version) {
    out.errors.push_back(version.error().message);
  }
  if (tls.certificates.empty()) {
    out.errors.emplace_back("tls: at least one certificate is required");
  }
  for (const config::CertificateConfig& entry : tls.certificates) {
    auto file = loadCertificateFile(entry);
    if (!file) {
      out.errors.push_back(file.error().message);
      continue;
    }
    if (file->names.empty()) {
      out.warnings.push_back(fmt::format("{}: certificate names no host (no DNS subjectAltName "
                                         "and no CN); it can only be the default",
                                         entry.cert));
    }
    checkValidity(entry.cert, file->leaf.get(), now, out);
  }
  return out;
}

CertificateDiagnostics checkServerTls(const config::ServerTlsConfig& tls) {
  CertificateDiagnostics out;
  if (tls.ca_file.empty()) {
    return out;
  }
  X509_STORE* store = X509_STORE_new();
  if (X509_STORE_load_file(store, tls.ca_file.c_str()) != 1) {
    out.errors.push_back(fmt::format("{}: cannot read CA certificates (missing file or no PEM "
                                     "certificate in it)",
                                     tls.ca_file));
  }
  ERR_clear_error();
  X509_STORE_free(store);
  return out;
}

} // namespace corral::tls

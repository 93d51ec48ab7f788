#include "tls/certificate_file.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <system_error>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>

namespace corral::tls {
namespace {

std::string lowerCase(std::string text) {
  std::ranges::transform(text, text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

Result<BioPtr> openFile(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    const int error = errno; // BIO_new_file leaves fopen's errno
    ERR_clear_error();
    return fail(ErrorCode::NotFound,
                fmt::format("{}: cannot open: {}", path, std::generic_category().message(error)));
  }
  return bio;
}

Result<void> readChain(const std::string& path, CertificateFile& out) {
  auto bio = openFile(path);
  if (!bio) {
    return std::unexpected(bio.error());
  }
  out.leaf.reset(PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr));
  if (!out.leaf) {
    ERR_clear_error();
    return fail(ErrorCode::BadConfig, fmt::format("{}: no PEM certificate in the file", path));
  }
  while (X509* next = PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr)) {
    out.chain.emplace_back(next);
  }
  ERR_clear_error(); // the loop ends on "no start line", which is not an error
  return {};
}

Result<void> readKey(const config::CertificateConfig& entry, CertificateFile& out) {
  auto bio = openFile(entry.key);
  if (!bio) {
    return std::unexpected(bio.error());
  }
  out.key.reset(PEM_read_bio_PrivateKey(bio->get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!out.key) {
    return fail(ErrorCode::BadConfig,
                fmt::format("{}: no unencrypted PEM private key in the file", entry.key));
  }
  if (X509_check_private_key(out.leaf.get(), out.key.get()) != 1) {
    ERR_clear_error();
    return fail(ErrorCode::BadConfig, fmt::format("{}: private key does not match the certificate "
                                                  "in {}",
                                                  entry.key, entry.cert));
  }
  return {};
}

std::string commonName(X509* certificate) {
  const X509_NAME* subject = X509_get_subject_name(certificate);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) {
    return {};
  }
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<size_t>(ASN1_STRING_length(value)));
}

} // namespace

Result<CertificateFile> loadCertificateFile(const config::CertificateConfig& entry) {
  CertificateFile out;
  if (auto chain = readChain(entry.cert, out); !chain) {
    return std::unexpected(chain.error());
  }
  if (auto key = readKey(entry, out); !key) {
    return std::unexpected(key.error());
  }
  out.names = certificateNames(out.leaf.get());
  return out;
}

std::vector<std::string> certificateNames(X509* certificate) {
  std::vector<std::string> names;
  GeneralNamesPtr alt_names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; alt_names && i < sk_GENERAL_NAME_num(alt_names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(alt_names.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      names.push_back(lowerCase(std::string(reinterpret_cast<const char*>(dns->data),
                                            static_cast<size_t>(dns->length))));
    }
  }
  if (names.empty()) {
    if (std::string cn = commonName(certificate); !cn.empty()) {
      names.push_back(lowerCase(std::move(cn)));
    }
  }
  return names;
}

std::string keyTypeName(const EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
  case EVP_PKEY_RSA:
  case EVP_PKEY_RSA_PSS:
    return "RSA";
  case EVP_PKEY_EC:
    return "ECDSA";
  case EVP_PKEY_ED25519:
    return "Ed25519";
  case EVP_PKEY_ED448:
    return "Ed448";
  default:
    return "other";
  }
}

} // namespace corral::tls

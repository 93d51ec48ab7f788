#include "tls/certificate_index.h"

#include <algorithm>
#include <cctype>

namespace corral::tls {
namespace {

std::string normalized(std::string_view name) {
  if (name.ends_with('.')) {
    name.remove_suffix(1);
  }
  std::string out(name);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

} // namespace

CertificateIndex::CertificateIndex(const std::vector<std::vector<std::string>>& names_per_certificate) {
  for (size_t index = 0; index < names_per_certificate.size(); ++index) {
    for (const std::string& name : names_per_certificate[index]) {
      std::string key = normalized(name);
      if (key.starts_with("*.")) {
        wildcard_.try_emplace(key.substr(2), index); // try_emplace: the first certificate wins
      } else if (key.find('*') == std::string::npos) { // partial wildcards ("w*.x") never match
        exact_.try_emplace(std::move(key), index);
      }
    }
  }
}

size_t CertificateIndex::select(std::string_view server_name) const {
  const std::string name = normalized(server_name);
  if (const auto exact = exact_.find(name); exact != exact_.end()) {
    return exact->second;
  }
  const size_t dot = name.find('.');
  if (dot != std::string::npos && dot > 0) {
    if (const auto wildcard = wildcard_.find(name.substr(dot + 1)); wildcard != wildcard_.end()) {
      return wildcard->second;
    }
  }
  return 0;
}

} // namespace corral::tls

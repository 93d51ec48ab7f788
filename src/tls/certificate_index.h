#pragma once
// Which certificate of a frontend answers a ClientHello's server name (SNI, RFC 6066 §3). Pure:
// built once from the names of each certificate, then read by every worker thread without a lock.

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace corral::tls {

class CertificateIndex {
public:
  /// `names_per_certificate[i]` holds the names of certificate i: host names, or wildcards such as
  /// "*.example.com". Certificate 0 is the default.
  explicit CertificateIndex(const std::vector<std::vector<std::string>>& names_per_certificate);

  /// The certificate for `server_name`, compared without case and without a trailing dot: the
  /// first certificate naming it exactly; else the first with a wildcard for its parent domain
  /// ("*.example.com" stands for exactly one leftmost label, RFC 6125 §6.4.3); else the default 0.
  size_t select(std::string_view server_name) const;

private:
  std::unordered_map<std::string, size_t> exact_;
  std::unordered_map<std::string, size_t> wildcard_; // by the domain after "*."
};

} // namespace corral::tls

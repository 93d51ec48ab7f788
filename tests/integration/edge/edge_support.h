#pragma once
// Clients and probes for the edge tests: a blocking TLS client (OpenSSL, verifying against the
// test CA), a plain client that connects from a chosen 127.0.0.x address, and metric readers.
// Every socket has send and receive timeouts, so a test that goes wrong fails instead of hanging.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "tests/certs/test_certificates.h"
#include "tests/support/byte_pattern.h"
#include "tests/support/child_process.h"
#include "tests/support/corral_process.h"
#include "tests/support/http_client.h"
#include "tests/support/tcp_client.h"

namespace corral::test {

using namespace std::chrono_literals;

/// Certificates made once per test binary by the test CA: "a" for a.example.com (CN edge-a), "b"
/// for b.example.com and *.b.example.com (CN edge-b), "backend" for backend.internal (CN
/// edge-backend). Valid for a year, so that scanners do not flag an imminent expiry.
struct EdgeCertificates {
  EdgeCertificates();
  TestCertificates folder;
  config::CertificateConfig a;
  config::CertificateConfig b;
  config::CertificateConfig backend;
};
const EdgeCertificates& edgeCertificates();
const std::string& caFile();

/// {a_cert, a_key, b_cert, b_key, backend_cert, backend_key, ca} for configuration templates.
Substitutions certificateSubstitutions();

/// `openssl s_client` to `address` with SNI `server_name`, verifying against the test CA, sending
/// `request` and waiting for the server to close (-ign_eof). Against a name-then-close server send
/// nothing: a server that closes with unread bytes resets the connection, and what it sent may be
/// lost on the way (corral closes a session at once on a server error).
CommandResult sClient(const std::string& address, const std::string& server_name,
                      const std::vector<std::string>& extra, const std::string& request = "");

/// `curl -sS --cacert CA https://NAME:PORT/` with NAME resolved to 127.0.0.1.
CommandResult curl(const std::string& server_name, const std::string& port,
                   const std::vector<std::string>& extra);

/// A TCP connection from `source_ip` (any 127.0.0.x works on Linux) to "127.0.0.1:PORT", with
/// send and receive timeouts of `timeout` each. -1 when it fails.
int connectFrom(const std::string& source_ip, const std::string& address,
                std::chrono::milliseconds timeout = 5s);

/// Sends `request` from `source_ip`, half-closes, and returns everything until the peer closes.
std::string exchangeFrom(const std::string& source_ip, const std::string& address,
                         std::string_view request);

class TlsClient {
public:
  /// Connects and completes a handshake with SNI `server_name`, verifying the certificate chain
  /// against `ca_file` and the name. ok() tells whether it worked; error() why not.
  TlsClient(const std::string& address, const std::string& server_name, const std::string& ca_file,
            std::chrono::milliseconds timeout = 10s);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool ok() const { return ssl_ != nullptr && error_.empty(); }
  const std::string& error() const { return error_; }
  /// The subject CN of the server's certificate.
  std::string peerCommonName() const;

  bool writeAll(std::string_view data);
  /// Writes the first `size` bytes of PatternStream(seed).
  bool writePattern(uint64_t seed, uint64_t size);
  /// Sends close_notify and a TCP FIN: a half-close that the relay must pass on.
  void shutdownWrite();
  /// Everything until the peer closes (close_notify or FIN), or the timeout.
  std::string readAll();
  /// Like readAll(), folded into a digest; stops after `limit` bytes.
  Digest readDigest(uint64_t limit = UINT64_MAX);
  /// Closes with SO_LINGER 0: the peer gets a reset, no close_notify.
  void resetAbruptly();

private:
  int fd_ = -1;
  void* context_ = nullptr; // SSL_CTX
  void* ssl_ = nullptr;     // SSL
  std::string error_;
};

/// The value of the sample of `name` whose labels include all of `labels`, summed over the
/// matching samples; -1 when none matches.
double metricValue(const std::string& exposition, std::string_view name,
                   const std::map<std::string, std::string>& labels);

/// metricValue() of corral's /metrics right now.
double scrape(const CorralProcess& corral, std::string_view name,
              const std::map<std::string, std::string>& labels);

} // namespace corral::test

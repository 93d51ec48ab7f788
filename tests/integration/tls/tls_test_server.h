#pragma once
// A tiny blocking TLS server on 127.0.0.1:0 built on a ServerContext: it answers one HTTP request
// per connection with what the handshake negotiated, and records every handshake's outcome.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "corral/tls/handshake.h"
#include "corral/tls/server_context.h"

namespace corral::test {

struct HandshakeOutcome {
  std::optional<tls::HandshakeInfo> info; // set when the handshake succeeded
  tls::HandshakeFailure failure = tls::HandshakeFailure::Other;
};

class TlsTestServer {
public:
  explicit TlsTestServer(std::shared_ptr<tls::ServerContext> context);
  ~TlsTestServer(); // stops accepting and joins the thread

  uint16_t port() const { return port_; }

  /// The outcome of handshake number `index` (0-based), waiting up to 5 s for it.
  HandshakeOutcome outcome(size_t index);

private:
  void serve();
  void handle(int fd);

  std::shared_ptr<tls::ServerContext> context_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<HandshakeOutcome> outcomes_;
  std::thread thread_;
};

/// The body the server answers with: "sni=a.example.com alpn=http/1.1 version=TLSv1.3 resumed=0".
std::string describeHandshake(const tls::HandshakeInfo& info);

} // namespace corral::test

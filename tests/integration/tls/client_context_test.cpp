// ClientContext (re-encryption to a backend) against a ServerContext on 127.0.0.1.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>

#include "corral/tls/client_context.h"
#include "corral/tls/server_context.h"
#include "tests/certs/test_certificates.h"
#include "tests/integration/tls/tls_test_server.h"
#include "tests/support/wait.h"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

struct Handshake {
  bool ok = false;
  std::string verify_failure;
};

// One blocking client handshake with `client` to 127.0.0.1:port, as the backend host `host`.
Handshake connectWith(const tls::ClientContext& client, uint16_t port, const std::string& host) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {htonl(INADDR_LOOPBACK)}};
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throwSystemError("connect");
  }
  SSL* ssl = client.newSsl(host);
  SSL_set_fd(ssl, fd);
  Handshake result{.ok = SSL_connect(ssl) == 1};
  result.verify_failure = tls::ClientContext::verifyFailure(ssl);
  if (result.ok) {
    SSL_write(ssl, "GET / HTTP/1.0\r\n\r\n", 18);
    char buffer[256];
    while (SSL_read(ssl, buffer, sizeof buffer) > 0) {
    }
  }
  ERR_clear_error();
  SSL_free(ssl);
  close(fd);
  return result;
}

class ClientContextTest : public ::testing::Test {
protected:
  TestCertificates folder;
  config::CertificateConfig app = folder.issue({.file_stem = "app", .dns_names = {"app.internal"}});
  config::CertificateConfig expired = folder.issue(
      {.file_stem = "expired", .dns_names = {"app.internal"}, .valid_from = -48h, .valid_until = -24h});

  std::shared_ptr<tls::ServerContext> serverFor(const config::CertificateConfig& certificate) {
    auto context = tls::ServerContext::create({.certificates = {certificate}});
    if (!context) {
      throw std::runtime_error(context.error().message);
    }
    return *context;
  }
  std::shared_ptr<tls::ClientContext> client(config::ServerTlsConfig tls) {
    auto context = tls::ClientContext::create(tls);
    if (!context) {
      throw std::runtime_error(context.error().message);
    }
    return *context;
  }
};

TEST_F(ClientContextTest, VerifiesTheBackendAgainstTheCaFileAndTheSniName) {
  TlsTestServer server(serverFor(app));
  const auto verified = connectWith(*client({.ca_file = folder.caFile(), .sni = "app.internal"}),
                                    server.port(), "127.0.0.1");
  EXPECT_TRUE(verified.ok);
  EXPECT_EQ(verified.verify_failure, "");
  EXPECT_EQ(server.outcome(0).info->server_name, "app.internal");
}

TEST_F(ClientContextTest, ABackendCertificateForAnotherNameIsRefused) {
  TlsTestServer server(serverFor(app));
  const auto refused = connectWith(*client({.ca_file = folder.caFile(), .sni = "other.internal"}),
                                   server.port(), "127.0.0.1");
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.verify_failure, "hostname mismatch");
}

// Without sni the server's host is the name to check; an IP literal must be in the certificate.
TEST_F(ClientContextTest, WithoutSniTheServerHostIsChecked) {
  TlsTestServer server(serverFor(app));
  const auto by_ip = connectWith(*client({.ca_file = folder.caFile()}), server.port(), "127.0.0.1");
  EXPECT_FALSE(by_ip.ok);
  EXPECT_EQ(by_ip.verify_failure, "IP address mismatch");
}

TEST_F(ClientContextTest, AnExpiredBackendCertificateIsRefusedUnlessVerificationIsOff) {
  TlsTestServer server(serverFor(expired));
  const auto refused = connectWith(*client({.ca_file = folder.caFile(), .sni = "app.internal"}),
                                   server.port(), "127.0.0.1");
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.verify_failure, "certificate has expired");
  const auto unverified = connectWith(*client({.verify = false}), server.port(), "127.0.0.1");
  EXPECT_TRUE(unverified.ok);
  EXPECT_EQ(unverified.verify_failure, "");
}

// The test chains end in their own root, so OpenSSL names the untrusted root it was shown.
TEST_F(ClientContextTest, AServerSignedByAnotherCaIsRefused) {
  TestCertificates other_ca;
  TlsTestServer server(serverFor(app));
  const auto refused = connectWith(*client({.ca_file = other_ca.caFile(), .sni = "app.internal"}),
                                   server.port(), "127.0.0.1");
  EXPECT_FALSE(refused.ok);
  EXPECT_THAT(refused.verify_failure, ::testing::HasSubstr("self-signed certificate in certificate chain"));
}

} // namespace
} // namespace corral::test

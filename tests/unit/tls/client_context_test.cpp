#include "corral/tls/client_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/certs/test_certificates.h"

namespace corral::tls {
namespace {

TEST(ClientContextTest, AMissingCaFileIsAnErrorNamingIt) {
  const auto context = ClientContext::create({.verify = true, .ca_file = "/nonexistent/ca.pem"});
  ASSERT_FALSE(context);
  EXPECT_THAT(context.error().message, ::testing::StartsWith("/nonexistent/ca.pem: cannot read"));
}

TEST(ClientContextTest, WithoutVerificationTheCaFileIsNotRead) {
  EXPECT_TRUE(ClientContext::create({.verify = false, .ca_file = "/nonexistent/ca.pem"}));
}

TEST(ClientContextTest, SendsTheConfiguredSniElseTheServerHost) {
  const test::TestCertificates certificates;
  const auto with_sni = ClientContext::create({.ca_file = certificates.caFile(), .sni = "app.internal"});
  const auto without = ClientContext::create({.ca_file = certificates.caFile()});
  ASSERT_TRUE(with_sni && without);
  SSL* named = (*with_sni)->newSsl("10.0.0.1");
  SSL* by_host = (*without)->newSsl("web.internal");
  EXPECT_STREQ(SSL_get_servername(named, TLSEXT_NAMETYPE_host_name), "app.internal");
  EXPECT_STREQ(SSL_get_servername(by_host, TLSEXT_NAMETYPE_host_name), "web.internal");
  EXPECT_EQ(SSL_get_verify_mode(named), SSL_VERIFY_PEER);
  SSL_free(named);
  SSL_free(by_host);
}

// RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName".
TEST(ClientContextTest, AnIpAddressIsNeverSentAsSni) {
  const auto context = ClientContext::create({.verify = false});
  ASSERT_TRUE(context);
  for (const char* host : {"127.0.0.1", "::1"}) {
    SSL* ssl = (*context)->newSsl(host);
    ASSERT_NE(ssl, nullptr);
    EXPECT_EQ(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name), nullptr) << host;
    SSL_free(ssl);
  }
}

} // namespace
} // namespace corral::tls

#include "corral/tls/server_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/certs/test_certificates.h"

namespace corral::tls {
namespace {

using test::CertificateSpec;
using test::KeyType;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Made once per test binary: RSA key generation takes a noticeable fraction of a second.
struct Certificates {
  test::TestCertificates folder;
  config::CertificateConfig a_rsa = folder.issue(
      {.file_stem = "a-rsa", .dns_names = {"a.example.com"}, .common_name = "a", .key_type = KeyType::Rsa});
  config::CertificateConfig b_wildcard = folder.issue(
      {.file_stem = "b", .dns_names = {"*.b.example.com", "b.example.com"}, .common_name = "b"});
  config::CertificateConfig cn_only = folder.issue({.file_stem = "cn", .common_name = "CN.example.com"});
};

const Certificates& certificates() {
  static const Certificates made;
  return made;
}

config::TlsConfig tlsWith(std::vector<config::CertificateConfig> entries,
                          std::string min_version = "TLSv1.2") {
  return {.certificates = std::move(entries), .alpn = {"http/1.1"}, .min_version = min_version};
}

TEST(ServerContextTest, ReadsTheNamesOfEachCertificateInOrder) {
  const auto& c = certificates();
  const auto context = ServerContext::create(tlsWith({c.a_rsa, c.b_wildcard, c.cn_only}));
  ASSERT_TRUE(context) << context.error().message;
  EXPECT_THAT((*context)->certificateNames(),
              ElementsAre(ElementsAre("a.example.com"), ElementsAre("*.b.example.com", "b.example.com"),
                          ElementsAre("cn.example.com"))); // CN only without a DNS name
  SSL* ssl = (*context)->newSsl();
  ASSERT_NE(ssl, nullptr);
  EXPECT_EQ(SSL_get_min_proto_version(ssl), TLS1_2_VERSION);
  SSL_free(ssl);
}

TEST(ServerContextTest, AMissingCertificateFileIsAnErrorNamingIt) {
  const auto context = ServerContext::create(
      tlsWith({certificates().a_rsa, {.cert = "/nonexistent/site.pem", .key = "/nonexistent/site.key"}}));
  ASSERT_FALSE(context);
  EXPECT_EQ(context.error().code, ErrorCode::NotFound);
  EXPECT_EQ(context.error().message, "/nonexistent/site.pem: cannot open: No such file or directory");
}

TEST(ServerContextTest, AMissingKeyFileIsAnErrorNamingIt) {
  const auto context =
      ServerContext::create(tlsWith({{.cert = certificates().a_rsa.cert, .key = "/nonexistent/a.key"}}));
  ASSERT_FALSE(context);
  EXPECT_THAT(context.error().message, HasSubstr("/nonexistent/a.key: cannot open"));
}

TEST(ServerContextTest, AKeyThatDoesNotMatchItsCertificateIsRefused) {
  const auto& c = certificates();
  const auto context = ServerContext::create(tlsWith({{.cert = c.a_rsa.cert, .key = c.b_wildcard.key}}));
  ASSERT_FALSE(context);
  EXPECT_EQ(context.error().code, ErrorCode::BadConfig);
  EXPECT_EQ(context.error().message,
            c.b_wildcard.key + ": private key does not match the certificate in " + c.a_rsa.cert);
}

TEST(ServerContextTest, AFileWithoutACertificateIsRefused) {
  const auto& c = certificates();
  const std::string empty = c.folder.writeFile("empty.pem", "not a certificate\n");
  const auto context = ServerContext::create(tlsWith({{.cert = empty, .key = c.a_rsa.key}}));
  ASSERT_FALSE(context);
  EXPECT_EQ(context.error().message, empty + ": no PEM certificate in the file");
}

// RFC 8996 deprecates TLS 1.0 and 1.1; the message says why instead of "unknown value".
TEST(ServerContextTest, TlsOneZeroAndOneOneAreRefusedAsMinimumVersions) {
  for (const std::string version : {"TLSv1", "TLSv1.0", "TLSv1.1", "SSLv3"}) {
    const auto context = ServerContext::create(tlsWith({certificates().a_rsa}, version));
    ASSERT_FALSE(context) << version;
    EXPECT_EQ(context.error().code, ErrorCode::BadConfig);
    EXPECT_THAT(context.error().message, HasSubstr("deprecated (RFC 8996)")) << version;
  }
}

TEST(ServerContextTest, TlsOneThreeIsAcceptedAsMinimumVersion) {
  const auto context = ServerContext::create(tlsWith({certificates().a_rsa}, "TLSv1.3"));
  ASSERT_TRUE(context) << context.error().message;
  SSL* ssl = (*context)->newSsl();
  EXPECT_EQ(SSL_get_min_proto_version(ssl), TLS1_3_VERSION);
  SSL_free(ssl);
}

TEST(ServerContextTest, AnUnknownVersionIsRefused) {
  const auto context = ServerContext::create(tlsWith({certificates().a_rsa}, "TLSv2"));
  ASSERT_FALSE(context);
  EXPECT_EQ(context.error().message, "min_version: expected TLSv1.2 or TLSv1.3, got \"TLSv2\"");
}

TEST(ServerContextTest, NoCertificateAtAllIsRefused) {
  EXPECT_FALSE(ServerContext::create(tlsWith({})));
}

TEST(ServerContextTest, AnEmptyAlpnNameIsRefused) {
  config::TlsConfig tls = tlsWith({certificates().a_rsa});
  tls.alpn = {"h2", ""};
  const auto context = ServerContext::create(tls);
  ASSERT_FALSE(context);
  EXPECT_THAT(context.error().message, HasSubstr("alpn"));
}

// The defaults follow Mozilla's intermediate profile: no server cipher preference, no
// compression, no renegotiation; session tickets and a server-side cache on.
TEST(ServerContextTest, DefaultsFollowMozillaIntermediate) {
  const auto context = ServerContext::create(tlsWith({certificates().a_rsa}));
  ASSERT_TRUE(context);
  SSL_CTX* native = (*context)->native();
  const uint64_t options = SSL_CTX_get_options(native);
  EXPECT_EQ(options & SSL_OP_CIPHER_SERVER_PREFERENCE, 0u);
  EXPECT_EQ(options & SSL_OP_NO_TICKET, 0u);
  EXPECT_NE(options & SSL_OP_NO_COMPRESSION, 0u);
  EXPECT_NE(options & SSL_OP_NO_RENEGOTIATION, 0u);
  EXPECT_EQ(SSL_CTX_get_session_cache_mode(native), SSL_SESS_CACHE_SERVER);
  SSL* ssl = (*context)->newSsl();
  std::vector<std::string> ciphers;
  STACK_OF(SSL_CIPHER)* list = SSL_get_ciphers(ssl);
  for (int i = 0; i < sk_SSL_CIPHER_num(list); ++i) {
    ciphers.emplace_back(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(list, i)));
  }
  SSL_free(ssl);
  EXPECT_THAT(ciphers, ::testing::Contains("ECDHE-RSA-AES128-GCM-SHA256"));
  EXPECT_THAT(ciphers, ::testing::Not(::testing::Contains("AES128-SHA"))); // no static RSA, no CBC
  EXPECT_THAT(ciphers, ::testing::Not(::testing::Contains("ECDHE-RSA-AES128-SHA")));
}

} // namespace
} // namespace corral::tls

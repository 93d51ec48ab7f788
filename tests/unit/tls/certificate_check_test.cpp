#include "corral/tls/certificate_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/certs/test_certificates.h"

namespace corral::tls {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

struct CheckFixture : ::testing::Test {
  test::TestCertificates folder;
  config::TlsConfig tlsWith(std::vector<config::CertificateConfig> entries) {
    return {.certificates = std::move(entries)};
  }
};

TEST_F(CheckFixture, AValidCertificateGivesNoDiagnostics) {
  const auto good = folder.issue({.file_stem = "good", .dns_names = {"a.example.com"}});
  const auto diagnostics = checkCertificates(tlsWith({good}));
  EXPECT_TRUE(diagnostics.ok());
  EXPECT_THAT(diagnostics.errors, IsEmpty());
  EXPECT_THAT(diagnostics.warnings, IsEmpty());
}

// An expired certificate is still served (a late renewal should not take the site down), so it
// warns rather than fails.
TEST_F(CheckFixture, AnExpiredCertificateWarnsNamingTheFile) {
  const auto expired = folder.issue(
      {.file_stem = "expired", .dns_names = {"old.example.com"}, .valid_from = -48h, .valid_until = -24h});
  const auto diagnostics = checkCertificates(tlsWith({expired}));
  EXPECT_TRUE(diagnostics.ok());
  ASSERT_THAT(diagnostics.warnings, ElementsAre(StartsWith(expired.cert + ": certificate expired on ")));
}

TEST_F(CheckFixture, ACertificateNotYetValidWarns) {
  const auto future = folder.issue(
      {.file_stem = "future", .dns_names = {"new.example.com"}, .valid_from = 24h, .valid_until = 48h});
  const auto diagnostics = checkCertificates(tlsWith({future}));
  EXPECT_TRUE(diagnostics.ok());
  EXPECT_THAT(diagnostics.warnings, ElementsAre(HasSubstr(future.cert + ": certificate is not valid before")));
}

// The check uses the time it is given: the same certificate is fine today and expired later.
TEST_F(CheckFixture, ValidityIsJudgedAtTheGivenTime) {
  const auto good = folder.issue({.file_stem = "good", .dns_names = {"a.example.com"}});
  EXPECT_THAT(checkCertificates(tlsWith({good}), std::chrono::system_clock::now() + 48h).warnings,
              ElementsAre(HasSubstr("expired")));
}

// Every broken entry is reported, not only the first, so that one `corral check` shows them all.
TEST_F(CheckFixture, ReportsEveryMissingOrMismatchedFile) {
  const auto a = folder.issue({.file_stem = "a", .dns_names = {"a.example.com"}});
  const auto b = folder.issue({.file_stem = "b", .dns_names = {"b.example.com"}});
  const auto diagnostics = checkCertificates(
      tlsWith({{.cert = a.cert, .key = b.key}, {.cert = folder.folder() + "/gone.pem", .key = a.key}}));
  EXPECT_FALSE(diagnostics.ok());
  EXPECT_THAT(diagnostics.errors,
              ElementsAre(b.key + ": private key does not match the certificate in " + a.cert,
                          folder.folder() + "/gone.pem: cannot open: No such file or directory"));
}

TEST_F(CheckFixture, AForbiddenMinimumVersionIsAnError) {
  const auto good = folder.issue({.file_stem = "good", .dns_names = {"a.example.com"}});
  config::TlsConfig tls = tlsWith({good});
  tls.min_version = "TLSv1.1";
  EXPECT_THAT(checkCertificates(tls).errors, ElementsAre(HasSubstr("TLSv1.1 is not allowed")));
}

TEST_F(CheckFixture, AServerCaFileMustHoldACertificate) {
  EXPECT_TRUE(checkServerTls({.ca_file = folder.caFile()}).ok());
  EXPECT_TRUE(checkServerTls({.ca_file = ""}).ok()); // the system's trust store
  const std::string junk = folder.writeFile("junk.pem", "junk\n");
  EXPECT_THAT(checkServerTls({.ca_file = junk}).errors, ElementsAre(StartsWith(junk + ": cannot read")));
}

} // namespace
} // namespace corral::tls

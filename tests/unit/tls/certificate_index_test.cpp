#include "tls/certificate_index.h"

#include <gtest/gtest.h>

namespace corral::tls {
namespace {

using Names = std::vector<std::vector<std::string>>;

// A wildcard listed first still loses to a later certificate that names the host exactly.
TEST(CertificateIndexTest, AnExactNameBeatsAWildcardOfAnEarlierCertificate) {
  const CertificateIndex index(Names{{"default.example.com"}, {"*.b.example.com"}, {"x.b.example.com"}});
  EXPECT_EQ(index.select("x.b.example.com"), 2u);
  EXPECT_EQ(index.select("y.b.example.com"), 1u);
}

// RFC 6125 §6.4.3: the wildcard is the whole leftmost label, and only one label.
TEST(CertificateIndexTest, AWildcardStandsForExactlyOneLabel) {
  const CertificateIndex index(Names{{"default.example.com"}, {"*.b.example.com"}});
  EXPECT_EQ(index.select("a.b.example.com"), 1u);
  EXPECT_EQ(index.select("b.example.com"), 0u);       // no label for the star
  EXPECT_EQ(index.select("x.a.b.example.com"), 0u);   // two labels
  EXPECT_EQ(index.select(".b.example.com"), 0u);      // an empty label
}

TEST(CertificateIndexTest, UnknownMissingAndEmptyNamesGetTheDefault) {
  const CertificateIndex index(Names{{"a.example.com"}, {"c.example.com"}});
  EXPECT_EQ(index.select("unknown.example.org"), 0u);
  EXPECT_EQ(index.select(""), 0u);
  EXPECT_EQ(index.select("c.example.com"), 1u);
}

// DNS names are case-insensitive and "host." is the same host (RFC 4343, RFC 6066 §3).
TEST(CertificateIndexTest, NamesMatchWithoutCaseAndWithoutATrailingDot) {
  const CertificateIndex index(Names{{"a.example.com"}, {"C.Example.com", "*.B.example.COM"}});
  EXPECT_EQ(index.select("c.EXAMPLE.com."), 1u);
  EXPECT_EQ(index.select("Q.b.example.com"), 1u);
}

TEST(CertificateIndexTest, WhenTwoCertificatesNameAHostTheFirstWins) {
  const CertificateIndex index(Names{{"a.example.com"}, {"d.example.com"}, {"d.example.com"}});
  EXPECT_EQ(index.select("d.example.com"), 1u);
}

// Partial wildcards ("w*.example.com") are not honoured by browsers either (RFC 6125 §7.2).
TEST(CertificateIndexTest, APartialWildcardMatchesNothing) {
  const CertificateIndex index(Names{{"a.example.com"}, {"w*.example.com"}});
  EXPECT_EQ(index.select("www.example.com"), 0u);
  EXPECT_EQ(index.select("w*.example.com"), 0u);
}

} // namespace
} // namespace corral::tls

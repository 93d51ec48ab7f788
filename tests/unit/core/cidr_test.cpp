#include <gtest/gtest.h>

#include "corral/core/cidr.h"

namespace corral {
namespace {

Ip16 ip(const char* text) { return toIp16(SocketAddress::parse(text).value()); }

TEST(CidrTest, MatchesIpv4Ranges) {
  const Cidr ten = Cidr::parse("10.0.0.0/8").value();
  EXPECT_TRUE(ten.contains(ip("10.255.1.2:1")));
  EXPECT_FALSE(ten.contains(ip("11.0.0.1:1")));
  const Cidr odd = Cidr::parse("192.168.4.0/22").value();
  EXPECT_TRUE(odd.contains(ip("192.168.7.255:1")));
  EXPECT_FALSE(odd.contains(ip("192.168.8.0:1")));
  const Cidr host = Cidr::parse("127.0.0.7").value();
  EXPECT_TRUE(host.contains(ip("127.0.0.7:1")));
  EXPECT_FALSE(host.contains(ip("127.0.0.8:1")));
  EXPECT_EQ(host.toString(), "127.0.0.7/32");
}

TEST(CidrTest, MatchesIpv6Ranges) {
  const Cidr doc = Cidr::parse("2001:db8::/32").value();
  EXPECT_TRUE(doc.contains(ip("[2001:db8:ffff::1]:1")));
  EXPECT_FALSE(doc.contains(ip("[2001:db9::1]:1")));
  EXPECT_FALSE(doc.contains(ip("10.0.0.1:1")));
  const Cidr nibble = Cidr::parse("fc00::/7").value();
  EXPECT_TRUE(nibble.contains(ip("[fd12::1]:1")));
  EXPECT_TRUE(nibble.contains(ip("[fc00::1]:1")));
  EXPECT_FALSE(nibble.contains(ip("[fe80::1]:1")));
  EXPECT_EQ(doc.toString(), "2001:db8::/32");
}

// A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; IPv4 rules must still see them.
TEST(CidrTest, Ipv4RangesMatchMappedAddresses) {
  const Cidr loopback = Cidr::parse("127.0.0.0/8").value();
  EXPECT_TRUE(loopback.contains(ip("[::ffff:127.0.0.5]:1")));
  EXPECT_FALSE(loopback.contains(ip("[::1]:1")));
  EXPECT_TRUE(Cidr::parse("::/0").value().contains(ip("10.0.0.1:1")));
  EXPECT_FALSE(Cidr::parse("0.0.0.0/0").value().contains(ip("[::1]:1")));
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0").value().contains(ip("[::ffff:8.8.8.8]:1")));
  EXPECT_TRUE(Cidr::parse("::ffff:10.0.0.0/104").value().contains(ip("10.9.9.9:1")));
}

TEST(CidrTest, RejectsMalformedRanges) {
  for (const char* bad : {"", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.1/8", "ten/8",
                          "10.0.0.0/8x", "2001:db8::1/32", "10.0.0.0/-1", "localhost"}) {
    EXPECT_FALSE(Cidr::parse(bad)) << bad;
  }
}

TEST(CidrTest, AnyContainsScansTheList) {
  const std::vector<Cidr> list{Cidr::parse("10.0.0.0/8").value(), Cidr::parse("::1").value()};
  EXPECT_TRUE(anyContains(list, ip("[::1]:1")));
  EXPECT_TRUE(anyContains(list, ip("10.0.0.1:1")));
  EXPECT_FALSE(anyContains(list, ip("127.0.0.1:1")));
  EXPECT_FALSE(anyContains({}, ip("127.0.0.1:1")));
}

} // namespace
} // namespace corral

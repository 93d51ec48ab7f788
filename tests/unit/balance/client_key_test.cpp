#include <string_view>

#include <gtest/gtest.h>

#include "corral/balance/client_key.h"

namespace corral::balance {
namespace {

SocketAddress address(std::string_view text) {
  auto parsed = SocketAddress::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(SocketAddress{});
}

uint64_t keyOf(std::string_view text, uint32_t ipv4_prefix = 32, uint32_t ipv6_prefix = 64) {
  return clientKey(address(text), ipv4_prefix, ipv6_prefix);
}

// ipv4_prefix 24 keeps a client whose last octet changes on the same server.
TEST(ClientKeyTest, SlashTwentyFourGivesOneKeyPerSubnet) {
  EXPECT_EQ(keyOf("10.0.0.1:1000", 24), keyOf("10.0.0.2:2000", 24));
  EXPECT_NE(keyOf("10.0.0.1:1000", 24), keyOf("10.0.1.1:1000", 24));
}

TEST(ClientKeyTest, SlashThirtyTwoTellsEveryAddressApart) {
  EXPECT_NE(keyOf("10.0.0.1:1000"), keyOf("10.0.0.2:1000"));
}

TEST(ClientKeyTest, IgnoresThePort) {
  EXPECT_EQ(keyOf("10.0.0.1:1000"), keyOf("10.0.0.1:2000"));
}

// A prefix that ends inside a byte keeps only that byte's top bits: /23 joins 10.0.0.x and
// 10.0.1.x, but not 10.0.2.x.
TEST(ClientKeyTest, MasksPrefixesThatEndInsideAByte) {
  EXPECT_EQ(keyOf("10.0.0.9:1", 23), keyOf("10.0.1.200:1", 23));
  EXPECT_NE(keyOf("10.0.0.9:1", 23), keyOf("10.0.2.9:1", 23));
}

// A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; they keep their IPv4 key and
// their ipv4_prefix.
TEST(ClientKeyTest, TreatsIpv4MappedIpv6AsIpv4) {
  EXPECT_EQ(keyOf("[::ffff:10.0.0.1]:1", 24, 128), keyOf("10.0.0.7:1", 24, 128));
}

TEST(ClientKeyTest, IPv6UsesItsOwnPrefix) {
  EXPECT_EQ(keyOf("[2001:db8:1:2::1]:1"), keyOf("[2001:db8:1:2:ffff::9]:1"));
  EXPECT_NE(keyOf("[2001:db8:1:2::1]:1"), keyOf("[2001:db8:1:3::1]:1"));
  EXPECT_NE(keyOf("[2001:db8:1:2::1]:1", 32, 128), keyOf("[2001:db8:1:2::2]:1", 32, 128));
}

// An IPv6 address that starts with the same four bytes as an IPv4 one is another client.
TEST(ClientKeyTest, Ipv4AndIpv6KeysDiffer) {
  EXPECT_NE(keyOf("32.1.13.184:1", 32, 32), keyOf("[2001:db8::]:1", 32, 32));
}

// Prefix 0 puts everyone on one key.
TEST(ClientKeyTest, PrefixZeroGivesEveryoneOneKey) {
  EXPECT_EQ(keyOf("1.2.3.4:1", 0), keyOf("200.1.1.1:1", 0));
}

// Golden: produced by this implementation (hashBytes with the client seed). A change here moves
// every ip_hash client on upgrade, like a change of the Maglev table.
TEST(ClientKeyTest, KeysNeverChange) {
  EXPECT_EQ(keyOf("10.0.0.1:80"), 0x78781055619f1a2eULL);
  EXPECT_EQ(keyOf("[2001:db8::1]:80"), 0xc37acef7048377cbULL);
}

} // namespace
} // namespace corral::balance

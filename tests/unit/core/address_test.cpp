#include <gtest/gtest.h>

#include "corral/core/address.h"

namespace corral {
namespace {

TEST(AddressTest, SplitsHostAndPort) {
  auto v4 = parseHostPort("127.0.0.1:8080").value();
  EXPECT_EQ(v4.host, "127.0.0.1");
  EXPECT_EQ(v4.port, 8080);
  auto v6 = parseHostPort("[::1]:8443").value();
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 8443);
  auto name = parseHostPort("web:80").value();
  EXPECT_EQ(name.host, "web");
}

TEST(AddressTest, RejectsMalformedHostPort) {
  for (const char* bad : {"", "8080", "host:", ":80", "host:70000", "::1:80", "[::1]80", "h:8x"}) {
    EXPECT_FALSE(parseHostPort(bad)) << bad;
  }
}

TEST(AddressTest, RoundTripsNumericAddresses) {
  EXPECT_EQ(SocketAddress::parse("10.1.2.3:80").value().toString(), "10.1.2.3:80");
  EXPECT_EQ(SocketAddress::parse("[2001:db8::1]:443").value().toString(), "[2001:db8::1]:443");
  EXPECT_FALSE(SocketAddress::parse("localhost:80"));
}

TEST(AddressTest, TreatsV4MappedV6AsV4Bytes) {
  auto mapped = SocketAddress::parse("[::ffff:1.2.3.4]:1").value();
  auto plain = SocketAddress::parse("1.2.3.4:1").value();
  EXPECT_EQ(mapped.ipBytes(), plain.ipBytes());
  EXPECT_TRUE(SocketAddress::parse("127.0.0.9:1").value().isLoopback());
  EXPECT_TRUE(SocketAddress::parse("[::1]:1").value().isLoopback());
  EXPECT_FALSE(SocketAddress::parse("10.0.0.1:1").value().isLoopback());
}

} // namespace
} // namespace corral

#include "corral/protocol/proxy_protocol.h"

#include <string>

#include <gtest/gtest.h>
#include "hex.h"

namespace corral::protocol {
namespace {

SocketAddress address(std::string_view text) { return SocketAddress::parse(text).value(); }

const std::string kV2Signature = fromHex("0d0a0d0a000d0a515549540a");

// proxy-protocol.txt §2.1, the example header in front of an HTTP request.
TEST(ProxyProtocolTest, ReadsTheV1ExampleOfTheSpecification) {
  const std::string stream = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n"
                             "Host: 192.168.0.11\r\n\r\n";
  const auto header = parseProxyHeader(stream);
  ASSERT_TRUE(header.isDone()) << header.error;
  EXPECT_EQ(header.value.version, 1);
  EXPECT_EQ(header.value.consumed, 47u);
  EXPECT_EQ(header.value.source->toString(), "192.168.0.1:56324");
  EXPECT_EQ(header.value.destination->toString(), "192.168.0.11:443");
}

// §2.1 sizes: the longest TCP4 and TCP6 lines (56 and 104 bytes), UNKNOWN short and worst case
// (15 and 107 bytes).
TEST(ProxyProtocolTest, ReadsTheV1WorstCasesOfTheSpecification) {
  const std::string ffff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const std::string tcp4 = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
  const std::string tcp6 = "PROXY TCP6 " + ffff + " " + ffff + " 65535 65535\r\n";
  const std::string unknown_long = "PROXY UNKNOWN " + ffff + " " + ffff + " 65535 65535\r\n";
  ASSERT_EQ(tcp4.size(), 56u);
  ASSERT_EQ(tcp6.size(), 104u);
  ASSERT_EQ(unknown_long.size(), 107u);
  EXPECT_EQ(parseProxyHeader(tcp4).value.source->toString(), "255.255.255.255:65535");
  EXPECT_EQ(parseProxyHeader(tcp6).value.destination->toString(), "[" + ffff + "]:65535");
  for (const std::string& unknown : {std::string("PROXY UNKNOWN\r\n"), unknown_long}) {
    const auto header = parseProxyHeader(unknown);
    ASSERT_TRUE(header.isDone()) << unknown;
    EXPECT_EQ(header.value.consumed, unknown.size());
    EXPECT_FALSE(header.value.source);
    EXPECT_FALSE(header.value.destination);
  }
}

TEST(ProxyProtocolTest, RejectsBadV1Lines) {
  const struct {
    std::string line;
    std::string error;
  } cases[] = {
      {"PROXY TCP5 1.1.1.1 2.2.2.2 1 2\r\n", "PROXY v1: the protocol must be TCP4, TCP6 or UNKNOWN"},
      {"PROXY TCP4 1.1.1.1 2.2.2.2 1\r\n", "PROXY v1: expected PROXY TCP4|TCP6 SRC DST SPORT DPORT"},
      {"PROXY TCP4 1.1.1.1  2.2.2.2 1 2\r\n", "PROXY v1: expected PROXY TCP4|TCP6 SRC DST SPORT DPORT"},
      {"PROXY TCP4 ::1 ::2 1 2\r\n", "PROXY v1: bad TCP4 address or port"},
      {"PROXY TCP6 1.1.1.1 ::2 1 2\r\n", "PROXY v1: bad TCP6 address or port"},
      {"PROXY TCP4 1.1.1.1 2.2.2.2 65536 2\r\n", "PROXY v1: bad TCP4 address or port"},
      {"PROXY TCP4 1.1.1.1 2.2.2.2 -1 2\r\n", "PROXY v1: bad TCP4 address or port"},
      {"PROXY TCP4 1.1.1.1 2.2.2.2 1 2\n", "PROXY v1: the line must end with CRLF"},
      {"PROXY UNKNOWN " + std::string(100, 'x') + "\r\n", "PROXY v1: no CRLF within 107 bytes"},
      {"GET / HTTP/1.1\r\n", "not a PROXY protocol header"},
      {"PROXX", "not a PROXY protocol header"},
  };
  for (const auto& c : cases) {
    const auto header = parseProxyHeader(c.line);
    EXPECT_TRUE(header.isBad()) << c.line;
    EXPECT_EQ(header.error, c.error) << c.line;
    EXPECT_EQ(header.code, c.error.find("within 107") != std::string::npos ? ParseError::TooLong
                                                                           : ParseError::Malformed)
        << c.line;
  }
}

// Spec §2.1: a v1 line is printable US-ASCII. inet_pton reads a C string, so without this check
// "10.1.2.3\0junk" was accepted as 10.1.2.3. A forbidden byte is rejected as soon as it arrives,
// before the CRLF.
TEST(ProxyProtocolTest, RejectsV1LinesWithBytesOtherThanPrintableAscii) {
  using namespace std::string_literals;
  const struct {
    std::string line;
    std::string error;
  } cases[] = {
      {"PROXY TCP4 10.1.2.3\0junk 10.1.2.4 1 2\r\n"s,
       "PROXY v1: byte 0x00 at offset 19 is not printable ASCII"},
      {"PROXY TCP4 10.1.2.3 10.1.2.4 1 2\0\r\n"s,
       "PROXY v1: byte 0x00 at offset 32 is not printable ASCII"},
      {"PROXY TCP4 10.1.2.3\0"s, "PROXY v1: byte 0x00 at offset 19 is not printable ASCII"},
      {"PROXY TCP4 10.1.2.3\t10.1.2.4 1 2\r\n",
       "PROXY v1: byte 0x09 at offset 19 is not printable ASCII"},
      {"PROXY TCP4 10.1.2.3 10.1.2.4 1 2\r\r\n",
       "PROXY v1: byte 0x0d at offset 32 is not printable ASCII"},
      {"PROXY UNKNOWN \xff\r\n", "PROXY v1: byte 0xff at offset 14 is not printable ASCII"},
      {"PROXY UNKNOWN \x7f\r\n", "PROXY v1: byte 0x7f at offset 14 is not printable ASCII"},
  };
  for (const auto& c : cases) {
    const auto header = parseProxyHeader(c.line);
    EXPECT_TRUE(header.isBad()) << testing::PrintToString(c.line);
    EXPECT_EQ(header.error, c.error) << testing::PrintToString(c.line);
  }
  EXPECT_TRUE(parseProxyHeader("PROXY TCP4 10.1.2.3 10.1.2.4 1 2\r").needsMore());
}

// HAProxy's own v2 header for 172.19.0.1:42578 -> 172.19.0.3:80, as captured by netcat in
// github.com/seriousben/experiment-proxy-protocol (README), followed by the client's request.
TEST(ProxyProtocolTest, ReadsAV2HeaderWrittenByHaproxy) {
  const std::string stream =
      fromHex("0d0a0d0a000d0a515549540a2111000cac130001ac130003a6520050") + "GET / HTTP/1.1\r\n";
  const auto header = parseProxyHeader(stream);
  ASSERT_TRUE(header.isDone()) << header.error;
  EXPECT_EQ(header.value.version, 2);
  EXPECT_EQ(header.value.consumed, 28u);
  EXPECT_EQ(header.value.source->toString(), "172.19.0.1:42578");
  EXPECT_EQ(header.value.destination->toString(), "172.19.0.3:80");
}

// §2.2: TLVs after the addresses are counted in the length and skipped; IPv6 uses 36 bytes.
TEST(ProxyProtocolTest, ReadsV2Ipv6AndSkipsTlvs) {
  const std::string block = fromHex("20010db8000000000000000000000001"   // source address
                                    "20010db8000000000000000000000002"   // destination
                                    "1f90" "01bb"                         // ports 8080, 443
                                    "0100026832");                        // TLV ALPN "h2"
  const std::string header_bytes = kV2Signature + fromHex("2121") + fromHex("0029") + block;
  const auto header = parseProxyHeader(header_bytes + "rest");
  ASSERT_TRUE(header.isDone()) << header.error;
  EXPECT_EQ(header.value.consumed, header_bytes.size());
  EXPECT_EQ(header.value.source->toString(), "[2001:db8::1]:8080");
  EXPECT_EQ(header.value.destination->toString(), "[2001:db8::2]:443");
}

// §2.2: LOCAL (health checks from the balancer itself), UNSPEC, UDP and UNIX keep the real
// endpoints; the whole block is still consumed.
TEST(ProxyProtocolTest, V2LocalUnspecAndOtherTransportsCarryNoAddress) {
  for (const std::string& fixed : {fromHex("20000000"), fromHex("2011000c"), fromHex("2100000c"),
                                   fromHex("2112000c"), fromHex("213100d8")}) {
    const size_t length = static_cast<uint8_t>(fixed[2]) << 8 | static_cast<uint8_t>(fixed[3]);
    const std::string bytes = kV2Signature + fixed + std::string(length, '\x07');
    const auto header = parseProxyHeader(bytes);
    ASSERT_TRUE(header.isDone()) << header.error;
    EXPECT_EQ(header.value.consumed, bytes.size());
    EXPECT_FALSE(header.value.source);
  }
}

TEST(ProxyProtocolTest, RejectsBadV2Headers) {
  const struct {
    std::string fixed;
    std::string error;
  } cases[] = {
      {fromHex("1111000c"), "PROXY v2: unknown version 1"},
      {fromHex("2211000c"), "PROXY v2: unknown command 2"},
      {fromHex("2141000c"), "PROXY v2: invalid family and transport 0x41"},
      {fromHex("2113000c"), "PROXY v2: invalid family and transport 0x13"},
      {fromHex("2110000c"), "PROXY v2: invalid family and transport 0x10"},
      {fromHex("2111000b"), "PROXY v2: address block shorter than its family needs"},
      {fromHex("21210020"), "PROXY v2: address block shorter than its family needs"},
  };
  for (const auto& c : cases) {
    const auto header = parseProxyHeader(kV2Signature + c.fixed + std::string(64, '\0'));
    EXPECT_TRUE(header.isBad());
    EXPECT_EQ(header.error, c.error);
  }
}

// A header split at any byte asks for more, then reads the same once complete.
TEST(ProxyProtocolTest, EveryPrefixOfAHeaderNeedsMore) {
  for (const std::string& full :
       {writeProxyV1(address("10.0.0.1:1234"), address("10.0.0.2:80")),
        writeProxyV2(address("[2001:db8::1]:1"), address("[2001:db8::2]:2"))}) {
    for (size_t length = 0; length < full.size(); ++length) {
      EXPECT_TRUE(parseProxyHeader(full.substr(0, length)).needsMore()) << length;
    }
    EXPECT_TRUE(parseProxyHeader(full).isDone());
  }
}

TEST(ProxyProtocolTest, WritesV1) {
  EXPECT_EQ(writeProxyV1(address("192.168.0.1:56324"), address("192.168.0.11:443")),
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
  EXPECT_EQ(writeProxyV1(address("[2001:db8::1]:1"), address("[::1]:2")),
            "PROXY TCP6 2001:db8::1 ::1 1 2\r\n");
  EXPECT_EQ(writeProxyV1(address("10.0.0.1:1"), address("[::1]:2")),
            "PROXY TCP6 ::ffff:10.0.0.1 ::1 1 2\r\n");
  EXPECT_EQ(writeProxyV1(SocketAddress(), address("[::1]:2")), "PROXY UNKNOWN\r\n");
}

TEST(ProxyProtocolTest, WritesV2AsHaproxyDoes) {
  EXPECT_EQ(writeProxyV2(address("172.19.0.1:42578"), address("172.19.0.3:80")),
            fromHex("0d0a0d0a000d0a515549540a2111000cac130001ac130003a6520050"));
  EXPECT_EQ(writeProxyV2(SocketAddress(), SocketAddress()), kV2Signature + fromHex("20000000"));
}

TEST(ProxyProtocolTest, WrittenHeadersReadBack) {
  for (const auto& [source, destination] :
       {std::pair{"1.2.3.4:5", "6.7.8.9:10"}, std::pair{"[::1]:1", "[fe80::1]:65535"}}) {
    for (const std::string& bytes : {writeProxyV1(address(source), address(destination)),
                                     writeProxyV2(address(source), address(destination))}) {
      const auto header = parseProxyHeader(bytes);
      ASSERT_TRUE(header.isDone()) << header.error;
      EXPECT_EQ(header.value.source->toString(), address(source).toString());
      EXPECT_EQ(header.value.destination->toString(), address(destination).toString());
    }
  }
}

} // namespace
} // namespace corral::protocol

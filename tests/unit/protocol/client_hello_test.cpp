#include "corral/protocol/client_hello.h"

#include <string>

#include <gtest/gtest.h>
#include "hex.h"

namespace corral::protocol {
namespace {

// Real ClientHellos, captured once while writing these tests: a python3 socket listening on
// 127.0.0.1 saved what OpenSSL 3.0 (Debian 12) sent for
//   openssl s_client -connect 127.0.0.1:PORT -servername example.com -alpn h2,http/1.1
const std::string kHelloWithSni = fromHex(
    "160301014a01000146030397d7fbd2768b3ca892bc0b67fa84623e52fadde10bace0754d766559e128d4cd20592189b8"
    "85c13461afccdb71bcdc262b066656ac6dc58ef36fc75b278b71a29b003e130213031301c02cc030009fcca9cca8ccaa"
    "c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010000bf"
    "00000010000e00000b6578616d706c652e636f6d000b000403000102000a00160014001d0017001e0019001801000101"
    "010201030104002300000010000e000c02683208687474702f312e310016000000170000000d002a0028040305030603"
    "080708080809080a080b080408050806040105010601030303010302040205020602002b000908030403030302030100"
    "2d00020101003300260024001d0020bdd9b3741e2add1ded3afa97e0a94316428d6f42e8e78a9b94ce11d12c3b7d79"
);
//   openssl s_client -connect 127.0.0.1:PORT -noservername -tls1_2
const std::string kHelloWithoutSni = fromHex(
    "16030100b7010000b3030312711eb08b878121cad8c345c24f0a5abecc9f95b9e2ce2edd87c7e87c2dc859000038c02c"
    "c030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c"
    "0035002f00ff01000052000b000403000102000a000c000a001d0017001e00190018002300000016000000170000000d"
    "002a0028040305030603080708080809080a080b080408050806040105010601030303010302040205020602"
);

// Field offsets in kHelloWithSni: 5-byte record header, 4-byte handshake header, then the body.
constexpr size_t kRecordHeader = 5;
constexpr size_t kHandshakeHeader = 4;

TEST(ClientHelloTest, ReadsSniAndAlpnFromARealClientHello) {
  const auto hello = parseClientHello(kHelloWithSni);
  ASSERT_TRUE(hello.isDone()) << hello.error;
  EXPECT_EQ(hello.value.server_name, "example.com");
  EXPECT_EQ(hello.value.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
}

TEST(ClientHelloTest, AHelloWithoutSniOrAlpnHasNeither) {
  const auto hello = parseClientHello(kHelloWithoutSni);
  ASSERT_TRUE(hello.isDone()) << hello.error;
  EXPECT_FALSE(hello.value.server_name);
  EXPECT_FALSE(hello.value.alpn);
}

TEST(ClientHelloTest, EveryTruncationNeedsMore) {
  for (size_t length = 0; length < kHelloWithSni.size(); ++length) {
    EXPECT_TRUE(parseClientHello(kHelloWithSni.substr(0, length)).needsMore()) << length;
  }
}

// RFC 8446 §5.1: a handshake message may be fragmented over several records. Here the hello is
// re-framed into records of 100 bytes each.
TEST(ClientHelloTest, ReadsAHelloSplitOverSeveralRecords) {
  const std::string message = kHelloWithSni.substr(kRecordHeader);
  std::string records;
  for (size_t offset = 0; offset < message.size(); offset += 100) {
    const std::string fragment = message.substr(offset, 100);
    records += fromHex("160301") + static_cast<char>(fragment.size() >> 8) +
               static_cast<char>(fragment.size() & 0xff) + fragment;
  }
  for (size_t length = 0; length < records.size(); ++length) {
    ASSERT_TRUE(parseClientHello(records.substr(0, length)).needsMore()) << length;
  }
  const auto hello = parseClientHello(records);
  ASSERT_TRUE(hello.isDone()) << hello.error;
  EXPECT_EQ(hello.value.server_name, "example.com");
}

TEST(ClientHelloTest, RejectsWhatIsNotAClientHello) {
  const struct {
    std::string bytes;
    std::string error;
  } cases[] = {
      {"GET / HTTP/1.1\r\n", "not a TLS handshake record"},
      {fromHex("8080"), "not a TLS handshake record"}, // SSLv2 record header
      {fromHex("1602"), "not TLS 1.x (SSLv2 or garbage)"},
      {fromHex("1603010000"), "TLS record length 0 out of range"},
      {fromHex("1603014001"), "TLS record length 16385 out of range"},
      {fromHex("160301000402000000"), "the first handshake message is not a ClientHello"},
      {fromHex("160301000401010000"), "ClientHello of 65536 bytes is too large"},
      {fromHex("160301000401000010" "170303"), "not a TLS handshake record"}, // then app data
  };
  for (const auto& c : cases) {
    const auto hello = parseClientHello(c.bytes);
    EXPECT_TRUE(hello.isBad()) << c.error;
    EXPECT_EQ(hello.error, c.error);
    EXPECT_EQ(hello.code,
              c.error.ends_with("too large") ? ParseError::TooLong : ParseError::Malformed)
        << c.error;
  }
}

// Changes one byte of the real hello and expects the given error: lengths that no longer add up.
TEST(ClientHelloTest, RejectsMalformedVariantsOfARealHello) {
  const size_t body = kRecordHeader + kHandshakeHeader;
  const size_t session_id_length = body + 2 + 32;
  const struct {
    size_t offset;
    char byte;
    std::string error;
  } cases[] = {
      {session_id_length, '\x21', "malformed ClientHello"},       // 33-byte session id
      {session_id_length, '\x7f', "malformed ClientHello"},       // runs past the end
      {kHelloWithSni.size() - 1, '\x00', ""},                     // not a length: stays valid
  };
  for (const auto& c : cases) {
    std::string bytes = kHelloWithSni;
    bytes[c.offset] = c.byte;
    const auto hello = parseClientHello(bytes);
    EXPECT_EQ(hello.isBad(), !c.error.empty()) << c.offset;
    EXPECT_EQ(hello.error, c.error) << c.offset;
  }
}

// Builds a record holding a ClientHello with the given extensions (TLS 1.2 layout, one suite).
std::string helloWithExtensions(const std::string& extensions) {
  std::string body = fromHex("0303") + std::string(32, '\x01') + fromHex("00" "0002c02f" "0100");
  body += static_cast<char>(extensions.size() >> 8);
  body += static_cast<char>(extensions.size() & 0xff);
  body += extensions;
  const std::string message = fromHex("0100") + static_cast<char>(body.size() >> 8) +
                              static_cast<char>(body.size() & 0xff) + body;
  return fromHex("160303") + static_cast<char>(message.size() >> 8) +
         static_cast<char>(message.size() & 0xff) + message;
}

TEST(ClientHelloTest, ChecksServerNameAndAlpnExtensions) {
  const struct {
    std::string extensions;
    std::string error;
  } cases[] = {
      {fromHex("00000006000400000161" "0010000500030268" "32"), ""}, // sni "a", alpn "h2"
      {fromHex("00000006000400000161" "00000006000400000162"), "duplicate extension 0"},
      {fromHex("000000090003"), "malformed extensions"},
      {fromHex("000000050003000000"), "bad server_name extension"},        // empty host name
      {fromHex("000000020000"), "malformed server_name extension"},      // empty list
      {fromHex("0000000a0008" "0000016100" "00000162"), "bad server_name extension"}, // two host names
      {fromHex("00000007000400000161" "00"), "malformed server_name extension"}, // extra byte
      {fromHex("001000020000"), "malformed ALPN extension"},                 // empty list
      {fromHex("001000030001" "00"), "empty protocol name in ALPN extension"},
      {fromHex("0000000600040000010a"), "bad server_name extension"},        // control character
  };
  for (const auto& c : cases) {
    const auto hello = parseClientHello(helloWithExtensions(c.extensions));
    EXPECT_EQ(hello.error, c.error) << c.extensions.size();
  }
}

} // namespace
} // namespace corral::protocol

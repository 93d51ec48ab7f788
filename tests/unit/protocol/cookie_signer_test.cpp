#include "corral/protocol/cookie_signer.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "corral/protocol/cookie.h"

namespace corral::protocol {
namespace {

constexpr int64_t kNow = 1'700'000'000;
const std::string kKey(32, 'k');

TEST(CookieSignerTest, AnIssuedValueVerifiesToItsServerId) {
  const CookieSigner signer(kKey, std::nullopt);
  for (std::string_view id : {"s1", "app#2", "127.0.0.1:9001", "[::1]:80", "", "a;b=\"c\" d"}) {
    const std::string value = signer.issue("app", id, kNow + 3600);
    EXPECT_TRUE(isCookieValue(value)) << value;
    EXPECT_EQ(signer.verify("app", value, kNow), std::string(id)) << value;
  }
}

TEST(CookieSignerTest, RejectsAnExpiredValue) {
  const CookieSigner signer(kKey, std::nullopt);
  const std::string value = signer.issue("app", "s1", kNow + 10);
  EXPECT_TRUE(signer.verify("app", value, kNow + 9));
  EXPECT_FALSE(signer.verify("app", value, kNow + 10));
  EXPECT_FALSE(signer.verify("app", value, kNow + 11));
}

TEST(CookieSignerTest, RejectsAValueIssuedForAnotherBackend) {
  const CookieSigner signer(kKey, std::nullopt);
  EXPECT_FALSE(signer.verify("api", signer.issue("app", "s1", kNow + 60), kNow));
}

TEST(CookieSignerTest, AcceptsThePreviousKeyDuringRotation) {
  const CookieSigner old_signer("old-key-old-key-old-key-old-key!", std::nullopt);
  const CookieSigner rotated(kKey, "old-key-old-key-old-key-old-key!");
  const CookieSigner unrelated(kKey, std::nullopt);
  const std::string old_value = old_signer.issue("app", "app#1", kNow + 60);
  EXPECT_EQ(rotated.verify("app", old_value, kNow), "app#1");
  EXPECT_FALSE(unrelated.verify("app", old_value, kNow));
  EXPECT_FALSE(old_signer.verify("app", rotated.issue("app", "app#1", kNow + 60), kNow));
}

TEST(CookieSignerTest, RejectsAValueWithAMovedExpiry) {
  const CookieSigner signer(kKey, std::nullopt);
  std::string value = signer.issue("app", "s1", kNow + 60);
  value.replace(value.find(".1700000060."), 12, ".1800000060.");
  EXPECT_FALSE(signer.verify("app", value, kNow));
}

// Pins the cookie format: a change would move every sticky client on upgrade. The expected value
// was computed apart from this code, with the OpenSSL and coreutils command lines:
//   printf 'app#2' | basenc --base64url                        -> YXBwIzI= (padding dropped)
//   printf 'corral-sticky-v1\0\0\0\0\3app\0\0\0\5app#2\0\0\0\0\x65\x53\xf1\x00' |
//     openssl dgst -sha256 -hmac kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk -binary | head -c16 |
//     basenc --base64url                                       -> hAn0vo-h9G_ml5IsZvFuMA==
TEST(CookieSignerTest, FormatIsStable) {
  const CookieSigner signer(kKey, std::nullopt);
  EXPECT_EQ(signer.issue("app", "app#2", kNow), "YXBwIzI.1700000000.hAn0vo-h9G_ml5IsZvFuMA");
}

// No value that the signer did not issue is accepted: random texts in the value's alphabet, and
// issued values with one bit flipped. 1,000,000 tries in all.
TEST(CookieSignerTest, RejectsAMillionRandomAndBitFlippedValues) {
  const CookieSigner signer(kKey, "previous-key-previous-key-previou");
  std::mt19937_64 random(20240601); // fixed seed: a failure reproduces
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
  int accepted = 0;
  for (int i = 0; i < 500'000; ++i) {
    std::string value(random() % 64, ' ');
    for (char& c : value) {
      c = kAlphabet[random() % kAlphabet.size()];
    }
    accepted += signer.verify("app", value, kNow) ? 1 : 0;
  }
  std::vector<std::string> issued; // 8,000 distinct values, times about 500 bits each to flip
  for (int i = 0; i < 8'000; ++i) {
    issued.push_back(signer.issue("app", "app#" + std::to_string(i % 8), kNow + 1 + i));
  }
  for (int i = 0; i < 500'000; ++i) {
    std::string value = issued[random() % issued.size()];
    const size_t bit = random() % (value.size() * 8);
    value[bit / 8] = static_cast<char>(value[bit / 8] ^ (1 << (bit % 8)));
    accepted += signer.verify("app", value, kNow) ? 1 : 0;
  }
  EXPECT_EQ(accepted, 0);
}

} // namespace
} // namespace corral::protocol

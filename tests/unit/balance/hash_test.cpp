#include <bit>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "balance/hash.h"

namespace corral::balance {
namespace {

TEST(HashTest, SeedsGiveDifferentHashesOfTheSameBytes) {
  EXPECT_NE(hashBytes("s1", 1), hashBytes("s1", 2));
}

// A zero-padded last word would make "a" and "a\0" collide if the length were not hashed.
TEST(HashTest, TrailingZeroBytesChangeTheHash) {
  EXPECT_NE(hashBytes(std::string("a"), 0), hashBytes(std::string("a\0", 2), 0));
  EXPECT_NE(hashBytes("", 0), hashBytes(std::string(8, '\0'), 0));
}

// Avalanche: flipping any one input bit flips each output bit with probability about 1/2, so
// about 32 of 64 on average, wherever the bit is (first word, last partial word).
TEST(HashTest, FlippingOneInputBitFlipsAboutHalfTheOutputBits) {
  std::mt19937_64 random(3);
  int flipped = 0, trials = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(13, '\0');
    for (char& byte : bytes) {
      byte = static_cast<char>(random());
    }
    const uint64_t before = hashBytes(bytes, 42);
    const size_t bit = random() % (bytes.size() * 8);
    bytes[bit / 8] = static_cast<char>(bytes[bit / 8] ^ (1 << (bit % 8)));
    flipped += std::popcount(before ^ hashBytes(bytes, 42));
    ++trials;
  }
  EXPECT_NEAR(flipped / double(trials), 32.0, 0.5);
}

} // namespace
} // namespace corral::balance

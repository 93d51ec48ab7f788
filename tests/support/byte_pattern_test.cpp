#include <gtest/gtest.h>

#include <string>

#include "tests/support/byte_pattern.h"

namespace corral::test {
namespace {

// A transfer is read in whatever pieces the network delivers, so the pattern and the digest must
// not depend on how the bytes are split.
TEST(BytePatternTest, SameBytesHoweverTheReadsAreSplit) {
  std::string whole(1000, '\0');
  PatternStream(42).fill(whole);
  std::string pieces;
  PatternStream split(42);
  for (size_t size : {1, 7, 8, 3, 500, 481}) {
    std::string piece(size, '\0');
    split.fill(piece);
    pieces += piece;
  }
  EXPECT_EQ(pieces, whole);
  Digest digest;
  digest.update(std::string_view(whole).substr(0, 333));
  digest.update(std::string_view(whole).substr(333));
  EXPECT_EQ(digest, patternDigest(42, 1000));
}

// The digest notices what a broken relay does: a lost byte, a swapped pair, another seed.
TEST(BytePatternTest, DigestNoticesLostSwappedAndForeignBytes) {
  std::string bytes(4096, '\0');
  PatternStream(1).fill(bytes);
  auto digestOf = [](std::string_view text) {
    Digest digest;
    digest.update(text);
    return digest;
  };
  std::string swapped = bytes;
  std::swap(swapped[100], swapped[101]);
  ASSERT_NE(bytes[100], bytes[101]);
  EXPECT_NE(digestOf(swapped), digestOf(bytes));
  EXPECT_NE(digestOf(std::string_view(bytes).substr(1)).fnv, patternDigest(1, 4095).fnv);
  EXPECT_NE(patternDigest(1, 4096), patternDigest(2, 4096));
}

} // namespace
} // namespace corral::test

#include <gtest/gtest.h>

#include "config/yaml_reader.h"

namespace corral::config {
namespace {

constexpr std::array<std::string_view, 4> kKeys{"listen", "interval", "cwd", "health_check"};

TEST(EditDistanceTest, CountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(editDistance("interval", "interval"), 0u);
  EXPECT_EQ(editDistance("intervall", "interval"), 1u);
  EXPECT_EQ(editDistance("intrval", "interval"), 1u);
  EXPECT_EQ(editDistance("interwal", "interval"), 1u);
  EXPECT_EQ(editDistance("", "abc"), 3u);
}

// A swapped pair of letters is the most common typo; counting it as one edit keeps "listne"
// as close to "listen" as a missing letter would be.
TEST(EditDistanceTest, CountsASwappedPairOfLettersAsOneEdit) {
  EXPECT_EQ(editDistance("listne", "listen"), 1u);
}

TEST(EditDistanceTest, IgnoresCase) {
  EXPECT_EQ(editDistance("Listen", "listen"), 0u);
}

// Only three rows of the table are kept, whichever word is the longer.
TEST(EditDistanceTest, IsTheSameWhicheverWordComesFirst) {
  EXPECT_EQ(editDistance("abc", ""), 3u);
  EXPECT_EQ(editDistance("listen", "listne"), 1u);
  EXPECT_EQ(editDistance("health_check", "helth_chek"), editDistance("helth_chek", "health_check"));
  EXPECT_EQ(editDistance(std::string(100000, 'x') + "listen", "listen"), 100000u);
}

// Every known word is short; a word longer than any of them gets no suggestion, however close.
TEST(ClosestWordTest, SuggestsNothingForAWordLongerThanTheLimit) {
  const std::string long_word = "health_check" + std::string(kMaxSuggestedWordLength, '_');
  const std::array<std::string_view, 1> known{long_word.substr(0, long_word.size() - 1)};
  EXPECT_EQ(closestWord(long_word, known), std::nullopt);
  EXPECT_EQ(closestWord(std::string(10 << 20, 'x'), kKeys), std::nullopt);
}

TEST(ClosestWordTest, SuggestsTheKnownWordOneTypoAway) {
  EXPECT_EQ(closestWord("helth_check", kKeys), "health_check");
  EXPECT_EQ(closestWord("listne", kKeys), "listen");
  EXPECT_EQ(closestWord("cmd", kKeys), "cwd");
}

TEST(ClosestWordTest, SuggestsNothingForAnUnrelatedWord) {
  EXPECT_EQ(closestWord("balance", kKeys), std::nullopt);
  EXPECT_EQ(closestWord("timeout", kKeys), std::nullopt);
}

// Two-letter words are one edit from each other; "v3" is not a typo of "v1".
TEST(ClosestWordTest, SuggestsNothingForAShortWordWithADifferentLetter) {
  constexpr std::array<std::string_view, 3> kVersions{"off", "v1", "v2"};
  EXPECT_EQ(closestWord("v3", kVersions), std::nullopt);
  EXPECT_EQ(closestWord("V2", kVersions), "v2");
}

} // namespace
} // namespace corral::config

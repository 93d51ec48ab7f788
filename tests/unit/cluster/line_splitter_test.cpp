#include "cluster/line_splitter.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace corral::cluster {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> split(const std::vector<std::string>& chunks, size_t max = 16,
                               bool flush = false) {
  LineSplitter splitter(max);
  std::vector<std::string> lines;
  auto collect = [&lines](std::string_view line) { lines.emplace_back(line); };
  for (const auto& chunk : chunks) {
    splitter.feed(chunk, collect);
  }
  if (flush) {
    splitter.flush(collect);
  }
  return lines;
}

// Pipe reads end anywhere: a line split over several reads comes out whole, once.
TEST(LineSplitterTest, JoinsALineSplitAcrossReads) {
  EXPECT_THAT(split({"hel", "lo\nwor", "ld\n"}), ElementsAre("hello", "world"));
}

TEST(LineSplitterTest, DropsTheCarriageReturnOfCrLf) {
  EXPECT_THAT(split({"a\r\nb\n"}), ElementsAre("a", "b"));
}

TEST(LineSplitterTest, KeepsEmptyLines) { EXPECT_THAT(split({"\n\nx\n"}), ElementsAre("", "", "x")); }

TEST(LineSplitterTest, HoldsAnUnterminatedLineUntilFlushed) {
  EXPECT_THAT(split({"done\npartial"}), ElementsAre("done"));
  EXPECT_THAT(split({"done\npartial"}, 16, /*flush=*/true), ElementsAre("done", "partial"));
}

// A child that never writes a newline cannot grow corral's memory: the line is cut at the limit,
// marked, and the rest up to its newline is dropped.
TEST(LineSplitterTest, CutsALongLineAndDropsItsRest) {
  const std::string cut = std::string(8, 'x') + std::string(LineSplitter::kCutMarker);
  EXPECT_THAT(split({"xxxxx", "xxxxxxxxxx", "xxxx\nnext\n"}, 8), ElementsAre(cut, "next"));
}

TEST(LineSplitterTest, ALineOfExactlyTheLimitIsNotCut) {
  EXPECT_THAT(split({"12345678\n"}, 8), ElementsAre("12345678"));
}

TEST(LineSplitterTest, FlushAfterACutDoesNotRepeatTheLine) {
  EXPECT_THAT(split({"xxxxxxxxxxxx"}, 8, /*flush=*/true),
              ElementsAre(std::string(8, 'x') + std::string(LineSplitter::kCutMarker)));
}

} // namespace
} // namespace corral::cluster

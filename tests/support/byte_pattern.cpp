#include "tests/support/byte_pattern.h"

#include <algorithm>
#include <array>

namespace corral::test {

void Digest::update(std::span<const char> bytes) {
  constexpr uint64_t kFnvPrime = 1099511628211ULL;
  for (char byte : bytes) {
    fnv = (fnv ^ static_cast<unsigned char>(byte)) * kFnvPrime;
  }
  count += bytes.size();
}

std::ostream& operator<<(std::ostream& out, const Digest& digest) {
  return out << "{count " << digest.count << ", fnv " << std::hex << digest.fnv << std::dec << "}";
}

// splitmix64 (Steele, Lea, Flood 2014): fast, and every seed gives a full-period stream.
uint64_t PatternStream::nextWord() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void PatternStream::fill(std::span<char> out) {
  for (char& byte : out) {
    if (word_bytes_left_ == 0) {
      word_ = nextWord();
      word_bytes_left_ = 8;
    }
    byte = static_cast<char>(word_ & 0xff);
    word_ >>= 8;
    --word_bytes_left_;
  }
}

Digest patternDigest(uint64_t seed, uint64_t size) {
  PatternStream stream(seed);
  Digest digest;
  std::array<char, 64 * 1024> chunk;
  while (digest.count < size) {
    auto length = static_cast<size_t>(std::min<uint64_t>(chunk.size(), size - digest.count));
    stream.fill(std::span(chunk.data(), length));
    digest.update(std::span(chunk.data(), length));
  }
  return digest;
}

} // namespace corral::test

#pragma once
// Deterministic bytes and a running checksum, so that a transfer of hundreds of MiB can be checked
// end to end without keeping a copy: the sender generates PatternStream(seed), the receiver folds
// what it gets into a Digest and compares it with patternDigest(seed, size).

#include <cstdint>
#include <ostream>
#include <span>

namespace corral::test {

/// Byte count plus 64-bit FNV-1a of the bytes, in order. FNV-1a is not cryptographic; it only has
/// to notice a lost, duplicated, reordered or altered byte, which it does with high probability.
struct Digest {
  uint64_t count = 0;
  uint64_t fnv = 14695981039346656037ULL; // FNV-1a 64-bit offset basis

  void update(std::span<const char> bytes);
  friend bool operator==(const Digest&, const Digest&) = default;
};

std::ostream& operator<<(std::ostream& out, const Digest& digest);

/// An endless stream of pseudo-random bytes (splitmix64 words, little end first). Two streams with
/// the same seed produce the same bytes however the reads are split.
class PatternStream {
public:
  explicit PatternStream(uint64_t seed) : state_(seed) {}
  void fill(std::span<char> out);

private:
  uint64_t nextWord();

  uint64_t state_;
  uint64_t word_ = 0;
  int word_bytes_left_ = 0;
};

/// The digest of the first `size` bytes of PatternStream(seed).
Digest patternDigest(uint64_t seed, uint64_t size);

} // namespace corral::test

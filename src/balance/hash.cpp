#include "balance/hash.h"

#include <algorithm>

namespace corral::balance {
namespace {

// The golden ratio in 64 bits, splitmix64's increment: spreads small lengths over the whole word.
constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

uint64_t readLittleEndian(std::string_view bytes) {
  uint64_t word = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    word |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  }
  return word;
}

} // namespace

// Each 8-byte word goes through a full mix64 round after being folded into the state. The length
// enters the initial state, so "a" and "a\0" (the same zero-padded last word) hash apart.
uint64_t hashBytes(std::string_view bytes, uint64_t seed) {
  uint64_t state = mix64(seed ^ (bytes.size() * kGolden));
  while (!bytes.empty()) {
    const size_t take = std::min<size_t>(bytes.size(), 8);
    state = mix64(state ^ readLittleEndian(bytes.substr(0, take)));
    bytes.remove_prefix(take);
  }
  return state;
}

} // namespace corral::balance

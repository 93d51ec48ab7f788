#pragma once
// The one non-cryptographic hash of balance/: it places servers in the Maglev table and turns
// client addresses into keys. Its output is part of what users depend on (a change moves every
// ip_hash client on upgrade; see the golden test in maglev_table_test.cpp), so it is written out
// here rather than taken from a library whose next version might change it.

#include <cstdint>
#include <string_view>

namespace corral::balance {

/// splitmix64's finalizer (Steele, Lea, Flood, "Fast Splittable Pseudorandom Number Generators",
/// OOPSLA 2014; the constants are Stafford's "Mix13", as in java.util.SplittableRandom). A
/// bijection on 64 bits in which every input bit flips each output bit with probability ~1/2.
constexpr uint64_t mix64(uint64_t value) {
  value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
  value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
  return value ^ (value >> 31);
}

/// Hashes `bytes` to 64 bits; different seeds give independent hashes of the same bytes. The bytes
/// are read little-endian whatever the machine, so every node computes the same value.
uint64_t hashBytes(std::string_view bytes, uint64_t seed);

} // namespace corral::balance

#pragma once
// FUZZ_CHECK(condition): a property every input must keep. A failure aborts, which both libFuzzer
// and tests/fuzz/driver.cpp report as a crash with the input that caused it.

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                      \
  do {                                                                                             \
    if (!(condition)) {                                                                            \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__, __LINE__, #condition);      \
      std::abort();                                                                                \
    }                                                                                              \
  } while (false)

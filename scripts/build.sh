#!/usr/bin/env bash
# Usage: scripts/build.sh [release|sanitize|fuzz|tsan]
#   release   build/       optimised; what the demo and the benchmarks run
#   sanitize  build-asan/  AddressSanitizer + UBSan at -O1, without the micro benchmarks
#   fuzz      build-fuzz/  clang 19 + libFuzzer (with ASan + UBSan): the fuzz targets and the
#                          libraries they use only (tests/fuzz)
#   tsan      build-tsan/  ThreadSanitizer at -O1: the corral binary and the tests labelled tsan
# CORRAL_BUILD_DIR, CORRAL_ASAN_BUILD_DIR, CORRAL_FUZZ_BUILD_DIR and CORRAL_TSAN_BUILD_DIR choose
# other directories; CORRAL_FUZZ_SECONDS sets how long each fuzz test runs (default 3).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

mode=${1:-release}
targets=() # empty: everything
debug_o1=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g"
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCORRAL_BENCH=OFF)
case $mode in
  release)
    dir=$(build_dir)
    options=(-DCMAKE_BUILD_TYPE=Release -DCORRAL_SANITIZE=OFF)
    ;;
  sanitize)
    dir=$(build_dir "${CORRAL_ASAN_BUILD_DIR:-build-asan}")
    # -O1 keeps the sanitized tests fast enough while the stack traces stay readable.
    options=("${debug_o1[@]}" -DCORRAL_SANITIZE=ON)
    ;;
  fuzz)
    dir=$(build_dir "${CORRAL_FUZZ_BUILD_DIR:-build-fuzz}")
    options=("${debug_o1[@]}" -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19
      -DCORRAL_LIBFUZZER=ON -DCORRAL_FUZZ_SECONDS="${CORRAL_FUZZ_SECONDS:-3}")
    targets=(corral_fuzz)
    ;;
  tsan)
    dir=$(build_dir "${CORRAL_TSAN_BUILD_DIR:-build-tsan}")
    options=("${debug_o1[@]}" -DCORRAL_TSAN=ON)
    targets=(corral_tsan)
    ;;
  *)
    echo "usage: $0 [release|sanitize|fuzz|tsan]" >&2
    exit 2
    ;;
esac

# ccache, when installed, makes rebuilds in several worktrees cheap; CI machines have none.
if command -v ccache >/dev/null; then
  options+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$CORRAL_ROOT" -B "$dir" -G Ninja "${options[@]}"
cmake --build "$dir" -j"$(nproc)" ${targets[@]:+--target "${targets[@]}"}

#!/usr/bin/env bash
# Usage: scripts/build.sh [release|sanitize]
#   release   build/       optimised; what the demo and the benchmarks run
#   sanitize  build-asan/  AddressSanitizer + UBSan at -O1, without the micro benchmarks
# CORRAL_BUILD_DIR and CORRAL_ASAN_BUILD_DIR choose other directories.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

mode=${1:-release}
case $mode in
  release)
    dir=$(build_dir)
    options=(-DCMAKE_BUILD_TYPE=Release -DCORRAL_SANITIZE=OFF)
    ;;
  sanitize)
    dir=$(build_dir "${CORRAL_ASAN_BUILD_DIR:-build-asan}")
    # -O1 keeps the sanitized tests fast enough while the stack traces stay readable.
    options=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g"
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCORRAL_SANITIZE=ON -DCORRAL_BENCH=OFF)
    ;;
  *)
    echo "usage: $0 [release|sanitize]" >&2
    exit 2
    ;;
esac

# ccache, when installed, makes rebuilds in several worktrees cheap; CI machines have none.
if command -v ccache >/dev/null; then
  options+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$CORRAL_ROOT" -B "$dir" -G Ninja "${options[@]}"
cmake --build "$dir" -j"$(nproc)"

#!/usr/bin/env bash
# Builds corral four times and runs every test: the release build runs all of ctest, the sanitizer
# build (ASan + UBSan) runs everything but the benchmarks and the docker cluster tests, the fuzz
# build (clang, libFuzzer) fuzzes each parser of outside input for CORRAL_FUZZ_SECONDS (default
# 50: ten targets, two at a time, about 4.5 minutes), and the ThreadSanitizer build runs the
# integration tests labelled tsan (tests/tsan).
# Ends with one line "total: N passed, N failed"; exits non-zero when any test failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

scripts/setup.sh
scripts/build.sh release
scripts/build.sh sanitize
export CORRAL_FUZZ_SECONDS=${CORRAL_FUZZ_SECONDS:-50}
scripts/build.sh fuzz
scripts/build.sh tsan

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
summaries=()
total_passed=0
total_failed=0

# run_ctest NAME DIR ARGS...: runs ctest with its output shown and kept, then reads its summary
# line, "100% tests passed, 0 tests failed out of 42". No such line counts as one failure.
run_ctest() {
  local name=$1 dir=$2
  shift 2
  echo "== ctest: $name ($dir) =="
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j2 "$@" 2>&1 | tee "$logs/$name" || true
  local line failed all
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$logs/$name" | tail -n 1 || true)
  if [[ -z $line ]]; then
    summaries+=("$name: ctest gave no summary")
    total_failed=$((total_failed + 1))
    return
  fi
  failed=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
  all=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  summaries+=("$name: $((all - failed)) of $all tests passed")
  total_passed=$((total_passed + all - failed))
  total_failed=$((total_failed + failed))
}

# The release run includes the docker-compose cluster test (label cluster, tests/cluster/): it
# starts dockerd when none answers, builds the images (corral compiled inside Docker) and brings
# the cluster up; about 5 minutes cold on an idle 2-core machine. It is skipped (exit 77, with
# the reason) only when Docker cannot be installed or started on the machine.
run_ctest release "$(build_dir)"
# Memory errors (use after free, overflows), leaks and undefined behaviour fail the test; the
# corral processes that the integration tests start inherit these options too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
run_ctest sanitize "$(build_dir "${CORRAL_ASAN_BUILD_DIR:-build-asan}")" -LE 'bench|cluster'
# A crash input is kept in build-fuzz/tests/fuzz/crashes/; it becomes a seed in tests/fuzz/corpus
# (a regression input, replayed by the driver builds too) once the bug is fixed.
run_ctest fuzz "$(build_dir "${CORRAL_FUZZ_BUILD_DIR:-build-fuzz}")" -L fuzz
# Any ThreadSanitizer report, from the test or from a corral it started, fails the test
# (tests/tsan/run_tsan.sh).
run_ctest tsan "$(build_dir "${CORRAL_TSAN_BUILD_DIR:-build-tsan}")" -L tsan

scripts/docker.sh stop || true # stops only a dockerd that scripts/docker.sh started (by PID)

echo "== summary =="
printf '%s\n' "${summaries[@]}"
echo "total: $total_passed passed, $total_failed failed"
((total_failed == 0))

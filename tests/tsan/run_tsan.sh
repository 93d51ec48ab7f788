#!/usr/bin/env bash
# run_tsan.sh LOGDIR TEST_BINARY ARGS...: runs a ThreadSanitizer-built gtest binary; fails when it
# fails or when any process of the run wrote a ThreadSanitizer report. The report of every process
# (the test itself, each corral it starts, `corral ctl`, the demo backends) goes to its own file
# LOGDIR/tsan.PID (log_path), so a report counts even from a corral that the harness ends with
# SIGKILL. halt_on_error stops a process at its first report with exit code 66, which the harness
# sees as a crash.
set -uo pipefail
logdir=$1
shift
rm -rf "$logdir"
mkdir -p "$logdir"
here=$(cd "$(dirname "$0")" && pwd)
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:history_size=7:log_path=$logdir/tsan:suppressions=$here/suppressions.txt${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
"$@" 2>&1 | tee "$logdir/output"
status=${PIPESTATUS[0]}
# A filter that matches nothing (tests renamed) would pass without testing anything.
if ! grep -qE '^\[==========\] [1-9][0-9]* tests? from .* ran' "$logdir/output"; then
  echo "run_tsan.sh: no test ran" >&2
  exit 1
fi
reports=("$logdir"/tsan.*)
if [[ -e ${reports[0]} ]]; then
  for report in "${reports[@]}"; do
    echo "=== ThreadSanitizer report: $report ==="
    cat "$report"
  done
  echo "run_tsan.sh: ${#reports[@]} process(es) reported by ThreadSanitizer" >&2
  exit 1
fi
exit "$status"

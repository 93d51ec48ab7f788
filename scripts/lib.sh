# Helpers shared by scripts/demo.sh and the bench/ scripts. Source it; do not run it.
#
# Every process started with start_child is recorded by PID and stopped by stop_children
# (TERM, then KILL after a deadline), so a script that traps EXIT leaves nothing behind.

CORRAL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CHILD_PIDS=()

die() {
  echo "error: $*" >&2
  exit 1
}

# build_dir [DIR]: DIR (relative to the repository) or $CORRAL_BUILD_DIR or build/, made absolute.
build_dir() {
  local dir=${1:-${CORRAL_BUILD_DIR:-build}}
  [[ $dir = /* ]] || dir=$CORRAL_ROOT/$dir
  echo "$dir"
}

# start_child OUT ERR CMD...: runs CMD in the background; sets CHILD_PID.
start_child() {
  local out=$1 err=$2
  shift 2
  "$@" >"$out" 2>"$err" &
  CHILD_PID=$!
  CHILD_PIDS+=("$CHILD_PID")
}

stop_children() {
  local pid deadline=$((SECONDS + 10))
  for pid in "${CHILD_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${CHILD_PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  CHILD_PIDS=()
}

# stop_child PID: stops one process that start_child started (TERM, then KILL after 10 s) and
# forgets it, so stop_children never signals a PID that the system may have given to another.
stop_child() {
  local pid=$1 deadline=$((SECONDS + 10)) kept=() other
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for other in "${CHILD_PIDS[@]}"; do
    [[ $other == "$pid" ]] || kept+=("$other")
  done
  CHILD_PIDS=("${kept[@]}")
}

# wait_for PID TIMEOUT WHAT CMD...: polls CMD until it succeeds; fails early if PID exits, so a
# process that dies on a bad config is reported at once rather than after the timeout.
wait_for() {
  local pid=$1 timeout=$2 what=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    kill -0 "$pid" 2>/dev/null || { echo "error: $what: process $pid exited" >&2; return 1; }
    ((SECONDS < deadline)) || { echo "error: $what: not ready after ${timeout}s" >&2; return 1; }
    sleep 0.1
  done
}

# show_log FILE: the end of a child's log, to explain a failure.
show_log() {
  echo "--- last lines of $1 ---" >&2
  tail -n 20 "$1" >&2 || true
}

# start_demo_backend BUILD NAME PORT LOGDIR: PORT 0 lets the kernel choose; sets BACKEND_PORT.
start_demo_backend() {
  local build=$1 name=$2 port=$3 logdir=$4
  local log=$logdir/$name.log
  start_child /dev/null "$log" "$build/examples/demo-backend/corral-demo-backend" \
    --name "$name" --port "$port" --listen 127.0.0.1
  wait_for "$CHILD_PID" 10 "$name" grep -qs 'listening on' "$log" || { show_log "$log"; return 1; }
  BACKEND_PORT=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$log")
}

# start_corral BUILD CONFIG LOGDIR [LAUNCHER...]: runs `corral run` and waits for its ready file;
# sets CORRAL_PID. LAUNCHER is a command that execs the rest, such as `taskset -c 0`.
start_corral() {
  local build=$1 config=$2 logdir=$3
  rm -f "$logdir/corral.ready"
  start_child "$logdir/corral.out" "$logdir/corral.err" "${@:4}" "$build/corral" run -c "$config" \
    --ready-file "$logdir/corral.ready" --log-level info
  CORRAL_PID=$CHILD_PID
  wait_for "$CORRAL_PID" 10 corral test -s "$logdir/corral.ready" || {
    show_log "$logdir/corral.err"
    return 1
  }
}

# frontend_address READYFILE NAME: the address corral actually bound for frontend NAME.
frontend_address() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["frontends"][sys.argv[2]])' "$1" "$2"
}

# free_port: a loopback port that is free now, for programs that cannot report what they bound.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

#!/usr/bin/env bash
# Usage: bench/run.sh [BUILD_DIR]        (default build/, made by scripts/build.sh release)
#
# Compares corral with HAProxy on this machine: both relay TCP on one thread, round robin over
# the same corral-demo-backend instances on 127.0.0.1, and wrk drives each in turn, with
# keep-alive and with a new connection per request, in plain TCP and over TLS (both proxies
# terminate TLS with the same ECDSA P-256 certificate, made here with openssl; tls-close is a
# handshake per request, which wrk resumes with its previous connection's ticket). Rounds alternate which proxy
# goes first, so a drift in machine load does not favour one; the table shows the median of the
# rounds.
#
# Environment: ROUNDS (3), DURATION (5s), CONNECTIONS (50), THREADS (1, wrk threads),
# BACKENDS (4), WARMUP (1, seconds per proxy before measuring; 0 skips), PROXIES ("haproxy corral"),
# SCENARIOS ("keep-alive close tls-keep-alive tls-close").
# Exits 1 when a run got a reply other than 2xx/3xx or no reply at all.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../scripts/lib.sh"
source "$here/lib.sh"

build=$(build_dir "${1:-}")
rounds=${ROUNDS:-3}
duration=${DURATION:-5s}
connections=${CONNECTIONS:-50}
threads=${THREADS:-1}
backends=${BACKENDS:-4}
warmup=${WARMUP:-1}
read -r -a proxies <<<"${PROXIES:-haproxy corral}"
read -r -a scenarios <<<"${SCENARIOS:-keep-alive close tls-keep-alive tls-close}"

work=$(mktemp -d)
trap 'stop_children; rm -rf "$work"' EXIT
failures=0

check_tools() {
  command -v wrk >/dev/null || die "wrk is missing: run scripts/setup.sh"
  [[ -x $build/examples/demo-backend/corral-demo-backend ]] ||
    die "no corral-demo-backend in $build: run scripts/build.sh release"
  if [[ " ${proxies[*]} " == *" haproxy "* ]]; then
    command -v haproxy >/dev/null || die "haproxy is missing: run scripts/setup.sh"
  fi
  if [[ " ${proxies[*]} " == *" corral "* ]]; then
    [[ -x $build/corral ]] || die "no corral in $build: run scripts/build.sh release"
  fi
}

start_backends() {
  local i
  backend_ports=()
  for ((i = 1; i <= backends; ++i)); do
    start_demo_backend "$build" "demo-$i" 0 "$work"
    backend_ports+=("$BACKEND_PORT")
  done
}

start_haproxy() {
  local port tls_port servers="" i
  port=$(free_port)
  for i in "${!backend_ports[@]}"; do
    servers+="  server s$((i + 1)) 127.0.0.1:${backend_ports[i]}"$'\n'
  done
  tls_port=$(free_port)
  fill "$here/haproxy.cfg.in" "$work/haproxy.cfg" "PORT=$port" "TLS_PORT=$tls_port" \
    "PEM=$work/bench-haproxy.pem" "SERVERS=$servers"
  # -db keeps HAProxy in the foreground as one process, so its PID is the one recorded here.
  start_child /dev/null "$work/haproxy.log" haproxy -f "$work/haproxy.cfg" -db
  target[haproxy]=http://127.0.0.1:$port
  target[haproxy-tls]=https://127.0.0.1:$tls_port
  wait_for "$CHILD_PID" 10 haproxy curl -fs -o /dev/null "${target[haproxy]}/" ||
    { show_log "$work/haproxy.log"; exit 1; }
}

start_corral_proxy() {
  local servers="" i
  for i in "${!backend_ports[@]}"; do
    servers+="      - {address: \"127.0.0.1:${backend_ports[i]}\", name: s$((i + 1))}"$'\n'
  done
  fill "$here/corral.yaml.in" "$work/corral.yaml" "CERT=$work/bench.pem" "KEY=$work/bench.key" \
    "SERVERS=$servers"
  start_corral "$build" "$work/corral.yaml" "$work" || exit 1
  target[corral]=http://$(frontend_address "$work/corral.ready" bench)
  target[corral-tls]=https://$(frontend_address "$work/corral.ready" bench_tls)
}

# measure PROXY SCENARIO ROUND: one wrk run; appends req/s and p99 (ms) to the result files.
measure() {
  local proxy=$1 scenario=$2 round=$3 out=$work/wrk-$1-$2-$3.txt
  local header=() url=${target[$proxy]}
  [[ $scenario == *close ]] && header=(-H 'Connection: close')
  [[ $scenario == tls-* ]] && url=${target[$proxy-tls]}
  wrk -t"$threads" -c"$connections" -d"$duration" --latency "${header[@]}" "$url/" >"$out"
  local rps p99 bad errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p99=$(wrk_latency_ms 99 "$out")
  bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
  errors=$(sed -n 's/^ *Socket errors: //p' "$out")
  echo "round $round  $scenario  $proxy: ${rps:-0} req/s, p99 ${p99:-?} ms${bad:+, $bad bad replies}${errors:+, socket errors: $errors}"
  echo "${rps:-0}" >>"$work/rps-$proxy-$scenario"
  echo "${p99:-0}" >>"$work/p99-$proxy-$scenario"
  if [[ -n $bad || -z $rps || $rps == 0* ]]; then
    failures=$((failures + 1))
    show_log "$out"
  fi
}

warm_up() {
  ((warmup > 0)) || return 0
  local proxy
  for proxy in "${proxies[@]}"; do
    wrk -t1 -c"$connections" -d"${warmup}s" "${target[$proxy]}/" >/dev/null
    wrk -t1 -c"$connections" -d"${warmup}s" "${target[$proxy-tls]}/" >/dev/null
  done
}

print_table() {
  echo
  echo "corral vs HAProxy $(haproxy -v 2>/dev/null | awk 'NR == 1 {print $3}'): median of $rounds rounds," \
    "wrk -t$threads -c$connections -d$duration, $backends backends, $(nproc) cores," \
    "load average $load_before before the run"
  echo
  echo "| scenario | haproxy req/s | corral req/s | corral/haproxy | haproxy p99 ms | corral p99 ms |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  local scenario h c ratio
  for scenario in "${scenarios[@]}"; do
    ratio=-
    h=$(median "$work/rps-haproxy-$scenario")
    c=$(median "$work/rps-corral-$scenario")
    [[ $h != - && $c != - ]] && ratio=$(awk -v h="$h" -v c="$c" 'BEGIN {printf "%.2f", (h > 0 ? c / h : 0)}')
    echo "| $scenario | $(number %.0f "$h") | $(number %.0f "$c") | $ratio |" \
      "$(number %.2f "$(median "$work/p99-haproxy-$scenario")") |" \
      "$(number %.2f "$(median "$work/p99-corral-$scenario")") |"
  done
}

main() {
  check_tools
  load_before=$(cut -d ' ' -f 1 /proc/loadavg) # other work on the machine skews every number
  declare -gA target=()
  make_certificate "$work"
  start_backends
  local proxy round scenario order
  for proxy in "${proxies[@]}"; do
    case $proxy in
      haproxy) start_haproxy ;;
      corral) start_corral_proxy ;;
      *) die "unknown proxy '$proxy' in PROXIES" ;;
    esac
  done
  warm_up
  for ((round = 1; round <= rounds; ++round)); do
    order=("${proxies[@]}")
    ((round % 2)) || order=($(printf '%s\n' "${proxies[@]}" | tac))
    for scenario in "${scenarios[@]}"; do
      for proxy in "${order[@]}"; do
        measure "$proxy" "$scenario" "$round"
      done
    done
  done
  print_table
  ((failures == 0)) || die "$failures run(s) got bad replies or none"
}

main

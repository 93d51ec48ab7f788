#!/usr/bin/env bash
# Usage: bench/metrics_cost.sh [BUILD_DIR]   (default build/, made by scripts/build.sh release)
#
# What Prometheus metrics cost the proxy (issue 8: under 3% of requests/s). Two corral processes
# with the same configuration, one worker each, round robin over the same corral-demo-backend
# instances on 127.0.0.1, except that "on" has `metrics:` and is scraped at /metrics every second
# while wrk drives it, as Prometheus would. "off" has no metrics endpoint and nobody scrapes it.
# The workers count into their per-thread cells either way (the admin API's status reads them
# too), so the difference is the exposer thread, the scrapes, and the scraper's own CPU on this
# machine (curl runs here, Prometheus would not): the estimate errs on the costly side.
#
# Each round measures on and off back to back, alternating which goes first, so a drift in
# machine load falls on both; the cost is the median over rounds of (1 - on/off), per scenario:
# keep-alive (requests on open connections) and close (a new connection per request, the most
# counting per request). Requests/s on a shared machine swing with everything else running, so
# each run also reports corral's own CPU time per request (utime + stime from /proc/PID/stat over
# the run, exposer and scrapes included), which other load disturbs less, and the share of the
# "on" process's CPU that its /metrics threads took: the part of the cost that no load elsewhere
# on the machine can blur.
#
# Environment: ROUNDS (12), DURATION (3, seconds per run), CONNECTIONS (50), BACKENDS (2),
# SCENARIOS ("keep-alive close"), LIMIT (3, percent: exit 1 if a median cost is above it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../scripts/lib.sh"

build=$(build_dir "${1:-}")
rounds=${ROUNDS:-12}
duration=${DURATION:-3}
connections=${CONNECTIONS:-50}
backends=${BACKENDS:-2}
limit=${LIMIT:-3}
read -r -a scenarios <<<"${SCENARIOS:-keep-alive close}"

work=$(mktemp -d)
trap 'stop_children; rm -rf "$work"' EXIT

check_tools() {
  command -v wrk >/dev/null || die "wrk is missing: run scripts/setup.sh"
  command -v curl >/dev/null || die "curl is missing: run scripts/setup.sh"
  [[ -x $build/corral ]] || die "no corral in $build: run scripts/build.sh release"
  [[ -x $build/examples/demo-backend/corral-demo-backend ]] ||
    die "no corral-demo-backend in $build: run scripts/build.sh release"
}

# write_config FILE METRICS_LINE: the same proxy for both variants but the metrics line.
write_config() {
  local i
  {
    echo "workers: 1"
    echo "access_log: off"
    echo "$2"
    echo "frontends: [{name: bench, listen: \"127.0.0.1:0\", backend: app, max_connections: 4096}]"
    echo "backends:"
    echo "  - name: app"
    echo "    servers:"
    for i in "${!backend_ports[@]}"; do
      echo "      - {address: \"127.0.0.1:${backend_ports[i]}\", name: s$((i + 1))}"
    done
  } >"$1"
}

start_variant() {
  local variant=$1 metrics_line=$2
  mkdir -p "$work/$variant"
  write_config "$work/$variant/corral.yaml" "$metrics_line"
  start_corral "$build" "$work/$variant/corral.yaml" "$work/$variant" || exit 1
  pid[$variant]=$CORRAL_PID
  target[$variant]=http://$(frontend_address "$work/$variant/corral.ready" bench)
}

# stop_variant VARIANT: ends that corral (TERM; nothing is open, so the drain is immediate) by
# its PID, and forgets the PID so that stop_children never signals a number the system reused.
stop_variant() {
  local p=${pid[$1]} kept=() c
  kill -TERM "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for c in "${CHILD_PIDS[@]}"; do
    [[ $c == "$p" ]] || kept+=("$c")
  done
  CHILD_PIDS=("${kept[@]}")
}

# start_pair ROUND: both corrals afresh, the first started alternating by round. A process keeps
# whatever core placement and memory layout it started with; a fresh pair per round spreads
# such luck over both variants instead of giving it to one for the whole run.
start_pair() {
  local variants=(off on)
  (($1 % 2)) || variants=(on off)
  for variant in "${variants[@]}"; do
    [[ -z ${pid[$variant]:-} ]] || stop_variant "$variant"
    if [[ $variant == on ]]; then
      start_variant on "metrics: {listen: \"127.0.0.1:0\"}"
    else
      start_variant off ""
    fi
  done
  metrics_url=$(metrics_url)
  for variant in on off; do # warm-up: connections, caches, the first scrape
    wrk -t1 -c"$connections" -d1s "${target[$variant]}/" >/dev/null
  done
}

metrics_url() {
  python3 -c 'import json, sys; print("http://" + json.load(open(sys.argv[1]))["metrics"] + "/metrics")' \
    "$work/on/corral.ready"
}

# scrape_for SECONDS: one scrape a second, as Prometheus with scrape_interval 1s; counts the
# good ones in $work/scrapes.
scrape_for() {
  local i
  : >"$work/scrapes"
  for ((i = 0; i < $1; ++i)); do
    curl -fs -o "$work/last-scrape" "$metrics_url" && echo ok >>"$work/scrapes"
    sleep 1
  done
}

# cpu_ticks PID: user + system CPU time of the process so far, in clock ticks (proc(5): fields 14
# and 15 of /proc/PID/stat, counted after the command name, which may hold spaces).
cpu_ticks() {
  sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# cpu_ns PID PATTERN: nanoseconds on CPU of the process's threads whose name matches PATTERN
# (first field of /proc/PID/task/TID/schedstat: exact, where stat's ticks are 10 ms coarse).
# The threads that serve /metrics are prometheus-cpp's civetweb-*; they also run the collectors.
cpu_ns() {
  local task total=0 ns
  for task in /proc/"$1"/task/*; do
    # shellcheck disable=SC2053 # PATTERN is a glob on purpose
    if [[ $(<"$task/comm") == $2 ]]; then
      read -r ns _ <"$task/schedstat"
      total=$((total + ns))
    fi
  done
  echo "$total"
}

# measure VARIANT SCENARIO: one wrk run of DURATION seconds; appends req/s and CPU microseconds
# per request to result files; prints req/s.
measure() {
  local variant=$1 scenario=$2 out=$work/wrk-$1-$2.txt header=() scraper=""
  [[ $scenario == close ]] && header=(-H 'Connection: close')
  if [[ $variant == on ]]; then
    scrape_for "$duration" &
    scraper=$!
  fi
  local ticks_before ticks_after exposer_before exposer_after all_before all_after
  ticks_before=$(cpu_ticks "${pid[$variant]}")
  exposer_before=$(cpu_ns "${pid[$variant]}" 'civetweb*')
  all_before=$(cpu_ns "${pid[$variant]}" '*')
  wrk -t1 -c"$connections" -d"${duration}s" "${header[@]}" "${target[$variant]}/" >"$out"
  ticks_after=$(cpu_ticks "${pid[$variant]}")
  exposer_after=$(cpu_ns "${pid[$variant]}" 'civetweb*')
  all_after=$(cpu_ns "${pid[$variant]}" '*')
  if [[ $variant == on ]]; then
    echo "$((exposer_after - exposer_before)) $((all_after - all_before))" >>"$work/exposer-share"
  fi
  [[ -z $scraper ]] || wait "$scraper"
  local rps bad requests
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  requests=$(awk '/requests in/ {print $1}' "$out")
  awk -v t=$((ticks_after - ticks_before)) -v hz="$(getconf CLK_TCK)" -v n="${requests:-0}" \
    'BEGIN {print (n > 0 ? t / hz * 1e6 / n : 0)}' >>"$work/cpu-$variant-$scenario"
  bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
  echo "${rps:-0}" >>"$work/rps-$variant-$scenario"
  echo "${rps:-0}"
  # measure runs in $(...): failures go to a file, as a variable would stay in the subshell.
  if [[ -n $bad || -z $rps || $rps == 0* ]]; then
    echo "$variant $scenario: bad replies or none" >>"$work/failures"
    show_log "$out" >&2
  fi
  if [[ $variant == on ]] && (($(wc -l <"$work/scrapes") < duration - 1)); then
    echo "$variant $scenario: $(wc -l <"$work/scrapes") of $duration scrapes" >>"$work/failures"
  fi
}

# median FILE: the middle value, or the mean of the two middle ones.
median() {
  sort -g "$1" | awk '{v[NR] = $1} END {
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

run_round() {
  local round=$1 scenario variant on off order=(on off)
  ((round % 2)) || order=(off on)
  for scenario in "${scenarios[@]}"; do
    local -A rps=()
    for variant in "${order[@]}"; do
      rps[$variant]=$(measure "$variant" "$scenario")
    done
    on=${rps[on]} off=${rps[off]}
    # cost: the share of off's requests/s that on loses (negative when on happened to be faster)
    awk -v on="$on" -v off="$off" 'BEGIN {print (off > 0 ? (1 - on / off) * 100 : 100)}' \
      >>"$work/cost-$scenario"
    printf 'round %d  %-10s  off %7.0f req/s %5.1f us/req  on %7.0f req/s %5.1f us/req  cost %+6.2f%%\n' \
      "$round" "$scenario" "$off" "$(tail -n 1 "$work/cpu-off-$scenario")" "$on" \
      "$(tail -n 1 "$work/cpu-on-$scenario")" "$(tail -n 1 "$work/cost-$scenario")"
  done
}

print_table() {
  local scenario cost over=0
  echo
  echo "metrics on vs off: median of $rounds rounds, wrk -t1 -c$connections -d${duration}s," \
    "$backends backends, 1 worker, $(nproc) cores, load average $load_before before the run"
  echo
  echo "| scenario | off req/s | on req/s | req/s cost: median of per-round (1 - on/off) |" \
    "off CPU us/req | on CPU us/req | CPU cost |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  for scenario in "${scenarios[@]}"; do
    local cpu_off cpu_on
    cost=$(median "$work/cost-$scenario" | awk '{printf "%.2f", $1}')
    cpu_off=$(median "$work/cpu-off-$scenario")
    cpu_on=$(median "$work/cpu-on-$scenario")
    printf '| %s | %.0f | %.0f | %s%% | %.2f | %.2f | %s%% |\n' "$scenario" \
      "$(median "$work/rps-off-$scenario")" "$(median "$work/rps-on-$scenario")" "$cost" \
      "$cpu_off" "$cpu_on" "$(awk -v a="$cpu_on" -v b="$cpu_off" 'BEGIN {printf "%.2f", (a / b - 1) * 100}')"
    awk -v c="$cost" -v l="$limit" 'BEGIN {exit !(c > l)}' && over=1
  done
  echo
  awk '{e += $1; t += $2} END {printf "CPU of the threads serving /metrics in \"on\": %.1f ms of %.1f ms, %.3f%% of its CPU over every run\n", e / 1e6, t / 1e6, (t > 0 ? e / t * 100 : 0)}' \
    "$work/exposer-share"
  grep -m1 '^corral_frontend_connections_total' "$work/last-scrape" |
    sed 's/^/last scrape of "on": /'
  return "$over"
}

main() {
  check_tools
  load_before=$(cut -d ' ' -f 1 /proc/loadavg)
  declare -gA target=() pid=()
  local i round variant
  backend_ports=()
  for ((i = 1; i <= backends; ++i)); do
    start_demo_backend "$build" "demo-$i" 0 "$work" || exit 1
    backend_ports+=("$BACKEND_PORT")
  done
  for ((round = 1; round <= rounds; ++round)); do
    start_pair "$round"
    run_round "$round"
  done
  print_table || die "a median cost is above ${limit}%"
  [[ ! -s $work/failures ]] || die "$(wc -l <"$work/failures") run(s) failed: $(cat "$work/failures")"
}

main

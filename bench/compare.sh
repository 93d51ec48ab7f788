#!/usr/bin/env bash
# Usage: bench/compare.sh [BUILD_DIR]    (default build/, made by scripts/build.sh release)
#
# corral beside its peers in one run: HAProxy (mode tcp, nbthread 1), NGINX's stream module (one
# worker) and floor-relay (bench/floor/: the least a TCP relay can do, with a buffer or with
# splice), each relaying to the same servers on 127.0.0.1, under the same load, one after the
# other. Each proxy runs alone on CPU PROXY_CPU (taskset); wrk, iperf3, the backends and every
# client run on CPU LOAD_CPU, so the proxy's own CPU time (utime + stime from /proc/PID/stat,
# before and after each run) is what the table compares first: other work on the machine moves
# requests/s far more than it moves CPU time per request.
#
# Workloads (SCENARIOS):
#   keep-alive      wrk -c CONNECTIONS on open connections, small replies from BACKENDS
#                   corral-demo-backend instances, round robin
#   close           the same with `Connection: close`: a new connection (and server connection)
#                   per request
#   bulk            one iperf3 stream through the proxy to one iperf3 server: Gbit/s and CPU per
#                   GB; HAProxy also with `option splice-auto` (haproxy-splice) and, when
#                   CORRAL_SPLICE is set, corral with `splice: off` and `splice: auto`
#                   (corral-splice)
#   idle            IDLE_CONNECTIONS connections opened through a fresh proxy process to a backend
#                   that holds them: the growth of the proxy's VmRSS per connection
#   tls-keep-alive  keep-alive over TLS 1.3, terminated by the proxy (same ECDSA P-256
#                   certificate everywhere); floor-relay has no TLS and shows "-"
#   tls-close       a TLS 1.3 handshake per request (wrk resumes with its last connection's ticket)
#   scale           keep-alive through corral with `workers: 1` and `workers: 2` and HAProxy with
#                   `nbthread 1` and `nbthread 2` (separate processes), NOT pinned: the proxy, wrk
#                   and the backends share every CPU. Does CPU per request stay flat from 1 to 2
#                   threads, and do both threads work (the busiest thread's share of the CPU)?
#
# Rounds alternate the order of the proxies, so a drift in machine load does not favour one. The
# tables show the median of the rounds per cell and, per round, each proxy's ratio to HAProxy
# (median of those ratios): for CPU and p99, below 1 is better than HAProxy. In scale the ratio is
# to the same proxy with one thread.
#
# Environment: ROUNDS (3), DURATION (5s, whole seconds), CONNECTIONS (64), THREADS (1, wrk
# threads), BACKENDS (4), WARMUP (1, seconds per proxy before the first round; 0 skips),
# PROXIES ("corral haproxy nginx floor floor-splice"),
# SCENARIOS ("keep-alive close bulk idle tls-keep-alive tls-close scale"), IDLE_CONNECTIONS (10000),
# IDLE_SOURCES (4: clients bind 127.0.0.2 and up), IDLE_RATE (4000 new idle connections a second,
# so that no proxy's connects overflow the backend's listen queue), PROXY_CPU (0), LOAD_CPU (1),
# CORRAL_SPLICE (unset: no `splice:` key; else the value for corral's plain frontends, e.g. auto),
# FLOOR_DIR (where floor-relay and idle-conns are; default BUILD_DIR/bench/floor, else they are
# compiled into a temporary directory, so any corral build directory will do),
# NGINX_STREAM_MODULE (/usr/lib/nginx/modules/ngx_stream_module.so).
# Exits 1 when a run got a bad reply, no reply, no throughput or fewer idle connections than asked.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../scripts/lib.sh"
source "$here/lib.sh"

build=$(build_dir "${1:-}")
rounds=${ROUNDS:-3}
duration=${DURATION:-5s}
connections=${CONNECTIONS:-64}
threads=${THREADS:-1}
backends=${BACKENDS:-4}
warmup=${WARMUP:-1}
idle_count=${IDLE_CONNECTIONS:-10000}
idle_sources=${IDLE_SOURCES:-4}
idle_rate=${IDLE_RATE:-4000}
proxy_cpu=${PROXY_CPU:-0}
load_cpu=${LOAD_CPU:-1}
corral_splice=${CORRAL_SPLICE:-}
stream_module=${NGINX_STREAM_MODULE:-/usr/lib/nginx/modules/ngx_stream_module.so}
read -r -a proxies <<<"${PROXIES:-corral haproxy nginx floor floor-splice}"
read -r -a scenarios <<<"${SCENARIOS:-keep-alive close bulk idle tls-keep-alive tls-close scale}"
[[ $duration =~ ^([0-9]+)s?$ ]] || die "DURATION must be whole seconds, such as 5s; got '$duration'"
seconds=${BASH_REMATCH[1]}

work=$(mktemp -d)
trap 'stop_children; rm -rf "$work"' EXIT
mkdir -p "$work/results"
failures=0
idle_note=""
clock_ticks=$(getconf CLK_TCK)
# The CPUs this script may use, before main() pins it to LOAD_CPU: where scale runs everything.
all_cpus=$(taskset -pc $$ | sed 's/.*: //')
# addr and pid by INSTANCE/PROXY/ENDPOINT: what a load connects to and whose CPU and memory it
# reads (NGINX's worker, not its master); by INSTANCE/PROXY: launched, the PIDs to stop, and log,
# what to show when a run fails.
declare -A addr=() pid=() launched=() log=()

has() { [[ " ${proxies[*]} " == *" $1 "* ]]; }
runs() { [[ " ${scenarios[*]} " == *" $1 "* ]]; }

check_tools() {
  local tool proxy
  for tool in wrk iperf3 taskset openssl curl python3; do
    command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh"
  done
  [[ -x $build/examples/demo-backend/corral-demo-backend ]] ||
    die "no corral-demo-backend in $build: run scripts/build.sh release"
  for proxy in "${proxies[@]}"; do
    case $proxy in
      corral) [[ -x $build/corral ]] || die "no corral in $build: run scripts/build.sh release" ;;
      haproxy) command -v haproxy >/dev/null || die "haproxy is missing: run scripts/setup.sh" ;;
      nginx)
        command -v nginx >/dev/null || die "nginx is missing: run scripts/setup.sh"
        nginx -V 2>&1 | grep -q -- '--with-stream=dynamic' && [[ ! -f $stream_module ]] &&
          die "no NGINX stream module at $stream_module: run scripts/setup.sh (libnginx-mod-stream)"
        ;;
      floor | floor-splice) ;;
      *) die "unknown proxy '$proxy' in PROXIES" ;;
    esac
  done
  ((proxy_cpu != load_cpu && proxy_cpu < $(nproc) && load_cpu < $(nproc))) ||
    die "PROXY_CPU ($proxy_cpu) and LOAD_CPU ($load_cpu) must be two of the $(nproc) CPUs"
}

# find_floor_tools: floor-relay and idle-conns from FLOOR_DIR or the build, else compiled here
# (two small C files), so that a corral build without bench/floor/ can be measured too.
find_floor_tools() {
  floor_dir=${FLOOR_DIR:-$build/bench/floor}
  [[ -x $floor_dir/floor-relay && -x $floor_dir/idle-conns ]] && return
  [[ -z ${FLOOR_DIR:-} ]] || die "no floor-relay and idle-conns in FLOOR_DIR=$FLOOR_DIR"
  floor_dir=$work/floor
  mkdir -p "$floor_dir"
  local source
  for source in floor_relay idle_conns; do
    nice -n 10 cc -O2 -Wall -Wextra -o "$floor_dir/${source//_/-}" "$here/floor/$source.c" ||
      die "could not compile bench/floor/$source.c"
  done
}

# cpu_ticks PID: utime + stime, in clock ticks. The command name in field 2 may hold spaces.
cpu_ticks() {
  local stat fields
  stat=$(<"/proc/$1/stat")
  read -r -a fields <<<"${stat##*) }"
  echo $((fields[11] + fields[12]))
}

rss_kib() {
  awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# record SCENARIO LABEL METRIC ROUND VALUE
record() {
  echo "$4 $5" >>"$work/results/$1.$2.$3"
}

# ---------------------------------------------------------------------------------------------
# Servers: demo backends (HTTP) and one iperf3 server for the rounds; a sink that holds idle
# connections per idle measurement.

start_servers() {
  local i
  backend_ports=() backend_pids=()
  for ((i = 1; i <= backends; ++i)); do
    start_demo_backend "$build" "demo-$i" 0 "$work" || exit 1
    backend_ports+=("$BACKEND_PORT")
    backend_pids+=("$CHILD_PID")
  done
  iperf_address=127.0.0.1:$(free_port)
  start_child "$work/iperf3.log" "$work/iperf3.err" iperf3 -s -B 127.0.0.1 -p "${iperf_address#*:}" \
    --forceflush
  wait_for "$CHILD_PID" 10 iperf3 grep -qs 'Server listening' "$work/iperf3.log" ||
    { show_log "$work/iperf3.err"; exit 1; }
  sink_address=127.0.0.1:9 # the long-running proxies' idle frontends: nothing connects to them
}

# start_sink NAME: a new sink on a new port, so that the TIME_WAIT connections that the last
# idle measurement left (the proxy closes first) do not take the ports that this one needs.
start_sink() {
  sink_log=$work/sink-$1.log
  start_child "$sink_log" "$work/sink-$1.err" "$floor_dir/idle-conns" hold 127.0.0.1:0
  sink_pid=$CHILD_PID
  wait_for "$CHILD_PID" 10 sink grep -qs 'listening on' "$sink_log" ||
    { show_log "$work/sink-$1.err"; exit 1; }
  sink_address=$(sed -n 's/^listening on //p' "$sink_log")
}

sink_held() {
  awk '$1 == "held" {n = $2} END {print n + 0}' "$sink_log"
}

# place_backends CPUS: moves the demo backends (every thread) onto CPUS; scale runs them on all.
place_backends() {
  local p
  for p in "${backend_pids[@]}"; do
    taskset -apc "$1" "$p" >/dev/null
  done
}

# ---------------------------------------------------------------------------------------------
# Proxies. start_PROXY INSTANCE sets addr, pid and launched for INSTANCE ("main" for the
# rounds, "idle-N" for a fresh process per idle measurement), all under taskset -c PROXY_CPU;
# "scale-N" (corral and HAProxy only) is one with N threads, on every CPU.

# threads_of INSTANCE: N for scale-N, else 1.
threads_of() {
  if [[ $1 == scale-* ]]; then echo "${1#scale-}"; else echo 1; fi
}

# cpus_of INSTANCE: where the proxy runs.
cpus_of() {
  if [[ $1 == scale-* ]]; then echo "$all_cpus"; else echo "$proxy_cpu"; fi
}

start_corral_proxy() {
  local instance=$1 dir=$work/$1-corral servers="" splice="" bulk_splice="" i endpoint frontend
  mkdir -p "$dir"
  for i in "${!backend_ports[@]}"; do
    servers+="      - {address: \"127.0.0.1:${backend_ports[i]}\", name: s$((i + 1))}"$'\n'
  done
  if [[ -n $corral_splice ]]; then
    splice="    splice: $corral_splice"
    bulk_splice=$'    splice: off\n  - name: bulk_splice\n    listen: 127.0.0.1:0\n    backend: iperf\n    splice: auto'
  fi
  fill "$here/compare/corral.yaml.in" "$dir/corral.yaml" "WORKERS=$(threads_of "$instance")" \
    "CERT=$work/bench.pem" \
    "KEY=$work/bench.key" "SERVERS=${servers%$'\n'}" "IPERF=$iperf_address" "SINK=$sink_address" \
    "SPLICE=$splice" "BULK_SPLICE=$bulk_splice"
  start_corral "$build" "$dir/corral.yaml" "$dir" taskset -c "$(cpus_of "$instance")" || exit 1
  for endpoint in plain tls bulk bulk-splice idle; do
    frontend=${endpoint/-/_}
    [[ $endpoint == bulk-splice && -z $corral_splice ]] && continue
    addr[$instance/corral/$endpoint]=$(frontend_address "$dir/corral.ready" "$frontend")
    pid[$instance/corral/$endpoint]=$CORRAL_PID
  done
  launched[$instance/corral]=$CORRAL_PID
  log[$instance/corral]=$dir/corral.err
}

start_haproxy() {
  local instance=$1 dir=$work/$1-haproxy servers="" i endpoint
  local -A ports=()
  mkdir -p "$dir"
  for i in "${!backend_ports[@]}"; do
    servers+="  server s$((i + 1)) 127.0.0.1:${backend_ports[i]}"$'\n'
  done
  for endpoint in plain tls bulk bulk-splice idle; do
    ports[$endpoint]=$(free_port)
  done
  fill "$here/compare/haproxy.cfg.in" "$dir/haproxy.cfg" "PLAIN_PORT=${ports[plain]}" \
    "TLS_PORT=${ports[tls]}" "BULK_PORT=${ports[bulk]}" "BULK_SPLICE_PORT=${ports[bulk-splice]}" \
    "IDLE_PORT=${ports[idle]}" "PEM=$work/bench-haproxy.pem" "SERVERS=${servers%$'\n'}" \
    "IPERF=$iperf_address" "SINK=$sink_address" "MAXCONN=$(((nofile - 2 * 64 - 100) / 2))" \
    "NBTHREAD=$(threads_of "$instance")"
  # -db keeps HAProxy in the foreground as one process, so its PID is the one recorded here.
  start_child /dev/null "$dir/haproxy.log" taskset -c "$(cpus_of "$instance")" \
    haproxy -f "$dir/haproxy.cfg" -db
  for endpoint in "${!ports[@]}"; do
    addr[$instance/haproxy/$endpoint]=127.0.0.1:${ports[$endpoint]}
    pid[$instance/haproxy/$endpoint]=$CHILD_PID
  done
  launched[$instance/haproxy]=$CHILD_PID
  log[$instance/haproxy]=$dir/haproxy.log
  wait_for "$CHILD_PID" 10 haproxy curl -fs -o /dev/null "http://127.0.0.1:${ports[plain]}/" ||
    { show_log "$dir/haproxy.log"; exit 1; }
}

# first_child PID: the first child process of PID (NGINX's worker); fails while there is none.
first_child() {
  local children
  children=$(cat "/proc/$1/task/$1/children" 2>/dev/null) && [[ -n $children ]] || return 1
  echo "${children%% *}"
}

start_nginx() {
  local instance=$1 dir=$work/$1-nginx servers="" i endpoint load_module="" worker
  local -A ports=()
  mkdir -p "$dir"
  for i in "${!backend_ports[@]}"; do
    servers+="    server 127.0.0.1:${backend_ports[i]};"$'\n'
  done
  for endpoint in plain tls bulk idle; do
    ports[$endpoint]=$(free_port)
  done
  # Debian 12 builds the stream module as a dynamic module (libnginx-mod-stream).
  nginx -V 2>&1 | grep -q -- '--with-stream=dynamic' && load_module="load_module $stream_module;"
  fill "$here/compare/nginx.conf.in" "$dir/nginx.conf" "DIR=$dir" "LOAD_MODULE=$load_module" \
    "NOFILE=$nofile" "WORKER_CONNECTIONS=$((nofile - 100))" \
    "PLAIN_PORT=${ports[plain]}" "TLS_PORT=${ports[tls]}" "BULK_PORT=${ports[bulk]}" \
    "IDLE_PORT=${ports[idle]}" "CERT=$work/bench.pem" "KEY=$work/bench.key" \
    "SERVERS=${servers%$'\n'}" "IPERF=$iperf_address" "SINK=$sink_address"
  start_child "$dir/nginx.out" "$dir/nginx.err" taskset -c "$proxy_cpu" \
    nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log"
  launched[$instance/nginx]=$CHILD_PID
  log[$instance/nginx]=$dir/error.log
  wait_for "$CHILD_PID" 10 nginx curl -fs -o /dev/null "http://127.0.0.1:${ports[plain]}/" ||
    { show_log "$dir/error.log"; exit 1; }
  worker=$(first_child "$CHILD_PID") || die "nginx: no worker process under $CHILD_PID"
  for endpoint in "${!ports[@]}"; do
    addr[$instance/nginx/$endpoint]=127.0.0.1:${ports[$endpoint]}
    pid[$instance/nginx/$endpoint]=$worker
  done
}

# start_floor INSTANCE PROXY: one floor-relay process per endpoint (it has one set of servers).
start_floor() {
  local instance=$1 proxy=$2 dir=$work/$1-$2 flags=() endpoint servers i
  mkdir -p "$dir"
  [[ $proxy == floor-splice ]] && flags=(--splice)
  launched[$instance/$proxy]=""
  log[$instance/$proxy]=$dir/idle.err
  for endpoint in plain bulk idle; do
    case $endpoint in
      plain) servers=(); for i in "${backend_ports[@]}"; do servers+=("127.0.0.1:$i"); done ;;
      bulk) servers=("$iperf_address") ;;
      idle) servers=("$sink_address") ;;
    esac
    start_child "$dir/$endpoint.log" "$dir/$endpoint.err" taskset -c "$proxy_cpu" \
      "$floor_dir/floor-relay" "${flags[@]}" 127.0.0.1:0 "${servers[@]}"
    wait_for "$CHILD_PID" 10 "$proxy" grep -qs 'listening on' "$dir/$endpoint.log" ||
      { show_log "$dir/$endpoint.err"; exit 1; }
    addr[$instance/$proxy/$endpoint]=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$dir/$endpoint.log")
    pid[$instance/$proxy/$endpoint]=$CHILD_PID
    launched[$instance/$proxy]+=" $CHILD_PID"
  done
}

start_proxy() {
  case $2 in
    corral) start_corral_proxy "$1" ;;
    haproxy) start_haproxy "$1" ;;
    nginx) start_nginx "$1" ;;
    floor | floor-splice) start_floor "$1" "$2" ;;
  esac
}

stop_proxy() {
  local p
  for p in ${launched[$1/$2]}; do
    stop_child "$p"
  done
  unset "launched[$1/$2]"
}

# check_tls PROXY: the proxy negotiates TLS 1.3 with the bench certificate when the client offers
# every version, as wrk does.
check_tls() {
  local out
  out=$(timeout 10 openssl s_client -connect "${addr[main/$1/tls]}" -servername bench.corral.test \
    </dev/null 2>&1) || true
  [[ $out == *"TLSv1.3"* && $out == *"CN = bench.corral.test"* ]] ||
    die "$1 did not negotiate TLS 1.3 with the bench certificate: $(grep -m1 -i 'error\|protocol' <<<"$out")"
}

# ---------------------------------------------------------------------------------------------
# Labels: the rows of the tables. Each is a proxy, or a variant of one for a scenario.

has_tls() { [[ $1 != floor* ]]; }

# labels SCENARIO: the rows that SCENARIO measures, in PROXIES order.
labels() {
  local proxy
  for proxy in "${proxies[@]}"; do
    case $1 in
      tls-*) has_tls "$proxy" && echo "$proxy" ;;
      bulk)
        echo "$proxy"
        [[ $proxy == haproxy ]] && echo haproxy-splice
        [[ $proxy == corral && -n $corral_splice ]] && echo corral-splice
        ;;
      scale) [[ $proxy == corral || $proxy == haproxy ]] && printf '%s\n' "$proxy-1" "$proxy-2" ;;
      *) echo "$proxy" ;;
    esac
  done
  return 0
}

# scale_name LABEL: the table's name for a scale row, such as "corral workers: 2".
scale_name() {
  case $1 in
    corral-*) echo "corral workers: ${1#corral-}" ;;
    haproxy-*) echo "haproxy nbthread ${1#haproxy-}" ;;
  esac
}

# target INSTANCE LABEL SCENARIO: the INSTANCE/PROXY/ENDPOINT key that LABEL loads in SCENARIO;
# scale ignores INSTANCE: its label names the process (corral-2: the corral of instance scale-2).
target() {
  case $3 in
    keep-alive | close) echo "$1/$2/plain" ;;
    scale) echo "scale-${2##*-}/${2%-*}/plain" ;;
    tls-*) echo "$1/$2/tls" ;;
    idle) echo "$1/$2/idle" ;;
    bulk)
      case $2 in
        haproxy-splice | corral-splice) echo "$1/${2%-splice}/bulk-splice" ;;
        *) echo "$1/$2/bulk" ;;
      esac
      ;;
  esac
}

# baseline SCENARIO LABEL: what LABEL's ratios divide by: in bulk, the splice variants by
# haproxy-splice; in scale, the same proxy with one thread.
baseline() {
  case $1/$2 in
    bulk/*-splice) echo haproxy-splice ;;
    scale/*) echo "${2%-*}-1" ;;
    *) echo haproxy ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Measurements.

# thread_ticks PID: one line per thread of PID: its TID and utime + stime in clock ticks.
thread_ticks() {
  local stat fields task
  for task in /proc/"$1"/task/*; do
    stat=$(<"$task/stat") || continue # a thread that ended meanwhile
    read -r -a fields <<<"${stat##*) }"
    echo "${task##*/} $((fields[11] + fields[12]))"
  done
}

# busiest_share BEFORE AFTER: the busiest thread's share of the CPU time that all the threads
# spent between two thread_ticks listings: 1.00 when one thread did it all, 0.50 when two shared
# it evenly; "-" when they spent none.
busiest_share() {
  awk 'NR == FNR {b[$1] = $2; next} {d = $2 - b[$1]; t += d; if (d > m) m = d}
       END {if (t > 0) printf "%.2f", m / t; else print "-"}' <(echo "$1") <(echo "$2")
}

measure_wrk() {
  local scenario=$1 label=$2 round=$3 key scheme=http header=() out=$work/wrk-$1-$2-$3.txt
  local launcher=() threads_before="" share=""
  key=$(target main "$label" "$scenario")
  [[ $scenario == tls-* ]] && scheme=https
  [[ $scenario == *close ]] && header=(-H 'Connection: close')
  if [[ $scenario == scale ]]; then
    launcher=(taskset -c "$all_cpus") # wrk, the backends and the proxy share every CPU
    place_backends "$all_cpus"
    threads_before=$(thread_ticks "${pid[$key]}")
  fi
  local before after
  before=$(cpu_ticks "${pid[$key]}")
  "${launcher[@]}" wrk -t"$threads" -c"$connections" -d"$duration" --latency "${header[@]}" \
    "$scheme://${addr[$key]}/" >"$out" 2>&1 || true
  after=$(cpu_ticks "${pid[$key]}")
  if [[ $scenario == scale ]]; then
    share=$(busiest_share "$threads_before" "$(thread_ticks "${pid[$key]}")")
    place_backends "$load_cpu"
  fi
  local requests rps p50 p99 bad errors cpu
  requests=$(awk '/ requests in / {print $1}' "$out")
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(wrk_latency_ms 50 "$out")
  p99=$(wrk_latency_ms 99 "$out")
  bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
  errors=$(sed -n 's/^ *Socket errors: //p' "$out")
  cpu=$(awk -v t=$((after - before)) -v hz="$clock_ticks" -v n="${requests:-0}" \
    'BEGIN {if (n > 0) printf "%.2f", t * 1e6 / hz / n; else print "-"}')
  local notes=${share:+, busiest thread $share}${bad:+, $bad bad replies}
  notes+=${errors:+, socket errors: $errors}
  echo "round $round  $scenario  $label: ${rps:-0} req/s, p50 ${p50:-?} ms, p99 ${p99:-?} ms," \
    "CPU $cpu µs/req$notes"
  if [[ -n $bad || -z $rps || $rps == 0* || $cpu == - ]]; then
    failures=$((failures + 1))
    show_log "$out"
    return
  fi
  record "$scenario" "$label" rps "$round" "$rps"
  record "$scenario" "$label" p50 "$round" "$p50"
  record "$scenario" "$label" p99 "$round" "$p99"
  record "$scenario" "$label" cpu "$round" "$cpu"
  [[ -z $share || $share == - ]] || record "$scenario" "$label" share "$round" "$share"
  # scale: how many cores the proxy kept busy; well below its threads, it was not the bottleneck.
  [[ $scenario != scale ]] ||
    record scale "$label" cores "$round" "$(awk -v r="$rps" -v c="$cpu" 'BEGIN {print r * c / 1e6}')"
}

measure_bulk() {
  local label=$1 round=$2 key out=$work/iperf3-$1-$2.json before after
  key=$(target main "$label" bulk)
  before=$(cpu_ticks "${pid[$key]}")
  timeout $((seconds + 30)) iperf3 -c "${addr[$key]%:*}" -p "${addr[$key]##*:}" -t "$seconds" -J \
    >"$out" 2>&1 || true
  after=$(cpu_ticks "${pid[$key]}")
  local gbits bytes cpu
  read -r gbits bytes < <(python3 -c '
import json, sys
try:
    end = json.load(open(sys.argv[1]))["end"]["sum_received"]
    print(end["bits_per_second"] / 1e9, end["bytes"])
except Exception:
    print(0, 0)' "$out")
  cpu=$(awk -v t=$((after - before)) -v hz="$clock_ticks" -v b="$bytes" \
    'BEGIN {if (b > 0) printf "%.1f", t * 1e3 / hz / (b / 1e9); else print "-"}')
  printf 'round %s  bulk  %s: %.2f Gbit/s, CPU %s ms/GB\n' "$round" "$label" "$gbits" "$cpu"
  if [[ $cpu == - ]]; then
    failures=$((failures + 1))
    show_log "$out"
    return
  fi
  record bulk "$label" gbits "$round" "$gbits"
  record bulk "$label" cpu "$round" "$cpu"
}

# until_true TIMEOUT CMD...: polls CMD every 0.1 s; fails after TIMEOUT seconds.
until_true() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

sink_holds() { (($(sink_held) == $1)); }

# measure_idle LABEL ROUND: a fresh proxy process, so memory that earlier loads left in its pools
# does not hide what the connections cost; RSS before and after they are all held by the sink.
measure_idle() {
  local label=$1 round=$2 instance=idle-$2 key out=$work/idle-$1-$2.log opener
  start_sink "$label-$round"
  start_proxy "$instance" "$label"
  key=$(target "$instance" "$label" idle)
  sleep 0.5 # let the new process settle before its baseline
  local rss_before cpu_before rss_after cpu_after connected
  rss_before=$(rss_kib "${pid[$key]}")
  cpu_before=$(cpu_ticks "${pid[$key]}")
  start_child "$out" "$work/idle-$1-$2.err" "$floor_dir/idle-conns" open "${addr[$key]}" \
    "$idle_count" "$idle_sources" 120 "$idle_rate"
  opener=$CHILD_PID
  wait_for "$opener" 60 "idle clients" grep -qs '^connected' "$out" || true
  connected=$(awk '$1 == "connected" {print $2}' "$out")
  if [[ $connected != "$idle_count" ]] || ! until_true 30 sink_holds "$idle_count"; then
    echo "round $round  idle  $label: ${connected:-0} of $idle_count connected," \
      "the backend holds $(sink_held)"
    failures=$((failures + 1))
    show_log "$work/idle-$1-$2.err"
    show_log "${log[$instance/$label]}"
  else
    rss_after=$(rss_kib "${pid[$key]}")
    cpu_after=$(cpu_ticks "${pid[$key]}")
    local kib cpu
    kib=$(awk -v a="$rss_after" -v b="$rss_before" -v n="$idle_count" 'BEGIN {printf "%.2f", (a - b) / n}')
    cpu=$(awk -v t=$((cpu_after - cpu_before)) -v hz="$clock_ticks" -v n="$idle_count" \
      'BEGIN {printf "%.2f", t * 1e6 / hz / n}')
    echo "round $round  idle  $label: $kib KiB/conn (VmRSS $rss_before -> $rss_after KiB)," \
      "CPU $cpu µs/conn to accept and connect"
    record idle "$label" kib "$round" "$kib"
    record idle "$label" cpu "$round" "$cpu"
  fi
  stop_child "$opener"
  stop_proxy "$instance" "$label"
  stop_child "$sink_pid"
}

warm_up() {
  ((warmup > 0)) || return 0
  local proxy label scaled
  if runs scale; then
    mapfile -t scaled < <(labels scale)
    for label in "${scaled[@]}"; do
      wrk -t1 -c"$connections" -d"${warmup}s" "http://${addr[$(target main "$label" scale)]}/" \
        >/dev/null
    done
  fi
  for proxy in "${proxies[@]}"; do
    if runs keep-alive || runs close; then
      wrk -t1 -c"$connections" -d"${warmup}s" "http://${addr[main/$proxy/plain]}/" >/dev/null
    fi
    if (runs tls-keep-alive || runs tls-close) && has_tls "$proxy"; then
      wrk -t1 -c"$connections" -d"${warmup}s" "https://${addr[main/$proxy/tls]}/" >/dev/null
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# Tables.

# cell SCENARIO LABEL METRIC FORMAT: the median over rounds, or "-".
cell() {
  local file=$work/results/$1.$2.$3
  [[ -s $file ]] || { echo -; return; }
  number "$4" "$(awk '{print $2}' "$file" | median_of)"
}

# ratio SCENARIO LABEL METRIC: the median over rounds of LABEL's value / its baseline's value in
# the same round, or "-".
ratio() {
  local file=$work/results/$1.$2.$3 base
  base=$work/results/$1.$(baseline "$1" "$2").$3
  [[ -s $file && -s $base ]] || { echo -; return; }
  number %.2f "$(awk 'NR == FNR {v[$1] = $2; next} ($1 in v) && v[$1] > 0 {print $2 / v[$1]}' \
    "$base" "$file" | median_of)"
}

print_wrk_table() {
  local scenario=$1 unit=req units=req label
  [[ $scenario == close ]] && unit=conn units=conn
  [[ $scenario == tls-close ]] && unit=handshake units=handshakes
  echo
  echo "### $scenario"
  echo
  echo "| proxy | $units/s | vs haproxy | p50 ms | p99 ms | p99 vs haproxy | CPU µs/$unit | CPU vs haproxy |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for label in "${proxies[@]}"; do
    if ! has_tls "$label" && [[ $scenario == tls-* ]]; then
      echo "| $label | - | - | - | - | - | - | - |"
      continue
    fi
    echo "| $label | $(cell "$scenario" "$label" rps %.0f) | $(ratio "$scenario" "$label" rps) |" \
      "$(cell "$scenario" "$label" p50 %.2f) | $(cell "$scenario" "$label" p99 %.2f) |" \
      "$(ratio "$scenario" "$label" p99) | $(cell "$scenario" "$label" cpu %.1f) |" \
      "$(ratio "$scenario" "$label" cpu) |"
  done
}

print_bulk_table() {
  local label
  echo
  echo "### bulk (one iperf3 stream, ${seconds}s; -splice rows compare with haproxy-splice)"
  echo
  echo "| proxy | Gbit/s | vs haproxy | CPU ms/GB | CPU vs haproxy |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  while read -r label; do
    echo "| $label | $(cell bulk "$label" gbits %.2f) | $(ratio bulk "$label" gbits) |" \
      "$(cell bulk "$label" cpu %.0f) | $(ratio bulk "$label" cpu) |"
  done < <(labels bulk)
}

print_scale_table() {
  local label
  echo
  echo "### scale (keep-alive with 1 and 2 threads, not pinned: proxy, wrk and backends share" \
    "CPUs $all_cpus)"
  echo
  echo "The load generator and the backends compete with the proxy for the same cores, so req/s" \
    "cannot double; CPU per request should stay flat (vs 1 thread near 1.00), and with 2 threads" \
    "the busiest thread should do about half (0.50) of the process's CPU time, not all (1.00)." \
    "Proxy cores busy (req/s × CPU per request) well below the proxy's threads means that it was" \
    "not the bottleneck."
  echo
  echo "| proxy | req/s | req/s vs 1 thread | p99 ms | CPU µs/req | CPU/req vs 1 thread |" \
    "busiest thread | proxy cores busy |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  while read -r label; do
    echo "| $(scale_name "$label") | $(cell scale "$label" rps %.0f) | $(ratio scale "$label" rps) |" \
      "$(cell scale "$label" p99 %.2f) | $(cell scale "$label" cpu %.1f) |" \
      "$(ratio scale "$label" cpu) | $(cell scale "$label" share %.2f) |" \
      "$(cell scale "$label" cores %.2f) |"
  done < <(labels scale)
}

print_idle_table() {
  local label
  echo
  echo "### idle ($idle_count connections held through a fresh proxy process)"
  [[ -z $idle_note ]] || printf '\n%s\n' "$idle_note"
  echo
  echo "| proxy | KiB/conn | vs haproxy | CPU µs/conn to open |"
  echo "| --- | ---: | ---: | ---: |"
  for label in "${proxies[@]}"; do
    echo "| $label | $(cell idle "$label" kib %.2f) | $(ratio idle "$label" kib) |" \
      "$(cell idle "$label" cpu %.1f) |"
  done
}

# print_ratios: the one-line answer per proxy, every ratio against HAProxy in the same round.
print_ratios() {
  local label
  echo
  echo "### ratios to HAProxy (median of per-round ratios; CPU, p99, KiB: below 1 is better;" \
    "bulk: floor-splice against haproxy-splice)"
  echo
  echo "| proxy | keep-alive CPU/req | keep-alive p99 | close CPU/conn | bulk Gbit/s |" \
    "tls-keep-alive CPU/req | tls-close handshakes/s | idle KiB/conn |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for label in "${proxies[@]}"; do
    echo "| $label | $(ratio keep-alive "$label" cpu) | $(ratio keep-alive "$label" p99) |" \
      "$(ratio close "$label" cpu) | $(ratio bulk "$label" gbits) |" \
      "$(ratio tls-keep-alive "$label" cpu) | $(ratio tls-close "$label" rps) |" \
      "$(ratio idle "$label" kib) |"
    [[ $label == corral && -n $corral_splice ]] || continue
    echo "| corral-splice | - | - | - | $(ratio bulk corral-splice gbits) (vs haproxy-splice) | - | - | - |"
  done
}

print_tables() {
  local scenario
  echo
  echo "## corral and peers: median of $rounds rounds, ${seconds}s each"
  echo
  echo "$(nproc --all) cores, $(uname -r), load average $load_before before the run; proxy on CPU" \
    "$proxy_cpu, load and servers on CPU $load_cpu (scale: all on CPUs $all_cpus)." \
    "corral: $build; HAProxy" \
    "$(haproxy -v 2>/dev/null | awk 'NR == 1 {print $3}'); NGINX" \
    "$(nginx -v 2>&1 | sed 's|.*nginx/||'); iperf3 $(iperf3 --version | awk 'NR == 1 {print $2}');" \
    "wrk -t$threads -c$connections, $backends backends${corral_splice:+; corral splice: $corral_splice}."
  for scenario in "${scenarios[@]}"; do
    case $scenario in
      bulk) print_bulk_table ;;
      idle) print_idle_table ;;
      scale) print_scale_table ;;
      *) print_wrk_table "$scenario" ;;
    esac
  done
  # The ratios to HAProxy, unless scale (whose ratios are to one thread) is all that ran.
  if has haproxy && [[ " ${scenarios[*]} " != " scale " ]]; then
    print_ratios
  fi
  return 0
}

main() {
  check_tools
  load_before=$(cut -d ' ' -f 1 /proc/loadavg) # other work on the machine skews every number
  # Everything this script starts runs on LOAD_CPU unless it is started under taskset -c PROXY_CPU.
  taskset -pc "$load_cpu" $$ >/dev/null
  # Idle connections: each proxy holds two descriptors per connection, the clients and the
  # sink one each; children inherit the limit. Without CAP_SYS_RESOURCE (in a container) the
  # hard limit caps it, and then the idle workload opens as many as fit, and says so.
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  nofile=$(ulimit -n)
  if runs idle && ((2 * idle_count + 400 > nofile)); then
    local fit=$(((nofile - 400) / 2 / 100 * 100)) # two descriptors each, in hundreds
    idle_note="IDLE_CONNECTIONS=$idle_count lowered to $fit: ulimit -n is capped at $nofile here"
    idle_count=$fit
    echo "note: $idle_note" >&2
  fi
  find_floor_tools
  make_certificate "$work"
  start_servers
  local proxy round scenario label order
  for proxy in "${proxies[@]}"; do
    start_proxy main "$proxy"
    if has_tls "$proxy" && (runs tls-keep-alive || runs tls-close); then
      check_tls "$proxy"
    fi
  done
  if runs scale; then # corral-2: the corral of instance scale-2, with 2 workers
    mapfile -t order < <(labels scale)
    for label in "${order[@]}"; do
      start_proxy "scale-${label##*-}" "${label%-*}"
    done
  fi
  warm_up
  for ((round = 1; round <= rounds; ++round)); do
    for scenario in "${scenarios[@]}"; do
      mapfile -t order < <(labels "$scenario")
      ((round % 2)) || mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
      for label in "${order[@]}"; do
        case $scenario in
          keep-alive | close | tls-* | scale) measure_wrk "$scenario" "$label" "$round" ;;
          bulk) measure_bulk "$label" "$round" ;;
          idle) measure_idle "$label" "$round" ;;
          *) die "unknown scenario '$scenario' in SCENARIOS" ;;
        esac
      done
    done
  done
  print_tables
  ((failures == 0)) || die "$failures run(s) got bad replies, no replies or too few connections"
}

main

# Helpers shared by bench/run.sh and bench/compare.sh. Source it after scripts/lib.sh.

# fill TEMPLATE OUT NAME=VALUE...: replaces each @NAME@ in TEMPLATE (VALUE may span lines).
fill() {
  local text pair
  text=$(<"$1")
  for pair in "${@:3}"; do
    text=${text//@${pair%%=*}@/${pair#*=}}
  done
  printf '%s\n' "$text" >"$2"
}

# make_certificate DIR: one self-signed ECDSA P-256 certificate for every proxy, as bench.pem and
# bench.key, and both in bench-haproxy.pem (HAProxy wants the key in the same file).
make_certificate() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=bench.corral.test -addext subjectAltName=DNS:bench.corral.test \
    -keyout "$1/bench.key" -out "$1/bench.pem" 2>/dev/null
  cat "$1/bench.pem" "$1/bench.key" >"$1/bench-haproxy.pem"
}

# median_of: the middle of the numbers on standard input, or the mean of the two middle ones;
# "-" when there are none.
median_of() {
  sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# median FILE: median_of the values in FILE, one a line; "-" without a file.
median() {
  [[ -s $1 ]] || { echo -; return; }
  median_of <"$1"
}

# number FORMAT VALUE: printf for a median, keeping "-" for a proxy that did not run.
number() {
  if [[ $2 == - ]]; then echo -; else printf "$1" "$2"; fi
}

# wrk_latency_ms PERCENT FILE: a latency percentile from `wrk --latency` output, in ms.
wrk_latency_ms() {
  awk -v p="$1%" '$1 == p {v = $2 + 0; if ($2 ~ /us$/) v /= 1000; else if ($2 ~ /[0-9]s$/) v *= 1000;
                   printf "%.2f", v}' "$2"
}

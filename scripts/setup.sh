#!/usr/bin/env bash
# Installs the Debian 12 packages that corral needs to build, test, demo and benchmark.
# Idempotent: when every package is already installed it does not touch apt at all.
set -euo pipefail

packages=(
  build-essential cmake make ninja-build pkg-config
  libevent-dev libssl-dev libyaml-cpp-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev libhttp-parser-dev libsystemd-dev
  clang-19 libclang-rt-19-dev llvm-19   # scripts/build.sh fuzz: C++23 (<expected>), libFuzzer, llvm-symbolizer
  curl wrk haproxy openssl ca-certificates python3
  nginx libnginx-mod-stream iperf3   # bench/compare.sh: NGINX's stream module (dynamic on Debian 12), bulk
  prometheus            # promtool and a real Prometheus for the metrics tests
  testssl.sh            # TLS configuration audit of a terminating frontend
  systemd               # systemd-analyze verify of deploy/corral.service
  chromium              # the status page's browser test (tests/browser), headless
  docker.io docker-compose debootstrap iptables   # the docker-compose cluster test (scripts/docker.sh)
)

# npm packages of the browser test and the socket.io tests (tests/integration/realtime), exactly
# as package-lock.json pins them (the registry is reachable; nothing is vendored). Node itself is
# the machine's.
install_npm_packages() {
  local root dir
  root=$(cd "$(dirname "$0")/.." && pwd)
  for dir in tests/browser tests/integration/realtime; do
    # npm writes node_modules/.package-lock.json last: newer than the lock means up to date.
    [[ $root/$dir/node_modules/.package-lock.json -nt $root/$dir/package-lock.json ]] && continue
    echo "setup: npm ci in $dir"
    (cd "$root/$dir" && npm ci --no-audit --no-fund --loglevel=error)
  done
}

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages are installed"
  install_npm_packages
  exit 0
fi

sudo=()
((EUID == 0)) || sudo=(sudo)
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
# Where a service manager runs, nginx's package starts the system's server on port 80;
# bench/compare.sh runs its own, so stop the one that this run installed.
if [[ " ${missing[*]} " == *" nginx "* ]] && systemctl is-active --quiet nginx 2>/dev/null; then
  "${sudo[@]}" systemctl disable --now nginx
fi
install_npm_packages

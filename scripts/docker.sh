#!/usr/bin/env bash
# Gets Docker ready for the compose cluster on a Debian 12 machine with no init system and no
# image registry. Idempotent: every step checks first and does nothing when already done.
#
#   scripts/docker.sh setup       install packages, start dockerd if none answers, make the base image;
#                                 exits 77 when Docker cannot run on this machine at all (no package,
#                                 no engine), 1 when something after that fails
#   scripts/docker.sh stop        stop the dockerd that `setup` started (and only that one)
#   scripts/docker.sh check       exit 0 when a Docker engine answers, else say why and exit 1
#   scripts/docker.sh run CMD...  run CMD with the environment below (e.g. run docker-compose up -d)
#   eval "$(scripts/docker.sh env)"   the same environment for the calling shell
#
# Environment, also exported to every command run here:
#   PATH with /usr/bin first: a Docker 28 client in /usr/local/bin would shadow Debian's 20.10
#   one, and it needs buildx under BuildKit, which these machines do not have; so BuildKit is
#   off for docker build and for docker-compose's builds as well.
set -euo pipefail

export PATH="/usr/bin:/usr/sbin:/bin:/sbin:$PATH"
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
readonly state_dir=${CORRAL_DOCKER_STATE:-/tmp/corral-docker}
readonly pid_file=$state_dir/dockerd.pid
readonly base_image=debian:bookworm-slim
readonly mirror=${CORRAL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
readonly security_mirror=${CORRAL_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

sudo=()
((EUID == 0)) || sudo=(sudo)

say() { echo "docker.sh: $*" >&2; }

install_packages() {
  local missing=() package status
  for package in docker.io docker-compose debootstrap; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  # docker.io recommends git, xz-utils and more that the cluster does not need.
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" iptables ca-certificates
}

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

# dockerd as a plain background process: these machines have no systemd to start docker.service.
start_engine() {
  engine_answers && return
  mkdir -p "$state_dir"
  say "starting dockerd (log: $state_dir/dockerd.log)"
  "${sudo[@]}" setsid dockerd >"$state_dir/dockerd.log" 2>&1 </dev/null &
  echo $! >"$pid_file"
  local waited
  for waited in $(seq 1 60); do
    engine_answers && { say "dockerd ready after ${waited}x0.5 s (pid $(cat "$pid_file"))"; return; }
    kill -0 "$(cat "$pid_file")" 2>/dev/null || break
    sleep 0.5
  done
  say "dockerd did not come up; last lines of its log:"
  tail -n 20 "$state_dir/dockerd.log" >&2
  return 1
}

# Stops only the dockerd whose pid `start_engine` recorded, never one somebody else runs.
stop_engine() {
  [[ -f $pid_file ]] || { say "no dockerd started by this script"; return 0; }
  local pid
  pid=$(cat "$pid_file")
  # With sudo the recorded pid is sudo's, which passes the signal on to dockerd.
  if [[ $(cat "/proc/$pid/comm" 2>/dev/null) =~ ^(dockerd|sudo)$ ]]; then
    say "stopping dockerd (pid $pid)"
    "${sudo[@]}" kill -TERM "$pid"
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
  fi
  rm -f "$pid_file"
}

# The base image: the registry's when it can be pulled, else the same Debian release made here.
ensure_base_image() {
  docker image inspect "$base_image" >/dev/null 2>&1 && return
  if timeout 60 docker pull -q "$base_image" >/dev/null 2>&1; then
    say "pulled $base_image"
    return
  fi
  say "$base_image cannot be pulled: making it with debootstrap"
  build_base_image
}

build_base_image() {
  local root status=0
  root=$(mktemp -d /tmp/corral-bookworm.XXXXXX)
  bootstrap_into "$root" || status=$?
  "${sudo[@]}" rm -rf --one-file-system "$root"  # never into a /proc the second stage left mounted
  return $status
}

# In two stages, so that dpkg in the second runs without an fsync per file (force-unsafe-io, as in
# Docker's own mkimage scripts): that takes the bootstrap from about 160 to about 90 s here.
bootstrap_into() {
  local root=$1 log=$state_dir/debootstrap.log
  "${sudo[@]}" debootstrap --foreign --variant=minbase bookworm "$root" "$mirror" >"$log" 2>&1 &&
    echo force-unsafe-io | "${sudo[@]}" tee "$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup" >/dev/null &&
    "${sudo[@]}" chroot "$root" /debootstrap/debootstrap --second-stage >>"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; return 1; }
  slim_down "$root"
  "${sudo[@]}" tar -C "$root" -c . |
    docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - "$base_image" >/dev/null
  say "made $base_image ($(docker image inspect -f '{{.Size}}' "$base_image") bytes)"
}

# What the registry's -slim image does: full sources (with security updates), no documentation
# installed by later apt-get calls, no package lists or .deb files left in the layers; dpkg keeps
# force-unsafe-io (bootstrap_into), which is safe in image builds and makes their apt-get faster.
slim_down() {
  local root=$1
  "${sudo[@]}" tee "$root/etc/apt/sources.list" >/dev/null <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security_mirror bookworm-security main
EOF
  "${sudo[@]}" tee "$root/etc/dpkg/dpkg.cfg.d/docker-slim" >/dev/null <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  "${sudo[@]}" tee "$root/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT::Install-Recommends "false";
Acquire::Languages "none";
EOF
  "${sudo[@]}" rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc "$root"/usr/share/man \
    "$root"/usr/share/info "$root"/var/log/*.log
  # Message catalogs are a third of minbase; keep locale.alias as the dpkg excludes above do.
  "${sudo[@]}" find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
}

print_env() {
  printf 'export PATH=%q DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0\n' "$PATH"
}

main() {
  local command=${1:-setup}
  case $command in
    setup) mkdir -p "$state_dir"
           install_packages || { say "cannot install Docker here"; return 77; }
           start_engine || { say "dockerd cannot run here"; return 77; }
           ensure_base_image ;;
    stop) stop_engine ;;
    check) command -v dockerd >/dev/null || { say "docker.io is not installed"; return 1; }
           engine_answers || { say "no Docker engine answers"; return 1; } ;;
    env) print_env ;;
    run) shift; exec "$@" ;;
    *) say "unknown command $command (setup | stop | check | env | run CMD...)"; return 2 ;;
  esac
}

main "$@"

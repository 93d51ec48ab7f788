#!/usr/bin/env bash
# deploy/corral.service passes `systemd-analyze verify` with no complaint at all: systemd only
# warns about unknown keys or bad values and exits 0, so any output about the unit fails the test.
# Usage: verify_unit.sh UNIT CORRAL_BINARY. Exits 77 (skipped) when systemd-analyze cannot run.
set -euo pipefail
unit=$1
binary=$2

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# verify checks that ExecStart's program exists: point it at the corral just built.
sed "s#/usr/local/bin/corral#$binary#g" "$unit" >"$work/corral.service"
if ! output=$(systemd-analyze verify --man=no "$work/corral.service" 2>&1); then
  if grep -qiE 'bus|not booted|Operation not permitted|No such file or directory.*/run/systemd' <<<"$output"; then
    echo "SKIP: systemd-analyze cannot run here: $output"
    exit 77
  fi
  echo "FAIL: systemd-analyze verify failed:"
  echo "$output"
  exit 1
fi
if grep -F "corral.service" <<<"$output"; then
  echo "FAIL: systemd-analyze verify complains about $unit (above)"
  exit 1
fi
echo "PASS: $unit verifies (Type=$(sed -n 's/^Type=//p' "$unit"), $(grep -c '^Protect\|^Private\|^Restrict\|^NoNewPrivileges' "$unit") sandbox settings)"

#!/usr/bin/env bash
# Starts three demo backends on 127.0.0.1:9001-9003 and corral in front of them on
# 127.0.0.1:8080 (examples/demo.yaml), shows a few requests spreading across the backends, then
# keeps running until Ctrl-C. With CI=true or DEMO_ONESHOT=1 it stops after the requests and
# exits 1 unless every backend answered.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

scripts/setup.sh
scripts/build.sh release
build=$(build_dir)
logs=$(mktemp -d)
trap 'stop_children; rm -rf "$logs"' EXIT
trap 'exit 0' INT TERM # Ctrl-C ends the demo; the EXIT trap stops every process it started

for i in 1 2 3; do
  start_demo_backend "$build" "demo-$i" "900$i" "$logs" || exit 1
done
start_corral "$build" examples/demo.yaml "$logs" || exit 1
address=$(frontend_address "$logs/corral.ready" web)

echo
echo "corral (pid $CORRAL_PID) listens on $address in front of demo-1..3 on 127.0.0.1:9001-9003"
echo "try: curl http://$address/"
echo
for i in 1 2 3 4 5 6; do
  echo "\$ curl http://$address/"
  curl -fsS "http://$address/" | tee -a "$logs/replies"
done
echo
# corral writes a connection's access log line when it closes, just after curl got the reply.
six_logged() { (($(wc -l <"$logs/corral.out") >= 6)); }
wait_for "$CORRAL_PID" 3 "access log" six_logged || true
echo "access log, one JSON line per connection ($(wc -l <"$logs/corral.out") so far), the first:"
head -n 1 "$logs/corral.out"

answered=$(awk '{print $1}' "$logs/replies" | sort -u | wc -l)
echo
echo "$answered of 3 backends answered"
if [[ ${CI:-} == true || ${DEMO_ONESHOT:-} == 1 ]]; then
  ((answered == 3))
  exit
fi
echo "corral keeps running; press Ctrl-C to stop it and the backends"
wait "$CORRAL_PID"

#!/usr/bin/env bash
# Usage: scripts/screenshot.sh [OUT.png]   (default docs/status-page.png)
# Takes the README's picture of the status page with the same headless Chromium and the same
# scenario as its browser test (tests/browser/status_page_test.mjs): three spawned Node clones,
# one stopped server, one drained, 20 seconds of traffic for the rates and sparklines.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
out=$(realpath -m "${1:-$CORRAL_ROOT/docs/status-page.png}")
"$CORRAL_ROOT/scripts/setup.sh"
"$CORRAL_ROOT/scripts/build.sh" release
node "$CORRAL_ROOT/tests/browser/status_page_test.mjs" "$(build_dir)/corral" "$CORRAL_ROOT" \
  --screenshot "$out"

#!/usr/bin/env bash
# Smoke test: the real binary opens its window under Xvfb (glow on Mesa), renders frames,
# saves its settings and exits 0; then it starts again from a corrupted settings file.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/sockpit}
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
run() {
  SOCKPIT_STATE_DIR="$state" SOCKPIT_EXIT_AFTER_FRAMES=60 LIBGL_ALWAYS_SOFTWARE=1 \
    timeout 120 xvfb-run -a -s "-screen 0 1280x800x24" "$bin"
}
run
test -s "$state/sockpit.ron" || { echo "smoke: settings were not saved" >&2; exit 1; }
grep -q tcp_client "$state/sockpit.ron" || { echo "smoke: saved settings lack the TCP Client tab" >&2; exit 1; }
printf '(((garbage \x00' > "$state/sockpit.ron"
run
echo "smoke: window opened, rendered 60 frames and exited cleanly twice (second time from corrupt settings)"

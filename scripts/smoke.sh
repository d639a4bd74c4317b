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
    timeout 120 xvfb-run -a -s "-screen 0 1280x800x24" "$bin" "$@"
}
run
test -s "$state/sockpit.ron" || { echo "smoke: settings were not saved" >&2; exit 1; }
grep -q tcp_client "$state/sockpit.ron" || { echo "smoke: saved settings lack the TCP Client tab" >&2; exit 1; }
printf '(((garbage \x00' > "$state/sockpit.ron"
run
# Started from the command line: a TCP Server listening with its capture, and the figures
# written to the report file (last when the window closes).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run gui --listen "127.0.0.1:$port" --capture-dir "$state/caps" --report "$state/report.json"
python3 - "$state/report.json" "$state/caps" <<'PY' || { echo "smoke: the --report file is not as expected" >&2; exit 1; }
import json, os, sys
report = json.load(open(sys.argv[1]))
server = next(s for s in report["sessions"] if s["tab"] == "tcp-server")
assert server["listening"], server
capture = server["capture"]["path"]
assert capture.startswith(sys.argv[2]) and os.path.getsize(capture) > 0, server
PY
echo "smoke: window opened, rendered 60 frames and exited cleanly three times (from corrupt settings; listening with --capture-dir and --report)"

#!/usr/bin/env bash
# The soak (not part of the test command): Sockpit's window under an Xvfb of its own, with a TCP
# Server, a TCP Client and a UDP session receiving mixed traffic for MINUTES (default 60) with
# capture on; then every counter, every capture file, the memory's tail and the window's answer
# to input are checked (scripts/soak/soak.py says how). Prints Markdown rows for the README.
#
#   scripts/soak.sh [MINUTES] [OUT_DIR] [SCALE]   (SCALE multiplies every peer's rate)
#
# As root it runs in a network namespace of its own that has only `lo` (so the kernel's UDP
# drop count is this run's alone), deleted on exit; otherwise on this machine's loopback. All
# traffic goes to 127.0.0.1. Keeps the captures, the report and the window's log in OUT_DIR
# (default /tmp/sockpit-soak), removed at the start of the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-60}
OUT=${2:-/tmp/sockpit-soak}
SCALE=${3:-1}
log() { echo "soak.sh: $*" >&2; }

for p in xvfb python3 iproute2; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
    log "installing what the soak needs (scripts/install-deps.sh)"
    scripts/install-deps.sh >/dev/null
    break
  }
done
log "building sockpit (release)"
cargo build --quiet --release --bin sockpit
SOCKPIT=$PWD/target/release/sockpit

rm -rf "$OUT"
mkdir -p "$OUT"
pids=()
ns=""
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ -n "$ns" ]; then ip netns del "$ns" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

run=()
if [ "$(id -u)" -eq 0 ]; then
  ns="sockpit-soak-$$"
  ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  run=(ip netns exec "$ns")
  log "in network namespace $ns (only lo)"
else
  log "not root: on this machine's loopback (kernel drop counts are the whole machine's)"
fi

"${run[@]}" Xvfb -displayfd 9 -nolisten tcp -screen 0 1600x1000x24 \
  9>"$OUT/display" >"$OUT/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$OUT/display" ] && break; sleep 0.1; done
[ -s "$OUT/display" ] || { log "Xvfb did not start in 10 s"; exit 1; }
export DISPLAY=":$(head -1 "$OUT/display")"
log "display $DISPLAY, $MINUTES min, output in $OUT"
"${run[@]}" env DISPLAY="$DISPLAY" python3 scripts/soak/soak.py \
  --sockpit "$SOCKPIT" --out "$OUT" --minutes "$MINUTES" --scale "$SCALE"

#!/usr/bin/env bash
# Benchmark: start-up to first frame, Sockpit against Packet Sender (Debian package) in the same
# run. Each start gets a fresh Xvfb (black root, -br) and a fresh settings directory; the X
# probe (benches/x11_probe.py firstframe) polls the top-left of the screen and reports when a
# window has drawn text there. The GUIs open no session (Packet Sender's servers are off) and
# run inside a network namespace of their own with only loopback, removed on exit; nothing is
# sent anywhere. Prints Markdown rows (median | min | max) and the ratio.
#
# Needs root (ip netns) and packetsender (installed with apt-get if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
SOCKPIT=${SOCKPIT:-target/release/sockpit}
PROBE=benches/x11_probe.py
log() { echo "bench-startup: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  echo "| start-up to first frame | not measured (needs root for ip netns) | | | | |"
  exit 0
fi
need=()
for p in packetsender x11-xserver-utils xvfb iproute2 python3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    log "could not install ${need[*]}"
fi
[ -x "$SOCKPIT" ] || cargo build --release --quiet --bin sockpit
PS_BIN=$(command -v packetsender || true)

ns="sockpit-startup-$$"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip -n "$ns" link set lo up

# one_start GUI: prints the ms to the first frame, or nothing.
one_start() {
  local gui=$1 dir="$tmp/home.$RANDOM" disp xvfb app probe_out ms=""
  mkdir -p "$dir/.config" "$dir/.local/share"
  ip netns exec "$ns" Xvfb -displayfd 9 -br -nolisten tcp -screen 0 1280x800x24 \
    9>"$dir/display" >/dev/null 2>&1 &
  xvfb=$!
  pids+=("$xvfb")
  for _ in $(seq 100); do [ -s "$dir/display" ] && break; sleep 0.05; done
  disp=":$(head -1 "$dir/display")"
  cat >"$dir/ps_settings.ini" <<INI
[General]
udpPort=0
tcpPort=0
sslPort=0
udpServerEnable=false
tcpServerEnable=false
sslServerEnable=false
checkforUpdatesAsked=true
checkforUpdates=false
SW_VERSION=99.0.0
restoreSessionCheck=false
INI
  coproc PROBE_CO { DISPLAY="$disp" exec python3 "$PROBE" firstframe 480 360 20; }
  read -r -t 15 line <&"${PROBE_CO[0]}" || true
  if [ "${line:-}" = ready ]; then
    if [ "$gui" = sockpit ]; then
      (cd "$dir" && exec ip netns exec "$ns" env DISPLAY="$disp" HOME="$dir" SOCKPIT_STATE_DIR="$dir" \
        LIBGL_ALWAYS_SOFTWARE=1 "$OLDPWD/$SOCKPIT" gui) >"$dir/gui.log" 2>&1 &
    else
      (cd "$dir" && exec ip netns exec "$ns" env DISPLAY="$disp" HOME="$dir" \
        XDG_CONFIG_HOME="$dir/.config" XDG_DATA_HOME="$dir/.local/share" QT_QPA_PLATFORM=xcb \
        LIBGL_ALWAYS_SOFTWARE=1 "$PS_BIN") >"$dir/gui.log" 2>&1 &
    fi
    app=$!
    pids+=("$app")
    read -r -t 25 ms <&"${PROBE_CO[0]}" || true
    kill "$app" 2>/dev/null || true
    wait "$app" 2>/dev/null || true
  fi
  kill "$xvfb" 2>/dev/null || true
  wait "$xvfb" 2>/dev/null || true
  [[ "$ms" =~ ^[0-9.]+$ ]] && echo "$ms"
  return 0
}

stats() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {printf "%.0f %.0f %.0f", v[int((NR+1)/2)], v[1], v[NR]}'; }

declare -A res=([sockpit]="" [packetsender]="")
for _ in $(seq "$RUNS"); do
  for gui in sockpit packetsender; do
    [ "$gui" = packetsender ] && [ -z "$PS_BIN" ] && continue
    ms=$(one_start "$gui")
    [ -n "$ms" ] && res[$gui]+="$ms "
  done
done
log "per-run ms: sockpit [${res[sockpit]}] packetsender [${res[packetsender]}]"
if [ -z "${res[sockpit]}" ]; then
  echo "| start-up to first frame: Sockpit | not measured (no frame seen) | | | | ≤ 300 ms |"
  exit 0
fi
read -r sm sn sx <<<"$(stats ${res[sockpit]})"
if [ -n "${res[packetsender]}" ]; then
  read -r pm pn px <<<"$(stats ${res[packetsender]})"
  echo "| start-up to first frame: Packet Sender (peer) | $pm ms | $pn ms | $px ms | | |"
  echo "| start-up to first frame: Sockpit ÷ Packet Sender | $sm ms | $sn ms | $sx ms | $(awk -v a="$sm" -v b="$pm" 'BEGIN{printf "%.2f", a/b}') | ≤ 300 ms |"
else
  echo "| start-up to first frame: Sockpit (Packet Sender not installed) | $sm ms | $sn ms | $sx ms | | ≤ 300 ms |"
fi

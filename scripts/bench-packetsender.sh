#!/usr/bin/env bash
# Benchmark: Sockpit's GUI side by side with Packet Sender's GUI (Debian package `packetsender`).
#
# Each GUI runs under its own Xvfb inside its own, freshly created network namespace that has only
# its loopback interface up; the load generator (scripts/bench-packetsender/load.py) runs inside the
# same namespace and sends only to 127.0.0.1. No traffic leaves the namespace; namespaces, Xvfb
# servers and GUIs are removed on exit (also on failure or Ctrl-C). Every loop is bounded.
#
# Measures, for each GUI, in the same run:
#  * UDP: the highest rate of 64-byte datagrams (paced, STEP_SECS per step, rising, then bisected)
#    that the GUI's UDP receiver takes with zero new kernel drops (RcvbufErrors on the Udp line of
#    the namespace's /proc/net/snmp), and whose receive queue drains after each step (proof that the
#    GUI reads).
#  * TCP: bytes per second the GUI's TCP server consumes from one client that floods it for TCP_SECS
#    (after a warm-up, so the bytes parked in socket buffers are not counted).
#  * CPU: the whole GUI process's CPU (all threads, including Mesa's llvmpipe rasteriser threads,
#    which is what users without a GPU get) while 1,000 datagrams/s of 64 bytes arrive for CPU_SECS,
#    as a share of one core; measured in each UDP run before the rate ladder.
# Each is repeated REPEATS times (a new GUI each time); prints Markdown rows (median | min | max)
# with Sockpit ÷ Packet Sender ratios. Whatever cannot be measured is said so in the row.
#
# Packet Sender is configured through a portable-mode ps_settings.ini in its working directory
# (and a temporary HOME): fixed UDP/TCP ports, no SSL server, no update prompt, and "Persistent TCP"
# on -- without it Packet Sender's TCP server reads once and closes the connection.
#
# Needs root (ip netns). Installs `packetsender` with apt-get if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

STEP_SECS=${STEP_SECS:-3}       # seconds per UDP rate step
TCP_SECS=${TCP_SECS:-10}        # seconds of TCP flood measured
TCP_WARMUP=${TCP_WARMUP:-2}     # seconds of TCP flood before measuring
REPEATS=${REPEATS:-3}
CPU_SECS=${CPU_SECS:-10}        # seconds of 1,000 datagrams/s while the GUI's CPU is measured
RATES=(1000 2000 5000 10000 20000 50000 100000 200000 300000 400000)
BISECT_STEPS=3
LOAD=scripts/bench-packetsender/load.py
UDP_PORT=40111
TCP_PORT=40112

log() { echo "bench-packetsender: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "needs root for network namespaces; not measured"
  echo "| UDP rate with zero kernel drops: Packet Sender (peer) | not measured (needs root for ip netns) | | | | |"
  echo "| TCP server, one flooding client: Packet Sender (peer) | not measured (needs root for ip netns) | | | | |"
  exit 0
fi

# --- dependencies (like scripts/install-deps.sh: idempotent, apt only) -------------------------
need=()
# x11-xserver-utils: Packet Sender's GUI refuses to start ("Cannot open display") unless `xrandr`
# runs and exits 0 on the display.
for p in packetsender x11-xserver-utils xvfb iproute2 python3 procps; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi
log "building sockpit (release)"
cargo build --quiet --release --bin sockpit
SOCKPIT=$PWD/target/release/sockpit
PS_BIN=$(command -v packetsender)
PS_VERSION=$(dpkg-query -W -f='${Version}' packetsender)

# --- lifecycle: everything created here is torn down by cleanup ----------------------------------
tmp=$(mktemp -d /tmp/bench-ps.XXXXXX)
namespaces=()
pids=()
cleanup() {
  local p ns
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

ns=""
new_ns() { # new_ns NAME: sets ns to a new namespace with only lo up
  ns="bps$$-$1"
  ip netns add "$ns"
  namespaces+=("$ns")
  in_ns "$ns" ip link set lo up
}

del_ns() {
  ip netns del "$1" 2>/dev/null || true
}

stop_pid() { # stop_pid PID: TERM, then KILL after 3 s
  local p=$1 i
  kill "$p" 2>/dev/null || return 0
  for i in $(seq 30); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
}

disp=""
start_xvfb() { # start_xvfb NS NAME: sets disp; the Xvfb pid is appended to pids
  local ns=$1 name=$2 i
  ip netns exec "$ns" Xvfb -displayfd 9 -nolisten tcp -screen 0 1280x800x24 \
    9>"$tmp/display.$name" >"$tmp/xvfb.$name.log" 2>&1 &
  xvfb_pid=$!
  pids+=("$xvfb_pid")
  for i in $(seq 100); do
    if [ -s "$tmp/display.$name" ]; then disp=":$(head -1 "$tmp/display.$name")"; return 0; fi
    sleep 0.1
  done
  log "Xvfb did not start in 10 s"; return 1
}

listening() { # listening NS udp|tcp PORT
  local flag=-lnu
  [ "$2" = tcp ] && flag=-lnt
  in_ns "$1" ss -H "$flag" "sport = :$3" | grep -q .
}

wait_listening() { # wait_listening NS udp|tcp PORT PID SECS
  local i
  for i in $(seq $((${5} * 10))); do
    listening "$1" "$2" "$3" && return 0
    kill -0 "$4" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# start_gui GUI PROTO NS: starts the GUI's window with its UDP receiver or TCP server on the port
gui_pid=""
start_gui() {
  local gui=$1 proto=$2 ns=$3 name="$1-$2-$RANDOM" dir
  gui_pid=""
  start_xvfb "$ns" "$name" || return 1
  dir="$tmp/home.$name"
  mkdir -p "$dir/.config" "$dir/.local/share"
  if [ "$gui" = sockpit ]; then
    local args=(gui --tab udp --bind "127.0.0.1:$UDP_PORT")
    [ "$proto" = tcp ] && args=(gui --tab tcp-server --listen "127.0.0.1:$TCP_PORT")
    (cd "$dir" && exec ip netns exec "$ns" env DISPLAY="$disp" HOME="$dir" \
      SOCKPIT_STATE_DIR="$dir" LIBGL_ALWAYS_SOFTWARE=1 "$SOCKPIT" "${args[@]}") \
      >"$tmp/gui.$name.log" 2>&1 &
  else
    local udp=0 tcp=0
    if [ "$proto" = udp ]; then udp=$UDP_PORT; else tcp=$TCP_PORT; fi
    # Portable mode: ps_settings.ini in the working directory is the settings file.
    cat >"$dir/ps_settings.ini" <<EOF
[General]
udpPort=$udp
tcpPort=$tcp
sslPort=0
udpServerEnable=$([ "$proto" = udp ] && echo true || echo false)
tcpServerEnable=$([ "$proto" = tcp ] && echo true || echo false)
sslServerEnable=false
persistentTCPCheck=true
ipMode=4
checkforUpdatesAsked=true
checkforUpdates=false
SW_VERSION=99.0.0
restoreSessionCheck=false
EOF
    (cd "$dir" && exec ip netns exec "$ns" env DISPLAY="$disp" HOME="$dir" \
      XDG_CONFIG_HOME="$dir/.config" XDG_DATA_HOME="$dir/.local/share" QT_QPA_PLATFORM=xcb \
      LIBGL_ALWAYS_SOFTWARE=1 "$PS_BIN") >"$tmp/gui.$name.log" 2>&1 &
  fi
  gui_pid=$!
  pids+=("$gui_pid")
  local port=$UDP_PORT
  [ "$proto" = tcp ] && port=$TCP_PORT
  if ! wait_listening "$ns" "$proto" "$port" "$gui_pid" 60; then
    log "$gui did not listen on $proto/$port within 60 s; its log:"
    tail -5 "$tmp/gui.$name.log" >&2 || true
    return 1
  fi
  sleep 2 # let the window finish its first frames
}

stop_gui() { # stops the GUI (if started) and its Xvfb
  [ -n "$gui_pid" ] && stop_pid "$gui_pid"
  stop_pid "$xvfb_pid"
}

rcvbuf_errors() { # Udp RcvbufErrors of the namespace
  in_ns "$1" cat /proc/net/snmp | awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["RcvbufErrors"] }'
}

udp_recvq() {
  in_ns "$1" ss -Hnu "sport = :$UDP_PORT" | awk '{ print $2; exit }'
}

drained() { # drained NS SECS: the GUI's UDP receive queue empties within SECS
  local i q
  for i in $(seq $(($2 * 10))); do
    q=$(udp_recvq "$1")
    [ "${q:-0}" = 0 ] && return 0
    sleep 0.1
  done
  return 1
}

# udp_step NS RATE -> prints "ACHIEVED_RATE DROPS DRAINED(0/1)"
udp_step() {
  local ns=$1 rate=$2 before after out sent secs d=1
  before=$(rcvbuf_errors "$ns")
  out=$(in_ns "$ns" timeout $((STEP_SECS + 20)) python3 "$LOAD" udp "$UDP_PORT" "$rate" "$STEP_SECS")
  sleep 0.2
  after=$(rcvbuf_errors "$ns")
  drained "$ns" 10 || d=0
  sent=$(awk '{ print $2 }' <<<"$out")
  secs=$(awk '{ print $4 }' <<<"$out")
  echo "$(awk -v n="$sent" -v t="$secs" 'BEGIN { printf "%d", n / t }') $((after - before)) $d"
}

# udp_ladder NS GUI -> prints "RATE LIMITED": the highest achieved rate with zero drops (0 if none),
# LIMITED=1 when no drop was found because the load generator could go no faster; notes on stderr
udp_ladder() {
  local ns=$1 gui=$2 rate ok=0 okrate=0 bad=0 limited=0 r a dr d i
  for rate in "${RATES[@]}"; do
    read -r a dr d < <(udp_step "$ns" "$rate")
    log "  $gui udp target $rate/s: sent $a/s, new RcvbufErrors $dr, queue drained $d"
    if [ "$d" = 0 ]; then log "  $gui stopped reading its UDP socket"; bad=$rate; break; fi
    if [ "$dr" != 0 ]; then bad=$rate; break; fi
    ok=$rate; okrate=$a
    if [ "$a" -lt $((rate * 9 / 10)) ]; then
      log "  $gui: the load generator reached only $a/s of $rate/s (its limit, not the GUI's)"
      limited=1; break
    fi
  done
  [ "$bad" = 0 ] && limited=1
  if [ "$bad" != 0 ]; then # bisect between the last clean rate and the first with drops
    local lo=$ok hi=$bad
    for i in $(seq $BISECT_STEPS); do
      r=$(((lo + hi) / 2))
      [ "$r" -le "$lo" ] && break
      read -r a dr d < <(udp_step "$ns" "$r")
      log "  $gui udp target $r/s: sent $a/s, new RcvbufErrors $dr, queue drained $d"
      if [ "$dr" = 0 ] && [ "$d" = 1 ]; then lo=$r; okrate=$a; else hi=$r; fi
    done
  fi
  echo "$okrate $limited"
}

# tcp_flood NS -> prints bytes/s consumed by the server, or "closed" if the server hung up
tcp_flood() {
  local out
  out=$(in_ns "$1" timeout $((TCP_SECS + TCP_WARMUP + 30)) python3 "$LOAD" tcp "$TCP_PORT" "$TCP_SECS" "$TCP_WARMUP") || true
  log "  tcp: $out"
  case "$out" in
    *ok) awk '{ printf "%d", $2 / $4 }' <<<"$out" ;;
    *) echo closed ;;
  esac
}

proc_cpu_ticks() { # proc_cpu_ticks PID: utime + stime of all the process's threads
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# cpu_at NS PID -> percent of one core the whole process used while 1,000 datagrams/s arrived
cpu_at() {
  local ns=$1 pid=$2 t0 t1 c0 c1 hz
  hz=$(getconf CLK_TCK)
  c0=$(proc_cpu_ticks "$pid"); t0=$(date +%s.%N)
  in_ns "$ns" timeout $((CPU_SECS + 20)) python3 "$LOAD" udp "$UDP_PORT" 1000 "$CPU_SECS" >/dev/null
  c1=$(proc_cpu_ticks "$pid"); t1=$(date +%s.%N)
  awk -v c="$((c1 - c0))" -v hz="$hz" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.1f", 100 * c / hz / (t1 - t0) }'
}

stats() { # stats N... -> "median min max" (numeric)
  printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "%s %s %s", v[int((NR + 1) / 2)], v[1], v[NR] }'
}

# --- measurements ---------------------------------------------------------------------------
declare -A res note limited=([packetsender]=0 [sockpit]=0)
for gui in packetsender sockpit; do
  for proto in udp tcp cpu; do res[$gui.$proto]=""; note[$gui.$proto]=""; done
done

for rep in $(seq "$REPEATS"); do
  for gui in packetsender sockpit; do
    for proto in udp tcp; do
      [ -n "${note[$gui.$proto]}" ] && continue # gave up on this one earlier
      new_ns "$gui-$proto-$rep"
      log "run $rep: $gui $proto (namespace $ns)"
      if ! start_gui "$gui" "$proto" "$ns"; then
        note[$gui.$proto]="not measured ($gui GUI did not open its $proto server under Xvfb)"
        stop_gui; del_ns "$ns"; continue
      fi
      if [ "$proto" = udp ]; then
        c=$(cpu_at "$ns" "$gui_pid")
        log "  $gui whole-process CPU at 1,000 datagrams/s: $c %"
        res[$gui.cpu]+="$c "
        read -r v l < <(udp_ladder "$ns" "$gui")
        [ "$l" = 1 ] && limited[$gui]=1
      else
        v=$(tcp_flood "$ns")
        if [ "$v" = closed ]; then
          note[$gui.$proto]="not measured ($gui closed the flooding connection)"
          stop_gui; del_ns "$ns"; continue
        fi
      fi
      if ! kill -0 "$gui_pid" 2>/dev/null; then log "  $gui exited during the run"; fi
      log "  $gui $proto run $rep: $v"
      res[$gui.$proto]+="$v "
      stop_gui
      del_ns "$ns"
    done
  done
done

# --- report -----------------------------------------------------------------------------------
mbs() { awk -v b="$1" 'BEGIN { v = b / 1e6; if (v >= 100) printf "%.0f", v; else if (v >= 10) printf "%.1f", v; else printf "%.2f", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "n/a"; else { r = a / b; if (r >= 100) printf "%.0f×", r; else printf "%.1f×", r } }'; }

row() { # row PROTO LABEL UNIT
  local proto=$1 label=$2 unit=$3 pm pn px sm sn sx f
  f() { if [ "$unit" = MB ]; then echo "$(mbs "$1") MB/s"; else echo "$1/s"; fi; }
  if [ -n "${note[packetsender.$proto]}" ] || [ -z "${res[packetsender.$proto]}" ]; then
    echo "| $label: Packet Sender (peer) | ${note[packetsender.$proto]:-not measured} | | | | |"
    echo "| $label: Sockpit ÷ Packet Sender | no ratio (peer not measured) | | | | ≥ 20× |"
    return
  fi
  read -r pm pn px <<<"$(stats ${res[packetsender.$proto]})"
  echo "| $label: Packet Sender (peer) | $(f "$pm") | $(f "$pn") | $(f "$px") | | |"
  if [ -n "${note[sockpit.$proto]}" ] || [ -z "${res[sockpit.$proto]}" ]; then
    echo "| $label: Sockpit ÷ Packet Sender | ${note[sockpit.$proto]:-not measured} | | | | ≥ 20× |"
    return
  fi
  read -r sm sn sx <<<"$(stats ${res[sockpit.$proto]})"
  local ge=""  # a lower bound when the load generator, not Sockpit, was the limit
  [ "$proto" = udp ] && [ "${limited[sockpit]}" = 1 ] && ge="≥ "
  echo "| $label: Sockpit ÷ Packet Sender | $ge$(f "$sm") | $(f "$sn") | $(f "$sx") | $ge$(ratio "$sm" "$pm") | ≥ 20× |"
}

cpu_row() {
  local pm pn px sm sn sx
  if [ -z "${res[packetsender.cpu]}" ] || [ -z "${res[sockpit.cpu]}" ]; then
    echo "| whole-process CPU at 1,000 datagrams/s | not measured (a GUI did not open its UDP receiver) | | | | ≤ 0.5× |"
    return
  fi
  read -r pm pn px <<<"$(stats ${res[packetsender.cpu]})"
  read -r sm sn sx <<<"$(stats ${res[sockpit.cpu]})"
  echo "| whole-process CPU at 1,000 datagrams/s: Packet Sender (peer) | $pm % | $pn % | $px % | | |"
  echo "| whole-process CPU at 1,000 datagrams/s: Sockpit ÷ Packet Sender | $sm % | $sn % | $sx % | $(awk -v a="$sm" -v b="$pm" 'BEGIN { if (b <= 0) print "n/a"; else printf "%.2f×", a / b }') | ≤ 0.5× |"
}

log "Packet Sender $PS_VERSION; per-run values: ps udp [${res[packetsender.udp]}] tcp [${res[packetsender.tcp]}] cpu [${res[packetsender.cpu]}]; sockpit udp [${res[sockpit.udp]}] tcp [${res[sockpit.tcp]}] cpu [${res[sockpit.cpu]}]"
row udp "UDP rate with zero kernel drops" N
row tcp "TCP server, one flooding client" MB
cpu_row

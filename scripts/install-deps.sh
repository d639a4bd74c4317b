#!/usr/bin/env bash
# Installs the system packages Sockpit needs to build, run and test on Debian/Ubuntu.
# Idempotent: packages already present are skipped.
set -euo pipefail
want=(
  pkg-config build-essential
  # GUI runtime: X11/Wayland client libs, Mesa (glow on software GL)
  libx11-dev libxcursor1 libxrandr2 libxi6 libxkbcommon-x11-0 libxkbcommon0 libwayland-client0
  libgl1 libgl1-mesa-dri libegl1 libgtk-3-0
  # headless display, screenshots, CJK fonts for rendering Chinese/Japanese/Korean
  xvfb xauth x11-utils imagemagick fonts-noto-cjk fontconfig
  # peers and tools used by tests and benchmarks
  socat iperf3 iproute2 python3 procps util-linux
)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all system packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

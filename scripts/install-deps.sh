#!/usr/bin/env bash
# Installs what Sockpit needs to build, run and test on Debian/Ubuntu: system packages (apt)
# and, when no Rust toolchain is found, Rust itself (rustup, stable, with rustfmt and clippy).
# Idempotent: whatever is already present is skipped.
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
  # reads the captures Sockpit writes (pcapng tests)
  tshark
  # steps a test process's wall clock (tests/clock_jump.rs)
  faketime
  # fetching the Rust toolchain on a fresh machine
  curl ca-certificates
)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all system packages present"
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Rust: use the toolchain on PATH or in ~/.cargo; install stable with rustup only if neither.
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: installing Rust (rustup, stable, with rustfmt and clippy)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
    sh -s -- -y --profile minimal --default-toolchain stable --component rustfmt,clippy
  . "$HOME/.cargo/env"
fi
for tool in rustfmt clippy; do
  if ! cargo "${tool/rustfmt/fmt}" --version >/dev/null 2>&1 && command -v rustup >/dev/null 2>&1; then
    echo "install-deps: adding the Rust component $tool"
    rustup component add "$tool"
  fi
done

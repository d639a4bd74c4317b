#!/usr/bin/env bash
# Runs Sockpit: installs missing system packages first, then builds and starts the app.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# A toolchain install-deps.sh just installed is not on this shell's PATH yet.
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
exec cargo run --release -- "$@"

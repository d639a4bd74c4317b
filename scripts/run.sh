#!/usr/bin/env bash
# Runs Sockpit: installs missing system packages first, then builds and starts the app.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
exec cargo run --release -- "$@"

#!/usr/bin/env bash
# Runs the benchmarks (loopback only) and prints one table. Not part of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
cargo bench --bench tcp_server

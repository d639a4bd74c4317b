#!/usr/bin/env bash
# Runs every benchmark (loopback and Xvfb only) and prints the tables. Not part of the test
# command: it takes several minutes. Each figure is a ratio against a peer measured in the same
# run (iperf3, a raw read loop, a plain recv_from loop, a naive formatter, the 1,000-record
# frame), or a bound from the issue (CPU share, memory).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
echo
echo "| measure | median | min | max | ratio | target |"
echo "|---|---|---|---|---|---|"
cargo bench --quiet --bench tcp_server 2>/dev/null | grep -v '^| measure\|^|---\|^open-file'
cargo bench --quiet --bench engine 2>/dev/null
cargo bench --quiet --bench receiving 2>/dev/null
cargo bench --quiet --bench sending 2>/dev/null
cargo bench --quiet --bench capture 2>/dev/null | grep "^|"
cargo bench --quiet --bench gui 2>/dev/null
if [ -x scripts/bench-packetsender.sh ]; then scripts/bench-packetsender.sh; fi
if [ -x scripts/bench-startup.sh ]; then scripts/bench-startup.sh; fi

#!/usr/bin/env bash
# Fuzzes every parser target of tests/fuzz_targets.rs for SECONDS each (default 60), one
# after another, and prints execs, execs/s and crashes per target (also kept as TSV in
# target/fuzz-report.tsv, or where SOCKPIT_FUZZ_REPORT says).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TEST FILTER...]    e.g. scripts/fuzz.sh 20 framers::
#
# The test profile is used (dependencies at opt-level 2, debug assertions and overflow checks
# on, so an overflow is a crash as it should be for fuzzing); FUZZ_RELEASE=1 builds with
# --release instead (the whole dependency tree again, a long build). An input that panics is
# written to target/fuzz-crashes/<target>/<hash>.bin; replay it with
#   SOCKPIT_FUZZ_REPLAY=FILE cargo test --test fuzz_targets <target>::
# Not part of scripts/check.sh: `cargo test` runs the same targets with a small budget.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
export LC_ALL=C.UTF-8 LANG=C.UTF-8
unset LANGUAGE LC_MESSAGES
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
profile=()
if [ "${FUZZ_RELEASE:-0}" = 1 ]; then profile=(--release); fi
report=${SOCKPIT_FUZZ_REPORT:-${CARGO_TARGET_DIR:-target}/fuzz-report.tsv}
mkdir -p "$(dirname "$report")"
rm -f "$report"
cargo test "${profile[@]}" --test fuzz_targets --no-run
targets=$(cargo test "${profile[@]}" -q --test fuzz_targets -- --list "$@" 2>/dev/null | sed -n 's/::fuzz: test$//p')
count=$(echo "$targets" | grep -c . || true)
echo "fuzz: $count targets, ${secs} s each (about $(( count * ${secs%.*} / 60 )) min)"
status=0
SOCKPIT_FUZZ_SECS=$secs SOCKPIT_FUZZ_REPORT=$report \
    cargo test "${profile[@]}" --test fuzz_targets -- --test-threads=1 "$@" || status=$?
echo
if [ -s "$report" ]; then
    if command -v column >/dev/null 2>&1; then column -t -s $'\t' "$report"; else cat "$report"; fi
    awk -F'\t' 'NR > 1 { e += $2; c += $5; n += 1 } END { printf "total: %d targets, %d execs, %d crashes\n", n, e, c }' "$report"
fi
# A target that aborts the process (a stack overflow) writes no row: name it.
for t in $targets; do
    if ! cut -f1 "$report" 2>/dev/null | grep -qx "$t"; then
        echo "fuzz: $t wrote no row (the run stopped before it, or it aborted the process)"
        status=1
    fi
done
crashes=$(find "${CARGO_TARGET_DIR:-target}/fuzz-crashes" -type f 2>/dev/null | sort)
if [ -n "$crashes" ]; then
    echo "crash inputs kept (this run's and earlier ones):"
    echo "$crashes"
fi
exit $status

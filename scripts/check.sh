#!/usr/bin/env bash
# The one test command: installs what tests need, then fmt, clippy, every test and the smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# A toolchain install-deps.sh just installed is not on this shell's PATH yet.
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# Tests compare English output; the CLI and the window follow the locale (tests/ui_chinese.rs
# and tests/cli_chinese.rs ask for Chinese themselves).
export LC_ALL=C.UTF-8 LANG=C.UTF-8
unset LANGUAGE LC_MESSAGES
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets
cargo test --doc
cargo build --bin sockpit
scripts/smoke.sh "${CARGO_TARGET_DIR:-target}/debug/sockpit"
echo "check: all passed"

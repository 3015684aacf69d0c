#!/usr/bin/env bash
# test.sh: every test. Unit and integration tests (the real binary, as root, on busybox
# bundles), then the OCI runtime-tools validation suite with its pass count.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/x86_64-unknown-linux-gnu/release/hull ] || scripts/setup.sh >/dev/null

cargo fmt --all -- --check
cargo clippy --all-targets --locked -q -- -D warnings
cargo test --locked --workspace 2>&1 | tee target/test.log
grep -q '^test result: ok' target/test.log

integration/validation.sh

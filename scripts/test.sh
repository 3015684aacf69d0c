#!/usr/bin/env bash
# test.sh: every test. Unit and integration tests (the real binary, as root, on busybox
# bundles), the OCI runtime-tools validation suite with its pass count, runc's own
# integration suite (the tests hull must pass), then the integration tests once more
# inside a cgroup v2 VM.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/x86_64-unknown-linux-gnu/release/hull ] || scripts/setup.sh >/dev/null
# Each phase's wall time, so that a slow or timed-out CI run shows where its time went.
t0=$SECONDS
phase() { echo "test.sh: [$((SECONDS - t0))s] $*"; }
trap 'phase "ended (exit $?)"' EXIT

phase "fmt, clippy, unit and integration tests, man pages and completions"
cargo fmt --all -- --check
cargo clippy --all-targets --locked -q -- -D warnings
cargo test --locked --workspace 2>&1 | tee target/test.log
grep -q '^test result: ok' target/test.log
scripts/gen-docs.sh --check

# Whatever the tests did in parallel, nothing of hull's may remain on the host.
leaks=$(find /sys/fs/cgroup -maxdepth 3 -name '*hull*' 2>/dev/null; grep hull /proc/self/mountinfo || true)
if [ -n "$leaks" ]; then echo "test: left behind after the tests:" >&2; echo "$leaks" >&2; exit 1; fi

phase "OCI runtime-tools validation"
integration/validation.sh

# runc's own integration suite: every test of integration/runc-must-pass.txt must pass.
phase "runc's suite on this host"
integration/runc-suite.sh

# The integration tests again on a pure cgroup v2 host with systemd's kernel (a VM).
phase "VM tests"
integration/vm-tests.sh

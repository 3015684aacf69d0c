#!/usr/bin/env bash
# runc-suite.sh: runc's own integration suite (../shared/tools/runc-bats) against hull,
# limited to integration/runc-must-pass.txt: every test listed there must pass. hull runs
# under the name `runc` (a copy), as a drop-in install would; see docs/DESIGN-NOTES.md.
# `runc-suite.sh --all` runs the whole suite instead and only reports (to grow the list).
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=../shared/tools/runc-bats
if [ ! -f "$TOOLS/run-bats.sh" ]; then
  echo "runc-suite: skipped: $TOOLS is absent (shared/ lives beside the repo)"
  exit 0
fi
HULL=$PWD/target/x86_64-unknown-linux-gnu/release/hull
[ -x "$HULL" ] || scripts/setup.sh >/dev/null
mkdir -p target/runc-bats
# A copy, not a symlink: run-bats.sh resolves links, and the name is what counts.
cp -f "$HULL" target/runc-bats/runc

# The suite's helpers, images and packages (idempotent: seconds once done).
if ! bash "$TOOLS/setup.sh" >target/runc-bats/setup.log 2>&1; then
  tail -n 30 target/runc-bats/setup.log >&2
  echo "runc-suite: the suite's setup.sh failed (log: target/runc-bats/setup.log)" >&2
  exit 1
fi

if [ "${1:-}" = "--all" ]; then
  exec bash "$TOOLS/run-bats.sh" -n hull-all target/runc-bats/runc
fi
bash "$TOOLS/run-bats.sh" -n hull-must-pass --only integration/runc-must-pass.txt \
  target/runc-bats/runc | tee target/runc-bats/must-pass.log
last=$(tail -n 1 target/runc-bats/must-pass.log)
if ! grep -qE '^[0-9]+ passed, 0 failed' <<<"$last"; then
  echo "runc-suite: a must-pass test failed: $last" >&2
  grep -h '' "${RUNC_BATS_DIR:-/var/tmp/runc-bats}/results/hull-must-pass.failed" >&2 || true
  exit 1
fi
echo "runc-suite: $last"

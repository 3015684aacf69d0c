#!/usr/bin/env bash
# runc-suite.sh: runc's own integration suite (../shared/tools/runc-bats) against hull,
# limited to integration/runc-must-pass.txt: every test listed there must pass. hull runs
# under the name `runc` (a copy), as a drop-in install would; see docs/DESIGN-NOTES.md.
# `runc-suite.sh --all` runs the whole suite instead and only reports (to grow the list).
# `runc-suite.sh --vm` runs integration/runc-must-pass-v2.txt in the pure cgroup v2 VM of
# ../shared/tools/vm-run.sh (integration/vm-tests.sh calls it).
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
name=hull-must-pass list=integration/runc-must-pass.txt
run=(bash "$TOOLS/run-bats.sh")
if [ "${1:-}" = "--vm" ]; then
  # The guest's / is this host's, read-only: the work dir and the binary are shared. The
  # emulated guest is slow, hence the longer per-file timeout.
  name=hull-must-pass-v2 list=integration/runc-must-pass-v2.txt
  work=${RUNC_BATS_DIR:-/var/tmp/runc-bats}
  run=(../shared/tools/vm-run.sh -t 2400 -w "$work" -w "$PWD/target/runc-bats" --
    bash "$TOOLS/run-bats.sh" -t 1200)
fi
rc=0
"${run[@]}" -n $name --only $list target/runc-bats/runc | tee target/runc-bats/$name.log || rc=$?
if [ $rc -eq 125 ]; then
  echo "runc-suite: skipped: the VM could not start (exit 125)"
  exit 0
fi
last=$(tail -n 1 target/runc-bats/$name.log)
if ! grep -qE '^[0-9]+ passed, 0 failed' <<<"$last"; then
  echo "runc-suite: a must-pass test failed ($list): $last" >&2
  results=${RUNC_BATS_DIR:-/var/tmp/runc-bats}/results
  grep -h '' "$results/$name"*.failed >&2 || true
  # A killed VM leaves no summary: show each file's TAP, and a file cut short (.raw).
  for f in "$results/$name"/*.tap "$results/$name"/*.raw; do
    [ -f "$f" ] && [ "$f" -nt "$results/$name/RUN-INFO" ] || continue
    echo "--- $f" >&2
    tail -n 20 "$f" >&2
  done
  exit 1
fi
echo "runc-suite: $list: $last"

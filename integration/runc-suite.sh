#!/usr/bin/env bash
# runc-suite.sh: runc's own integration suite (../shared/tools/runc-bats) against hull,
# limited to integration/runc-must-pass.txt: every test listed there must pass. hull runs
# under the name `runc` (a copy), as a drop-in install would; see docs/DESIGN-NOTES.md.
# `runc-suite.sh --all` runs the whole suite instead and only reports (to grow the list).
# integration/runc-must-pass-v2.txt is for the pure cgroup v2 VM of ../shared/tools/vm-run.sh:
# `--vm` boots one for it; integration/vm-tests.sh runs it in the VM of its own tests
# instead (one boot less): `--prepare` here, `--guest` in the VM, `--check-v2` here.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=../shared/tools/runc-bats
if [ ! -f "$TOOLS/run-bats.sh" ]; then
  echo "runc-suite: skipped: $TOOLS is absent (shared/ lives beside the repo)"
  exit 0
fi
WORK=${RUNC_BATS_DIR:-/var/tmp/runc-bats}
V2_NAME=hull-must-pass-v2 V2_LIST=integration/runc-must-pass-v2.txt
# The emulated guest is slow (the longest file, events.bats, takes ~190 s), hence the
# longer per-file timeout; short enough that a file that hangs leaves the others time.
V2_RUN=(bash "$TOOLS/run-bats.sh" -t 600 -n $V2_NAME --only $V2_LIST target/runc-bats/runc)

# hull as `runc`, and the suite's helpers, images and packages (seconds once done).
prepare() {
  local hull=$PWD/target/x86_64-unknown-linux-gnu/release/hull
  [ -x "$hull" ] || scripts/setup.sh >/dev/null
  mkdir -p target/runc-bats
  # A copy, not a symlink: run-bats.sh resolves links, and the name is what counts.
  cp -f "$hull" target/runc-bats/runc
  if ! bash "$TOOLS/setup.sh" >target/runc-bats/setup.log 2>&1; then
    tail -n 30 target/runc-bats/setup.log >&2
    echo "runc-suite: the suite's setup.sh failed (log: target/runc-bats/setup.log)" >&2
    exit 1
  fi
}

# Fails unless the run's count line says "N passed, 0 failed", showing what failed.
check() {
  local name=$1 list=$2 last results=$WORK/results f
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "target/runc-bats/$name.log" 2>/dev/null | tail -n 1 || true)
  if ! grep -qE '^[0-9]+ passed, 0 failed' <<<"$last"; then
    echo "runc-suite: a must-pass test failed ($list): $last" >&2
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
}

case "${1:-}" in
--prepare)
  prepare
  ;;
--guest)
  # In a VM whose / is this host's (read-only) and that shares $WORK and the repo.
  rm -f target/runc-bats/$V2_NAME.log
  "${V2_RUN[@]}" 2>&1 | tee target/runc-bats/$V2_NAME.log
  ;;
--check-v2)
  check $V2_NAME $V2_LIST
  ;;
--all)
  prepare
  exec bash "$TOOLS/run-bats.sh" -n hull-all target/runc-bats/runc
  ;;
--vm)
  prepare
  rc=0
  ../shared/tools/vm-run.sh -t 2400 -w "$WORK" -w "$PWD/target/runc-bats" -- "${V2_RUN[@]}" |
    tee target/runc-bats/$V2_NAME.log || rc=$?
  if [ $rc -eq 125 ]; then
    echo "runc-suite: skipped: the VM could not start (exit 125)"
    exit 0
  fi
  check $V2_NAME $V2_LIST
  ;;
"")
  prepare
  bash "$TOOLS/run-bats.sh" -n hull-must-pass --only integration/runc-must-pass.txt \
    target/runc-bats/runc | tee target/runc-bats/hull-must-pass.log || true
  check hull-must-pass integration/runc-must-pass.txt
  ;;
*)
  echo "usage: runc-suite.sh [--all | --vm | --prepare | --guest | --check-v2]" >&2
  exit 2
  ;;
esac

#!/usr/bin/env bash
# runc-suite.sh: runc's own integration suite (../shared/tools/runc-bats) against hull,
# limited to integration/runc-must-pass.txt: every test listed there must pass. hull runs
# under the name `runc` (a copy), as a drop-in install would; see docs/DESIGN-NOTES.md.
# `runc-suite.sh --all` runs the whole suite instead and only reports (to grow the list).
# integration/runc-must-pass-v2.txt is for the pure cgroup v2 VM of ../shared/tools/vm-run.sh:
# `--vm` boots one for it; integration/vm-tests.sh runs it in the VM of its own tests
# instead (one boot less): `--prepare` here, `--guest v2` in the VM, `--check v2` here;
# likewise `--guest selinux` in its SELinux VM (integration/runc-must-pass-selinux.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=../shared/tools/runc-bats
if [ ! -f "$TOOLS/run-bats.sh" ]; then
  echo "runc-suite: skipped: $TOOLS is absent (shared/ lives beside the repo)"
  exit 0
fi
WORK=${RUNC_BATS_DIR:-/var/tmp/runc-bats}
# A VM's list (v2, selinux): its run's name and the file of its tests.
vm_name() { echo "hull-must-pass-$1"; }
vm_list() { echo "integration/runc-must-pass-$1.txt"; }
# The emulated guest is slow (the longest file, events.bats, takes ~190 s), hence the
# longer per-file timeout; short enough that a file that hangs leaves the others time.
vm_run() {
  bash "$TOOLS/run-bats.sh" -t 600 -n "$(vm_name "$1")" --only "$(vm_list "$1")" target/runc-bats/runc
}
vm_kind() {
  case "${1:-}" in
  v2 | selinux) ;;
  *)
    echo "runc-suite: which VM list: v2 or selinux" >&2
    exit 2
    ;;
  esac
}

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
  vm_kind "${2:-}"
  rm -f "target/runc-bats/$(vm_name "$2").log"
  vm_run "$2" 2>&1 | tee "target/runc-bats/$(vm_name "$2").log"
  ;;
--check)
  vm_kind "${2:-}"
  check "$(vm_name "$2")" "$(vm_list "$2")"
  ;;
--all)
  prepare
  exec bash "$TOOLS/run-bats.sh" -n hull-all target/runc-bats/runc
  ;;
--vm)
  prepare
  rc=0
  ../shared/tools/vm-run.sh -t 2400 -w "$WORK" -w "$PWD" -C "$PWD" -- \
    bash integration/runc-suite.sh --guest v2 || rc=$?
  if [ $rc -eq 125 ]; then
    echo "runc-suite: skipped: the VM could not start (exit 125)"
    exit 0
  fi
  check "$(vm_name v2)" "$(vm_list v2)"
  ;;
"")
  prepare
  bash "$TOOLS/run-bats.sh" -n hull-must-pass --only integration/runc-must-pass.txt \
    target/runc-bats/runc | tee target/runc-bats/hull-must-pass.log || true
  check hull-must-pass integration/runc-must-pass.txt
  ;;
*)
  echo "usage: runc-suite.sh [--all | --vm | --prepare | --guest v2|selinux | --check v2|selinux]" >&2
  exit 2
  ;;
esac

#!/usr/bin/env bash
# vm-tests.sh: the integration tests again inside a VM with a pure cgroup v2 host
# (../shared/tools/vm-run.sh), where this host's hybrid v1 layout cannot show v2, and in
# the same VM runc's suite, the tests this host skips for want of cgroup v2; then
# tests/systemd.rs and tests/cgroups.rs once more in a VM with systemd as PID 1
# (--systemd-cgroup).
set -euo pipefail
cd "$(dirname "$0")/.."
VM=../shared/tools/vm-run.sh
if [ ! -x "$VM" ]; then
  echo "vm-tests: skipped: $VM is absent (shared/ lives beside the repo)"
  exit 0
fi
# CRIU (tests/checkpoint.rs, runc's checkpoint.bats) runs in the guest from the host's /,
# and locks a container's network with iptables.
scripts/apt-need.sh criu iptables
# The guest runs the integration tests with nextest: all of them at once, 4 at a time
# (the tests mostly wait: ~12 min instead of ~18 one binary after another). Not there:
# cli, terminal (nothing in them depends on the cgroup version or the kernel) and systemd
# (the systemd VM below runs it). A test still running after 10 min is killed (profile vm).
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
VM_TESTS='kind(test) & !binary(=cli) & !binary(=terminal) & !binary(=systemd)'
NEXTEST=(cargo nextest run --locked --offline --workspace --profile vm --no-fail-fast
  --test-threads 4 -E "$VM_TESTS")
# Built here (the guest compiles slowly): the VM's root is this host's / (read-only),
# the repo is shared read-write. `list` builds exactly what `run` will.
cargo test --locked --no-run --tests -q 2>/dev/null
cargo nextest list --locked --workspace -E "$VM_TESTS" >/dev/null
bash integration/runc-suite.sh --prepare
rm -f target/runc-bats/hull-must-pass-v2.log
# Runs one VM: exit 125 (the VM itself failed) is a skip, with the reason.
vm() {
  local name=$1 rc=0 start=$SECONDS
  shift
  "$VM" "$@" | tee "target/vm-tests-$name.log" || rc=$?
  echo "vm-tests: $name: exit $rc after $((SECONDS - start))s"
  if [ $rc -eq 125 ]; then
    echo "vm-tests: $name: skipped: the VM could not start (exit 125)"
    return 125
  fi
  return $rc
}
rc=0 v2=0
vm v2 -t 2700 -w "$PWD" -w "${RUNC_BATS_DIR:-/var/tmp/runc-bats}" -C "$PWD" \
  -e CARGO_TERM_COLOR=never -e HULL_TEST_QUICK=1 -- \
  sh -c 'test -f /sys/fs/cgroup/cgroup.subtree_control || exit 1; rc=0
    "$@" 2>&1 || rc=$?
    bash integration/runc-suite.sh --guest; exit $rc' sh "${NEXTEST[@]}" || v2=$?
case $v2 in
0) ;;
125) v2=0 ;;
*) rc=$v2 ;;
esac
# runc's own suite, the tests that need cgroup v2 (integration/runc-must-pass-v2.txt).
if [ -f target/runc-bats/hull-must-pass-v2.log ] || [ $v2 -ne 0 ]; then
  bash integration/runc-suite.sh --check-v2 || rc=$?
fi
vm systemd --systemd -t 600 -w "$PWD" -C "$PWD" -e CARGO_TERM_COLOR=never -- \
  sh -c 'test "$(cat /proc/1/comm)" = systemd && cargo test --locked --offline --test systemd --test cgroups 2>&1' \
  || { r=$?; [ $r -eq 125 ] || rc=$r; }
exit $rc

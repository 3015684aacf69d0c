#!/usr/bin/env bash
# vm-tests.sh: the integration tests again inside a VM with a pure cgroup v2 host
# (../shared/tools/vm-run.sh), where this host's hybrid v1 layout cannot show v2; then
# tests/systemd.rs and tests/cgroups.rs once more in a VM with systemd as PID 1
# (--systemd-cgroup); then runc's suite, the tests this host skips for want of cgroup v2.
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
# Built here; the VM's root is this host's / (read-only), the repo is shared read-write.
cargo test --locked --no-run --tests -q 2>/dev/null
# Runs one VM: exit 125 (the VM itself failed) is a skip, with the reason.
vm() {
  local name=$1 rc=0 start=$SECONDS
  shift
  "$VM" "$@" | tee "target/vm-tests-$name.log" || rc=$?
  echo "vm-tests: $name: exit $rc after $((SECONDS - start))s"
  if [ $rc -eq 125 ]; then
    echo "vm-tests: $name: skipped: the VM could not start (exit 125)"
    return 0
  fi
  return $rc
}
rc=0
vm v2 -t 1500 -w "$PWD" -C "$PWD" -e CARGO_TERM_COLOR=never -e HULL_TEST_QUICK=1 -- \
  sh -c 'test -f /sys/fs/cgroup/cgroup.subtree_control && cargo test --locked --offline --test "*" 2>&1' \
  || rc=$?
vm systemd --systemd -t 600 -w "$PWD" -C "$PWD" -e CARGO_TERM_COLOR=never -- \
  sh -c 'test "$(cat /proc/1/comm)" = systemd && cargo test --locked --offline --test systemd --test cgroups 2>&1' \
  || rc=$?
# runc's own suite, the tests that need cgroup v2 (integration/runc-must-pass-v2.txt).
bash integration/runc-suite.sh --vm || rc=$?
exit $rc

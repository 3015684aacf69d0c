#!/usr/bin/env bash
# vm-tests.sh: the integration tests again inside a VM with a pure cgroup v2 host
# (../shared/tools/vm-run.sh), where this host's hybrid v1 layout cannot show v2, and in
# the same VM runc's suite, the tests this host skips for want of cgroup v2; then
# tests/systemd.rs and tests/cgroups.rs once more in a VM with systemd as PID 1
# (--systemd-cgroup); last, SELinux: tests/lsm.rs and runc's selinux.bats in a VM booted
# with security=selinux (AppArmor, the kernel's default, is tested in the first VM).
set -euo pipefail
cd "$(dirname "$0")/.."
VM=../shared/tools/vm-run.sh
if [ ! -x "$VM" ]; then
  echo "vm-tests: skipped: $VM is absent (shared/ lives beside the repo)"
  exit 0
fi
# CRIU (tests/checkpoint.rs, runc's checkpoint.bats) runs in the guest from the host's /,
# and locks a container's network with iptables; apparmor_parser loads tests/lsm.rs's
# profile; Debian's reference policy, plus the container types runc's selinux.bats and
# tests/lsm.rs label with, is what the SELinux VM loads (the host itself runs no LSM).
scripts/apt-need.sh criu iptables apparmor selinux-policy-default policycoreutils selinux-utils
semodule -l | grep -qx hull-container || semodule -n -i integration/selinux/hull-container.cil
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
# The paths of test binaries (tests/NAME.rs), run in the guest without cargo, whose start
# there (checking every dependency over 9p) takes ~20 s.
test_bins() {
  cargo test --locked --no-run "${@/#/--test=}" 2>&1 | sed -n 's/.*Executable tests\/.* (\(.*\))$/\1/p'
}
cargo nextest list --locked --workspace -E "$VM_TESTS" >/dev/null
bash integration/runc-suite.sh --prepare
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
rc=0
# A VM whose command ends with `runc-suite.sh --guest NAME` (runc's suite, the tests of
# integration/runc-must-pass-NAME.txt): the VM's result, then the list's, checked here.
vm_with_suite() {
  local name=$1 r=0 log=target/runc-bats/hull-must-pass-$1.log
  rm -f "$log"
  vm "$@" || r=$?
  [ $r -eq 125 ] && return 0
  [ $r -eq 0 ] || rc=$r
  if [ -f "$log" ] || [ $r -ne 0 ]; then
    bash integration/runc-suite.sh --check "$name" || rc=$?
  fi
}
vm_with_suite v2 -t 2700 -w "$PWD" -w "${RUNC_BATS_DIR:-/var/tmp/runc-bats}" -C "$PWD" \
  -e CARGO_TERM_COLOR=never -e HULL_TEST_QUICK=1 -- \
  sh -c 'test -f /sys/fs/cgroup/cgroup.subtree_control || exit 1; rc=0
    "$@" 2>&1 || rc=$?
    bash integration/runc-suite.sh --guest v2; exit $rc' sh "${NEXTEST[@]}"
vm systemd --systemd -t 600 -w "$PWD" -C "$PWD" -- \
  sh -c 'test "$(cat /proc/1/comm)" = systemd || exit 1; rc=0
    for t in "$@"; do "$t" 2>&1 || rc=1; done; exit $rc' sh $(test_bins systemd cgroups) \
  || { r=$?; [ $r -eq 125 ] || rc=$r; }
# Permissive: a label must be valid for the policy, nothing is denied (the policy has no
# rules for the container types).
vm_with_suite selinux --append security=selinux -t 900 -w "$PWD" \
  -w "${RUNC_BATS_DIR:-/var/tmp/runc-bats}" -C "$PWD" -- \
  sh -c 'load_policy -i && test "$(getenforce)" = Permissive || exit 1; rc=0
    "$1" 2>&1 || rc=$?
    bash integration/runc-suite.sh --guest selinux; exit $rc' sh "$(test_bins lsm)"
exit $rc

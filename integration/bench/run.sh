#!/usr/bin/env bash
# bench/run.sh [N]: a benchmark, not a test. hull, runc and crun side by side on the same
# busybox bundle: N sequential `run` of /bin/true, N create + start + delete, and N
# foreground `exec` of /bin/true into a running container. Prints
# per-container medians and hull's ratios (integration/bench/measure.py).
#
# Everything runs in one private mount namespace with the empty cgroup2 mount hidden:
# crun refuses hybrid hosts, and all three must see the same host. Nothing outside the
# namespace changes.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-50}
HULL=${HULL:-$PWD/target/x86_64-unknown-linux-gnu/release/hull}
scripts/apt-need.sh runc crun busybox-static python3
[ -x "$HULL" ] || cargo build --release --locked

WORK=$(mktemp -d /tmp/hull-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
HULL=$HULL scripts/mkbundle.sh "$WORK/bundle" true >/dev/null
HULL=$HULL scripts/mkbundle.sh "$WORK/sleeper" sleep 1000000 >/dev/null

# Interleaved rounds (measure.py): host load drifting during the run hits all three alike.
unshare -m --propagation private bash -c 'umount /sys/fs/cgroup/unified 2>/dev/null || true; exec python3 "$@"' \
  sh integration/bench/measure.py "$WORK" "$N" "$HULL"

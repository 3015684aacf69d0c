#!/usr/bin/env bash
# bench/run.sh [N]: a benchmark, not a test. hull, runc and crun side by side on the same
# busybox bundle: N sequential `run` of /bin/true, and N create + start + delete. Prints
# per-container medians (hyperfine, no shell for `run`) and hull's ratios.
#
# Everything runs in one private mount namespace with the empty cgroup2 mount hidden:
# crun refuses hybrid hosts, and all three must see the same host. Nothing outside the
# namespace changes.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-50}
HULL=${HULL:-$PWD/target/x86_64-unknown-linux-gnu/release/hull}
need=()
for p in runc crun hyperfine busybox-static python3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ -x "$HULL" ] || cargo build --release --locked

WORK=$(mktemp -d /tmp/hull-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
HULL=$HULL scripts/mkbundle.sh "$WORK/bundle" true >/dev/null

export HULL WORK N
unshare -m --propagation private bash -c '
set -euo pipefail
umount /sys/fs/cgroup/unified 2>/dev/null || true
for rt in hull runc crun; do
  bin=$rt; [ $rt = hull ] && bin=$HULL
  root=$WORK/root-$rt; mkdir -p "$root"
  hyperfine -N --warmup 3 --runs "$N" --export-json "$WORK/run-$rt.json" \
    "$bin --root $root run --bundle $WORK/bundle bench-$rt" >/dev/null
  hyperfine --warmup 3 --runs "$N" --export-json "$WORK/life-$rt.json" \
    "$bin --root $root create --bundle $WORK/bundle life-$rt && $bin --root $root start life-$rt && $bin --root $root delete -f life-$rt" >/dev/null
done
'
python3 - "$WORK" "$N" "$(stat -c %s "$HULL")" <<'PY'
import json, sys
work, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
def median_ms(kind, rt):
    return json.load(open(f"{work}/{kind}-{rt}.json"))["results"][0]["median"] * 1000
print(f"hull benchmark: {n} containers each, medians in ms (busybox bundle, /bin/true)")
print(f"{'':22}{'hull':>8}{'runc':>8}{'crun':>8}{'hull/runc':>11}{'hull/crun':>11}")
for kind, label in [("run", "run"), ("life", "create+start+delete")]:
    h, r, c = (median_ms(kind, rt) for rt in ("hull", "runc", "crun"))
    print(f"{label:22}{h:8.2f}{r:8.2f}{c:8.2f}{h / r:11.2f}{h / c:11.2f}")
print(f"hull binary: {size / 1e6:.2f} MB")
PY

#!/usr/bin/env bash
# checkpoint.sh: checkpoint and restore times of one counting container, hull and runc
# alternating, N rounds each (default 5), with the image sizes; in the VM of
# ../shared/tools/vm-run.sh (CRIU fails on this host's kernel). Prints one line per run
# and the medians. Usage: integration/bench/checkpoint.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${1:-}" != --guest ]; then
  exec ../shared/tools/vm-run.sh -t 1500 -e N="${1:-5}" -- bash "$PWD/integration/bench/checkpoint.sh" --guest
fi
repo=$PWD
mount -t tmpfs tmpfs /var/tmp # the guest's scratch (the shared dirs cannot hold pipes)
B=/var/tmp/bundle
"$repo/scripts/mkbundle.sh" "$B" sh -c 'i=0; while read l; do i=$((i+1)); echo "$i $l"; done' >/dev/null
ms() { echo $(($(date +%s%N) / 1000000)); }
for i in $(seq "$N"); do
  for rt in "$repo/target/x86_64-unknown-linux-gnu/release/hull" "$(command -v runc)"; do
    name=$(basename "$rt") D=/var/tmp/$name-$i
    mkdir -p "$D"
    exec 7<> <(:) 9<> <(:)
    "$rt" --root "$D/state" run -d --bundle "$B" c <&7 >&9 2>&9
    echo a >&7 && read -r -t 10 _ <&9
    t0=$(ms)
    "$rt" --root "$D/state" checkpoint --image-path "$D/img" --work-path "$D/work" c
    t1=$(ms)
    exec 8<> <(:) 10<> <(:)
    "$rt" --root "$D/state" restore -d --image-path "$D/img" --work-path "$D/work" --bundle "$B" c <&8 >&10 2>&10
    t2=$(ms)
    echo b >&8 && read -r -t 10 answer <&10
    [ "$answer" = "2 b" ] || { echo "$name: the restored container answered '$answer'" >&2; exit 1; }
    echo "$name checkpoint_ms=$((t1 - t0)) restore_ms=$((t2 - t1)) image_kb=$(du -sk "$D/img" | cut -f1)"
    "$rt" --root "$D/state" delete -f c
    exec 7>&- 8>&- 9>&- 10>&-
  done
done | tee /var/tmp/results
for name in hull runc; do
  for k in checkpoint_ms restore_ms; do
    grep "^$name " /var/tmp/results | grep -o "$k=[0-9]*" | cut -d= -f2 | sort -n |
      awk -v n="$name" -v k="$k" '{v[NR]=$1} END {print n, k, "median", v[int((NR+1)/2)]}'
  done
done

#!/usr/bin/env bash
# v1-extras.sh CMD [ARGS...]: runs CMD in a private mount namespace whose /sys/fs/cgroup
# also holds v1 hierarchies for hugetlb and net_cls,net_prio, which this host leaves
# unmounted (they sit unused on its empty cgroup2). The host's mounts are untouched: a
# tmpfs covers /sys/fs/cgroup in the namespace and the host's hierarchies are moved onto
# it. Afterwards the new hierarchies are unmounted until the kernel has destroyed them (it
# keeps one that still had a dying cgroup at its last unmount, controllers and all).
# Exits 125 without running CMD where that does not apply: a pure cgroup v2 host, or
# hugetlb or net_cls bound to a hierarchy already.
set -uo pipefail
hierarchy() { awk -v c="$1" '$1 == c {print $2}' /proc/cgroups; }
if [ -e /sys/fs/cgroup/cgroup.controllers ] || [ "$(hierarchy hugetlb)" != 0 ] ||
  [ "$(hierarchy net_cls)" != 0 ]; then
  echo "v1-extras: not a cgroup v1 host with hugetlb and net_cls unmounted" >&2
  exit 125
fi
if [ "${1:-}" != --inside ]; then
  exec unshare -m --propagation private "$0" --inside "$@"
fi
shift
CG=/sys/fs/cgroup
stash=$(mktemp -d /run/hull-v1-extras.XXXXXX)
mount --rbind "$CG" "$stash"
mount -t tmpfs -o mode=755 tmpfs "$CG"
for e in "$stash"/*; do
  n=${e##*/}
  if [ -L "$e" ]; then
    ln -s "$(readlink "$e")" "$CG/$n"
  elif mountpoint -q "$e"; then
    mkdir "$CG/$n" && mount --move "$e" "$CG/$n"
  fi
done
umount -l "$stash" && rmdir "$stash"
mkdir "$CG/hugetlb" "$CG/net_cls,net_prio"
ln -s net_cls,net_prio "$CG/net_cls"
ln -s net_cls,net_prio "$CG/net_prio"
mount_extras() {
  [ "$(hierarchy hugetlb)" = 0 ] || mountpoint -q "$CG/hugetlb" || mount -t cgroup -o hugetlb cgroup "$CG/hugetlb"
  [ "$(hierarchy net_cls)" = 0 ] || mountpoint -q "$CG/net_cls,net_prio" || mount -t cgroup -o net_cls,net_prio cgroup "$CG/net_cls,net_prio"
}
rc=0
if mount -t cgroup -o hugetlb cgroup "$CG/hugetlb" && mount -t cgroup -o net_cls,net_prio cgroup "$CG/net_cls,net_prio"; then
  "$@" || rc=$?
else
  echo "v1-extras: cannot mount the hugetlb and net_cls,net_prio hierarchies" >&2
  rc=1
fi
for _ in $(seq 300); do
  umount "$CG/hugetlb" "$CG/net_cls,net_prio" 2>/dev/null
  sleep 0.1
  if [ "$(hierarchy hugetlb)" = 0 ] && [ "$(hierarchy net_cls)" = 0 ]; then
    exit $rc
  fi
  mount_extras 2>/dev/null
done
echo "v1-extras: the hugetlb or net_cls,net_prio hierarchy lives on after 30 s" >&2
exit 1

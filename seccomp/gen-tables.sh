#!/usr/bin/env bash
# seccomp/gen-tables.sh: regenerates src/tables.rs, the syscall numbers by name of every
# architecture the compiler knows, from the kernel's UAPI headers as Debian ships them
# (linux-libc-dev for x86, linux-libc-dev-*-cross for the others; Linux 6.1). The syscalls
# added since then (Linux 6.5 to 6.15) have one number on every architecture, offset by
# the ABI's base (MIPS 4000/5000/6000, x32 0x40000000), and are listed below, with the few
# arch-specific ones of that time. Macros that are no syscalls (bases, reserved slots) are
# left out.
#
# Usage: seccomp/gen-tables.sh [--check]   (--check: fail if src/tables.rs would change)
set -euo pipefail
cd "$(dirname "$0")"

pkgs=(linux-libc-dev linux-libc-dev-arm64-cross linux-libc-dev-armhf-cross
  linux-libc-dev-riscv64-cross linux-libc-dev-ppc64el-cross linux-libc-dev-powerpc-cross
  linux-libc-dev-s390x-cross linux-libc-dev-mips64el-cross linux-libc-dev-mipsel-cross)
../scripts/apt-need.sh "${pkgs[@]}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Syscalls newer than the headers: the generic number, added to each table's base.
# (Some, like map_shadow_stack, are only reserved on most: a rule on them is harmless.)
newer="cachestat 451 fchmodat2 452 map_shadow_stack 453 futex_wake 454 futex_wait 455
futex_requeue 456 statmount 457 listmount 458 lsm_get_self_attr 459 lsm_set_self_attr 460
lsm_list_modules 461 mseal 462 setxattrat 463 getxattrat 464 listxattrat 465
removexattrat 466 open_tree_attr 467"
# And those newer than the headers that only some architectures have, in the same form.
declare -A extra=([X86_64]="uretprobe 335" [X32]="uretprobe 335" [RISCV64]="riscv_hwprobe 258"
  [S390X]="memfd_secret 447" [S390]="memfd_secret 447")

# table NAME INCLUDE-DIR HEADER BASE [CPP-FLAGS...]: prints `name number` lines. The header
# is run through cpp so that every macro (bases, asm-generic aliases) is resolved as the
# kernel's own build would; the result is one arithmetic expression per syscall.
table() {
  local name=$1 inc=$2 hdr=$3 base=$4
  shift 4
  printf '#include <%s>\n' "$hdr" >"$tmp/$name.c"
  cpp -undef -nostdinc -I"$inc" "$@" -dM "$tmp/$name.c" |
    awk '$1 == "#define" && ($2 ~ /^__NR_/ || $2 ~ /^__ARM_NR_/) { print $2 }' |
    grep -Ev '^__(ARM_)?NR_(syscalls|Linux|Linux_syscalls|SYSCALL_BASE|OABI_SYSCALL_BASE|BASE|SYSCALL_MASK|arch_specific_syscall|reserved[0-9]+|unused[0-9]+)$' |
    sort -u >"$tmp/$name.macros"
  {
    cat "$tmp/$name.c"
    sed 's/.*/@@ "&" &/' "$tmp/$name.macros"
  } >"$tmp/$name.expand.c"
  cpp -undef -nostdinc -P -I"$inc" "$@" "$tmp/$name.expand.c" |
    python3 -c '
import re, sys
base, newer = int(sys.argv[1], 0), sys.argv[2].split()
out = {}
for line in sys.stdin:
    if not line.startswith("@@ "):
        continue
    _, macro, expr = line.split(" ", 2)
    name = re.sub(r"^__(ARM_)?NR_", "", macro[1:-1])
    expr = expr.strip()
    if not re.fullmatch(r"[0-9a-fA-FxX()+ ]+", expr):
        sys.exit(f"{macro}: cannot evaluate {expr!r}")
    out[name] = eval(expr)
for name, nr in zip(newer[0::2], newer[1::2]):
    out.setdefault(name, base + int(nr))
for name in sorted(out):
    print(name, out[name])
' "$base" "$newer ${extra[$name]:-}" >"$tmp/$name.txt"
}

# Each ABI through asm/unistd.h, with the defines its compiler would set.
x86=/usr/include/x86_64-linux-gnu
table X86_64 "$x86" asm/unistd.h 0 -D__x86_64__
table X86 "$x86" asm/unistd.h 0 -D__i386__
table X32 "$x86" asm/unistd.h 0x40000000 -D__x86_64__ -D__ILP32__
table AARCH64 /usr/aarch64-linux-gnu/include asm/unistd.h 0 -D__aarch64__ -D__LP64__
table ARM /usr/arm-linux-gnueabihf/include asm/unistd.h 0 -D__arm__ -D__ARM_EABI__
table RISCV64 /usr/riscv64-linux-gnu/include asm/unistd.h 0 -D__riscv -D__LP64__ \
  -D__SIZEOF_POINTER__=8
table PPC64 /usr/powerpc64le-linux-gnu/include asm/unistd.h 0 -D__powerpc64__
table PPC /usr/powerpc-linux-gnu/include asm/unistd.h 0
table S390X /usr/s390x-linux-gnu/include asm/unistd.h 0 -D__s390x__
table S390 /usr/s390x-linux-gnu/include asm/unistd.h 0
mips=/usr/mips64el-linux-gnuabi64/include
table MIPS_O32 "$mips" asm/unistd.h 4000 -D_MIPS_SIM=1
table MIPS_N64 "$mips" asm/unistd.h 5000 -D_MIPS_SIM=3
table MIPS_N32 "$mips" asm/unistd.h 6000 -D_MIPS_SIM=2

out="$tmp/tables.rs"
python3 emit-tables.py "$tmp" X86_64 X86 X32 AARCH64 ARM RISCV64 PPC64 PPC S390X S390 \
  MIPS_O32 MIPS_N64 MIPS_N32 >"$out"

if [ "${1:-}" = --check ]; then
  diff -u src/tables.rs "$out"
else
  cp "$out" src/tables.rs
  wc -l src/tables.rs
fi

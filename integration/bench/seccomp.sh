#!/usr/bin/env bash
# bench/seccomp.sh [RUNS]: a benchmark, not a test. Compile time and BPF length of the
# Docker and Podman default profiles (seccomp/testdata), hull's compiler against
# libseccomp's as runc drives it: same default action and architectures, rules with the
# default action left out, unknown names skipped, a rule with two conditions on one
# argument split in one rule per condition, and the binary-tree optimisation runc turns on
# for more than 32 rules (libseccomp's own default, a linear list, is printed too). runc
# then puts its ENOSYS stub (about 10 instructions per architecture) in front of
# libseccomp's program; hull's program has it built in.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-200}
scripts/apt-need.sh libseccomp-dev gcc python3
cargo build --release -q -p hull-seccomp --example compile_bench
BENCH=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BENCH=$(find "$BENCH" -path '*/release/examples/compile_bench' -type f | head -1)

WORK=$(mktemp -d /tmp/hull-seccomp-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# The profile as C calls to libseccomp (written here, built against Debian's libseccomp).
to_c() {
  python3 - "$1" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
ACT = {"SCMP_ACT_KILL": 0, "SCMP_ACT_KILL_THREAD": 0, "SCMP_ACT_KILL_PROCESS": 0x80000000,
       "SCMP_ACT_TRAP": 0x30000, "SCMP_ACT_ERRNO": 0x50000, "SCMP_ACT_TRACE": 0x7ff00000,
       "SCMP_ACT_LOG": 0x7ffc0000, "SCMP_ACT_ALLOW": 0x7fff0000, "SCMP_ACT_NOTIFY": 0x7fc00000}
def act(a, errno):
    v = ACT[a]
    if a in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        v |= 1 if errno is None else errno
    return v
default = act(p["defaultAction"], p.get("defaultErrnoRet"))
rules = []
for r in p.get("syscalls") or []:
    a = act(r["action"], r.get("errnoRet"))
    if a == default:
        continue
    args = r.get("args") or []
    idx = [x["index"] for x in args]
    alts = [[x] for x in args] if len(set(idx)) < len(idx) else [args]
    for name in r["names"]:
        for alt in alts:
            conds = ", ".join("{%d, %s, %dULL, %dULL}" % (x["index"], x["op"], x["value"], x.get("valueTwo", 0)) for x in alt)
            rules.append('  ADD("%s", %uU, %d, ((struct scmp_arg_cmp[]){%s}));' % (name, a, len(alt), conds or "{0}"))
print("#define RULES \\")
print(" \\\n".join(rules) or "  ;")
print()
print("#define DEFAULT %uU" % default)
print("#define ARCHES " + ", ".join('"%s"' % x[len("SCMP_ARCH_"):].lower() for x in p.get("architectures") or []))
print("#define NRULES %d" % len(rules))
EOF
}

cat >"$WORK/bench.c" <<'EOF'
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "profile.h"

#define ADD(name, act, n, args) do { \
    int nr = seccomp_syscall_resolve_name(name); \
    if (nr != __NR_SCMP_ERROR && seccomp_rule_add_array(ctx, act, nr, n, args) < 0) { \
      fprintf(stderr, "rule %s refused\n", name); exit(1); } } while (0)

/* Builds the filter and writes its BPF to fd. */
static void build(int optimize, int fd) {
  const char *arches[] = {ARCHES};
  scmp_filter_ctx ctx = seccomp_init(DEFAULT);
  for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++) {
    int rc = seccomp_arch_add(ctx, seccomp_arch_resolve_name(arches[i]));
    if (rc < 0 && rc != -17 /* EEXIST: the native one */) { fprintf(stderr, "arch %s\n", arches[i]); exit(1); }
  }
  if (optimize) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  RULES
  if (seccomp_export_bpf(ctx, fd) < 0) { fprintf(stderr, "export\n"); exit(1); }
  seccomp_release(ctx);
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int runs = atoi(argv[1]);
  int devnull = open("/dev/null", O_WRONLY);
  for (int optimize = 0; optimize <= 1; optimize++) {
    FILE *f = tmpfile();
    build(optimize, fileno(f));
    struct stat st;
    fstat(fileno(f), &st);
    double *t = calloc(runs, sizeof(double));
    for (int i = 0; i < runs; i++) {
      struct timespec a, b;
      clock_gettime(CLOCK_MONOTONIC, &a);
      build(optimize, devnull);
      clock_gettime(CLOCK_MONOTONIC, &b);
      t[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
    }
    qsort(t, runs, sizeof(double), cmp);
    printf("libseccomp (%s): median %.1f µs, fastest %.1f µs over %d runs; %ld instructions\n",
           optimize ? "binary tree, as runc" : "linear",
           t[runs / 2], t[0], runs, (long)st.st_size / 8);
    fclose(f);
    free(t);
  }
  return 0;
}
EOF

for prof in docker-default-x86_64 podman-default-x86_64; do
  json=seccomp/testdata/$prof.json
  echo "== $prof ($(dpkg-query -W -f='libseccomp ${Version}' libseccomp-dev))"
  "$BENCH" "$json" "$RUNS"
  to_c "$json" >"$WORK/profile.h"
  gcc -O2 -o "$WORK/bench" "$WORK/bench.c" -I"$WORK" -lseccomp
  "$WORK/bench" "$RUNS"
done

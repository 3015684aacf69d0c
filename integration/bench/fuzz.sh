#!/usr/bin/env bash
# bench/fuzz.sh [SECONDS | -n CASES]: a long fuzz run, not a test (`cargo test` runs the same
# targets a few hundred cases each). The fuzz tests of src/fuzz/ (config.json through
# spec::parse and every plan; process.json through exec's parse) and seccomp/src/fuzz.rs
# (profiles through the compiler, programs through the BPF interpreter), and `update
# --resources` through its parse and the cgroup check, built in the `fuzz` profile
# (optimized, overflow checks kept), one after the other: SECONDS (default 600) shared
# among the four, or CASES each. Prints executions and crashes per target;
# exits non-zero if any crashed (its line says how to replay it: HULL_FUZZ_SEED=...).
set -uo pipefail
cd "$(dirname "$0")/../.."
unset HULL_FUZZ_SECONDS HULL_FUZZ_CASES HULL_FUZZ_SURVEY
if [ "${1:-}" = "-n" ]; then
  export HULL_FUZZ_CASES=${2:?-n needs a number of cases}
  share=""
else
  total=${1:-600}
  share=x
fi

targets=(
  "hull --bin hull fuzz::targets::fuzz_config config"
  "hull --bin hull fuzz::targets::fuzz_process process"
  "hull --bin hull fuzz::targets::fuzz_resources resources"
  "hull-seccomp --lib - fuzz::fuzz_compile seccomp"
)
[ "$share" = x ] && share=$(( total / ${#targets[@]} ))
# Built first, so that the build's time is no target's.
cargo test --profile fuzz --locked -q -p hull --bin hull --no-run
cargo test --profile fuzz --locked -q -p hull-seccomp --lib --no-run

LOG=$(mktemp /tmp/hull-fuzz.XXXXXX)
trap 'rm -f "$LOG"' EXIT
sum_exec=0
sum_crash=0
start=$(date +%s)
printf '%-10s %12s %8s %8s\n' target executions crashes seconds
for t in "${targets[@]}"; do
  read -r pkg kind bin filter name <<<"$t"
  [ "$bin" = - ] && bin=""
  [ -n "$share" ] && export HULL_FUZZ_SECONDS=$share
  cargo test --profile fuzz --locked -q -p "$pkg" "$kind" $bin "$filter" -- --exact --nocapture \
    --test-threads 1 >"$LOG" 2>&1
  line=$(grep -E "^fuzz $name: [0-9]+ executions" "$LOG" | tail -1)
  if [ -n "$line" ]; then
    execs=$(sed -E 's/.*: ([0-9]+) executions.*/\1/' <<<"$line")
    secs=$(sed -E 's/.* ([0-9.]+) s,.*/\1/' <<<"$line")
    crashes=0
  else
    execs=$(grep -oE "failure after [0-9]+ executions" "$LOG" | grep -oE '[0-9]+' | head -1)
    execs=${execs:-0}
    secs="-"
    crashes=1
    echo "fuzz $name crashed:" >&2
    grep -E "replay with|minimal failing input|panicked" -A3 "$LOG" | head -40 >&2
  fi
  printf '%-10s %12s %8s %8s\n' "$name" "$execs" "$crashes" "$secs"
  sum_exec=$(( sum_exec + execs ))
  sum_crash=$(( sum_crash + crashes ))
done
printf '%-10s %12s %8s %8s\n' total "$sum_exec" "$sum_crash" "$(( $(date +%s) - start ))"
[ "$sum_crash" -eq 0 ]

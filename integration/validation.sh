#!/usr/bin/env bash
# validation.sh: run the OCI runtime-tools validation suite (../shared/tools/oci-validation)
# against hull and print the pass count. Fails if a test that must pass does not.
set -uo pipefail
cd "$(dirname "$0")/.."
HULL=${HULL:-$PWD/target/x86_64-unknown-linux-gnu/release/hull}
if [ ! -x ../shared/tools/oci-validation/oci-validate.sh ]; then
  echo "validation: skipped: ../shared/tools/oci-validation is absent (shared/ lives beside the repo)"
  exit 0
fi
SUITE=$(cd ../shared/tools/oci-validation && pwd)
"$SUITE/setup.sh" >/dev/null 2>&1 || { echo "validation: setup of the suite failed" >&2; exit 1; }
SUMMARY=$SUITE/results/hull.summary
rm -f "$SUMMARY"
( cd /tmp && "$SUITE/oci-validate.sh" "$HULL" ) > target/validation.log 2>&1
grep -q '^TOTAL' "$SUMMARY" 2>/dev/null || { echo "validation: the suite did not run (target/validation.log)" >&2; exit 1; }
cat "$SUMMARY"
# Every test runc or crun passes on this host must pass; the rest are listed in README.md
# with the reason.
MUST=integration/validation-must-pass.txt
fail=0
while read -r t; do
  [ -z "$t" ] && continue
  line=$(grep "^$t " "$SUMMARY") || { echo "validation: must-pass test $t did not run" >&2; fail=1; continue; }
  read -r _ frac status <<<"$line"
  ok=${frac%/*}; total=${frac#*/}
  if [ -n "${status:-}" ] || [ "$ok" != "$total" ]; then
    echo "validation: FAILED must-pass test: $line" >&2
    fail=1
  fi
done < "$MUST"
total=$(grep '^TOTAL' "$SUMMARY")
echo "validation: $total"
exit $fail

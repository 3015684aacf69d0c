#!/usr/bin/env bash
# gen-docs.sh: man/ (hull(8), hull-<command>(8)) and completions/ (bash, zsh, fish), made
# from the clap definitions by a `--features docs` build. `--check`: makes them in a
# temporary dir and fails if the committed ones differ (the test command runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
# A target dir of its own: the feature would otherwise rebuild the usual debug binary.
export CARGO_TARGET_DIR=$PWD/target/docs
cargo build --locked -q --features docs
bin=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/debug/hull
if [ "${1:-}" = --check ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$bin" --generate-docs "$tmp"
  if ! diff -r man "$tmp/man" >/dev/null || ! diff -r completions "$tmp/completions" >/dev/null; then
    diff -ru man "$tmp/man" | head -40 >&2 || true
    diff -ru completions "$tmp/completions" | head -40 >&2 || true
    echo "gen-docs: man/ or completions/ differ from the command line: run scripts/gen-docs.sh" >&2
    exit 1
  fi
  echo "gen-docs: man/ and completions/ match the command line"
else
  rm -rf man completions
  "$bin" --generate-docs .
fi

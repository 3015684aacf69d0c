#!/usr/bin/env bash
# setup.sh: on a fresh Debian 12 machine (as root) install what hull needs, build it,
# make a busybox bundle and run a container that prints a greeting.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/apt-need.sh busybox-static build-essential pkg-config iproute2 util-linux procps uidmap man-db
command -v cargo >/dev/null || { echo "setup: cargo is required (rustup)" >&2; exit 1; }

cargo build --release --locked
HULL=$PWD/target/x86_64-unknown-linux-gnu/release/hull
file "$HULL" 2>/dev/null | grep -q 'static' || ldd "$HULL" 2>&1 | grep -q 'not a dynamic' || echo "setup: warning: $HULL is not static" >&2

BUNDLE=$PWD/target/bundle
scripts/mkbundle.sh "$BUNDLE" echo "Hello from a hull container!"
"$HULL" --root "$PWD/target/hull-state" run --bundle "$BUNDLE" "hello-$$"

#!/usr/bin/env bash
# setup.sh: on a fresh Debian 12 machine (as root) install what hull needs, build it,
# make a busybox bundle and run a container that prints a greeting.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(busybox-static build-essential pkg-config iproute2 util-linux procps)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo is required (rustup)" >&2; exit 1; }

cargo build --release --locked
HULL=$PWD/target/x86_64-unknown-linux-gnu/release/hull
file "$HULL" 2>/dev/null | grep -q 'static' || ldd "$HULL" 2>&1 | grep -q 'not a dynamic' || echo "setup: warning: $HULL is not static" >&2

BUNDLE=$PWD/target/bundle
scripts/mkbundle.sh "$BUNDLE" echo "Hello from a hull container!"
"$HULL" --root "$PWD/target/hull-state" run --bundle "$BUNDLE" "hello-$$"

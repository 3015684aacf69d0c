#!/usr/bin/env bash
# install.sh: installs hull as a runtime is installed, or registers it with a manager.
#
#   install.sh [--prefix DIR]      the binary (DIR/sbin/hull), man pages (DIR/share/man/man8)
#                                  and completions (bash, zsh, fish); DIR defaults to /usr/local
#   install.sh --containerd|--docker|--podman [--prefix DIR] [--apply FILE]
#                                  prints the snippet that registers DIR/sbin/hull with that
#                                  manager, or adds it to FILE (containerd's config.toml,
#                                  dockerd's daemon.json, a containers.conf); once only
#
# HULL_BIN: the binary to install (default: the release build).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=/usr/local manager= apply=
while [ $# -gt 0 ]; do
  case "$1" in
  --prefix) prefix=$2; shift 2 ;;
  --containerd | --docker | --podman) manager=${1#--}; shift ;;
  --apply) apply=$2; shift 2 ;;
  *) echo "usage: install.sh [--prefix DIR] [--containerd|--docker|--podman [--apply FILE]]" >&2; exit 2 ;;
  esac
done
bin=$prefix/sbin/hull

snippet() {
  case "$manager" in
  containerd)
    # Kubernetes' CRI path: the runc shim with hull as its binary.
    cat <<TOML
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull.options]
    BinaryName = "$bin"
TOML
    ;;
  docker) printf '{"runtimes": {"hull": {"path": "%s"}}}\n' "$bin" ;;
  podman)
    # runtime_supports_json replaces podman's list: its defaults are kept, hull added (it
    # writes runc's JSON error lines with --log-format json).
    cat <<TOML
[engine]
runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "hull"]
runtime_supports_kvm = ["kata", "krun"]

[engine.runtimes]
hull = ["$bin"]
TOML
    ;;
  esac
}

if [ -n "$manager" ]; then
  if [ -z "$apply" ]; then
    snippet
    exit 0
  fi
  if [ -f "$apply" ] && grep -q "$bin" "$apply"; then
    echo "install: $apply already registers $bin"
    exit 0
  fi
  if [ "$manager" = docker ] && [ -s "$apply" ]; then
    # daemon.json is one JSON object: merged, other runtimes and settings kept.
    python3 - "$apply" "$bin" <<'PY'
import json, sys
path, binary = sys.argv[1], sys.argv[2]
with open(path) as f:
    conf = json.load(f)
conf.setdefault("runtimes", {})["hull"] = {"path": binary}
with open(path, "w") as f:
    json.dump(conf, f, indent=2)
    f.write("\n")
PY
  else
    { [ -s "$apply" ] && echo; snippet; } >>"$apply"
  fi
  echo "install: registered $bin in $apply"
  exit 0
fi

src=${HULL_BIN:-target/x86_64-unknown-linux-gnu/release/hull}
[ -x "$src" ] || { echo "install: no $src (build it: scripts/setup.sh)" >&2; exit 1; }
install -D -m 0755 "$src" "$bin"
for page in man/*.8; do
  install -D -m 0644 "$page" "$prefix/share/man/man8/${page##*/}"
done
install -D -m 0644 completions/hull.bash "$prefix/share/bash-completion/completions/hull"
install -D -m 0644 completions/_hull "$prefix/share/zsh/site-functions/_hull"
install -D -m 0644 completions/hull.fish "$prefix/share/fish/vendor_completions.d/hull.fish"
echo "install: $bin, man pages and completions under $prefix"

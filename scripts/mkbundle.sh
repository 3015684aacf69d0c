#!/usr/bin/env bash
# mkbundle.sh DIR [ARGS...]: a busybox OCI bundle in DIR (rootfs + config.json from
# `hull spec`, no terminal, process args ARGS or `sh`).
set -euo pipefail
DIR=$1; shift
HULL=${HULL:-$(cd "$(dirname "$0")/.." && pwd)/target/x86_64-unknown-linux-gnu/release/hull}
BB=$(command -v busybox)
rm -rf "$DIR"
mkdir -p "$DIR/rootfs/bin" "$DIR/rootfs/proc" "$DIR/rootfs/sys" "$DIR/rootfs/dev" "$DIR/rootfs/tmp" "$DIR/rootfs/etc" "$DIR/rootfs/root"
cp "$BB" "$DIR/rootfs/bin/busybox"
for a in $("$BB" --list); do [ "$a" = busybox ] || ln -s busybox "$DIR/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$DIR/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$DIR/rootfs/etc/group"
"$HULL" spec --bundle "$DIR"
ARGS_JSON=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:] or ["sh"]))' "$@")
python3 - "$DIR/config.json" "$ARGS_JSON" <<'PY'
import json, sys
path, args = sys.argv[1], json.loads(sys.argv[2])
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = args
json.dump(c, open(path, "w"), indent=2)
PY

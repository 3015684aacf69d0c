#!/usr/bin/env python3
"""Docker-format seccomp profile -> OCI `linux.seccomp`, as the engine converts it for one
host: the archMap entry of that architecture gives `architectures`; a rule is kept when its
includes/excludes match the host's Go arch name and the container's capabilities (every
included cap held, no excluded cap held); minKernel is taken as met.

Usage: convert.py SOURCE.json SCMP_ARCH_X GOARCH CAP,CAP,... > OUT.json
"""
import json
import sys

src, arch, goarch, caps = sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4].split(","))
p = json.load(open(src))

archs = []
for m in p.get("archMap") or []:
    if m["architecture"] == arch:
        archs = [arch] + (m.get("subArchitectures") or [])

syscalls = []
for r in p["syscalls"]:
    inc, exc = r.get("includes") or {}, r.get("excludes") or {}
    if inc.get("arches") and goarch not in inc["arches"]:
        continue
    if inc.get("caps") and not set(inc["caps"]) <= caps:
        continue
    if goarch in (exc.get("arches") or []) or caps & set(exc.get("caps") or []):
        continue
    out = {"names": r["names"], "action": r["action"]}
    if r.get("errnoRet") is not None:
        out["errnoRet"] = r["errnoRet"]
    if r.get("args"):
        out["args"] = [
            {k: a[k] for k in ("index", "value", "valueTwo", "op") if k in a} for a in r["args"]
        ]
    syscalls.append(out)

oci = {"defaultAction": p["defaultAction"]}
if p.get("defaultErrnoRet") is not None:
    oci["defaultErrnoRet"] = p["defaultErrnoRet"]
oci["architectures"] = archs
oci["syscalls"] = syscalls
json.dump(oci, sys.stdout, indent=1)
print()

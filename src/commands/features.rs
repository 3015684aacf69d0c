//! `features`: what this build of hull supports, as the runtime spec's features.md
//! describes it (runc's `features`), for containerd and others to ask before they
//! generate a config. Every list comes from the code that implements it.

use oci_spec::runtime::{LinuxNamespaceType, MemoryPolicyFlagType, MemoryPolicyModeType};
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};

fn names<T: Serialize>(items: &[T]) -> Value {
    serde_json::to_value(items).unwrap_or_default()
}

pub fn features() -> Value {
    use LinuxNamespaceType::*;
    use MemoryPolicyFlagType::*;
    use MemoryPolicyModeType::*;
    let mut caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    caps.sort();
    let seccomp = hull_seccomp::features();
    json!({
        "ociVersionMin": "1.0.0",
        // What hull implements (as `--version` says), not the parsing crate's version.
        "ociVersionMax": crate::container::OCI_VERSION,
        "hooks": crate::hooks::NAMES,
        "mountOptions": crate::rootfs::options::KNOWN.split_whitespace().collect::<Vec<_>>(),
        "linux": {
            "namespaces": names(&[Cgroup, Ipc, Mount, Network, Pid, User, Uts, Time]),
            "capabilities": caps,
            // systemdUser: a user's systemd instance, for rootless containers: not yet.
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false, "rdma": true},
            "seccomp": {
                "enabled": true,
                "actions": names(&seccomp.actions),
                "operators": names(&seccomp.operators),
                "archs": names(&seccomp.archs),
                "knownFlags": names(&seccomp.known_flags),
                "supportedFlags": names(&seccomp.supported_flags),
            },
            "apparmor": {"enabled": true},
            "selinux": {"enabled": true},
            "intelRdt": {"enabled": false},
            "memoryPolicy": {
                "modes": names(&[
                    MpolDefault, MpolPreferred, MpolBind, MpolInterleave, MpolLocal,
                    MpolPreferredMany, MpolWeightedInterleave,
                ]),
                "flags": names(&[MpolFStaticNodes, MpolFRelativeNodes, MpolFNumaBalancing]),
            },
            "mountExtensions": {"idmap": {"enabled": true}},
        },
        "annotations": {
            "org.hull.version": env!("CARGO_PKG_VERSION"),
            // runc's key, which callers read: checkpoint and restore work where CRIU is.
            "org.opencontainers.runc.checkpoint.enabled": criu_found().to_string(),
        },
        // Annotations that change how hull runs a container: an orchestrator should not
        // pass them through from untrusted users.
        "potentiallyUnsafeConfigAnnotations": ["org.systemd.property.", "org.criu.config"],
    })
}

/// A `criu` in PATH (the one checkpoint and restore run without `--criu`).
fn criu_found() -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|d| {
            std::fs::metadata(d.join("criu"))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

pub fn run() -> Result<i32> {
    use std::io::Write;
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    features()
        .serialize(&mut ser)
        .map_err(|e| Error::msg(format!("encode features: {e}")))?;
    out.push(b'\n');
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| Error::msg(format!("write features: {e}")))?;
    Ok(0)
}

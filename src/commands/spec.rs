//! `spec`: writes runc's default config.json (hostname "hull"), or its rootless variant.

use crate::cli::SpecArgs;
use crate::error::{Context, Error, Result};

fn caps() -> serde_json::Value {
    serde_json::json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
}

pub fn default_spec(rootless: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        // runc's value: older tools (crun 1.8) refuse configs newer than they know.
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps(), "effective": caps(), "permitted": caps()},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "hull",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                            "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    });
    if rootless {
        // As runc's: a user namespace mapping the caller, no resources, /sys bound from
        // the host, no cgroup mount, devpts without gid=5.
        let (uid, gid) = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        let linux = &mut v["linux"];
        linux["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        linux["namespaces"] = serde_json::json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}]);
        linux.as_object_mut().map(|l| l.remove("resources"));
        let mounts = v["mounts"].as_array_mut().expect("mounts is an array");
        mounts.retain(|m| m["type"] != "cgroup");
        for m in mounts.iter_mut() {
            if m["type"] == "sysfs" {
                *m = serde_json::json!({"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
            if m["type"] == "devpts" {
                if let Some(o) = m["options"].as_array_mut() {
                    o.retain(|x| x != "gid=5");
                }
            }
        }
    }
    // As runc: a cgroup namespace only where /sys/fs/cgroup is cgroup2 (the container's
    // cgroup mount needs none on v1, and the suites add their own).
    let cgroup2 = nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    if cgroup2 {
        let nss = v["linux"]["namespaces"].as_array_mut().expect("an array");
        let at = nss
            .iter()
            .position(|n| n["type"] == "mount")
            .map_or(0, |i| i + 1);
        nss.insert(at, serde_json::json!({"type": "cgroup"}));
    }
    v
}

pub fn run(a: &SpecArgs) -> Result<i32> {
    let path = a.bundle.join(crate::spec::CONFIG);
    if path.exists() {
        return Err(Error::msg(format!(
            "File {} exists. Remove it first",
            path.display()
        )));
    }
    let text = serde_json::to_string_pretty(&default_spec(a.rootless)).unwrap_or_default();
    std::fs::write(&path, text + "\n").context(|| format!("write {}", path.display()))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::default_spec;

    #[test]
    fn default_specs_are_valid_configs() {
        for rootless in [false, true] {
            let spec: oci_spec::runtime::Spec =
                serde_json::from_value(default_spec(rootless)).unwrap();
            crate::spec::validate(&spec).unwrap();
        }
    }
}

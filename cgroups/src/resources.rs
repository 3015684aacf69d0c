//! `linux.resources` -> cgroup files, for v1 and v2 (v2 values translated as runc does).

use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use crate::{io_err, open_for_write, write_file, write_value, CgroupPaths, Error, Result};

/// One cgroup file write: (controller, file name, value).
pub type Write = (&'static str, String, String);

fn limit_v1(v: i64) -> String {
    v.to_string() // -1 is "unlimited" in v1 files
}

fn limit_v2(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// runc's conversion of cpu.shares [2, 262144] to cpu.weight [1, 10000].
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

fn device_rule(d: &LinuxDeviceCgroup) -> String {
    let typ = match d.typ() {
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::P) => 'p',
        Some(LinuxDeviceType::A) | None => 'a',
    };
    let num = |n: Option<i64>| {
        n.filter(|n| *n >= 0)
            .map_or("*".to_string(), |n| n.to_string())
    };
    let access = d.access().clone().unwrap_or_else(|| "rwm".into());
    format!("{typ} {}:{} {access}", num(d.major()), num(d.minor()))
}

/// Checks values before anything is written, so a bad config applies nothing.
fn validate(r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        for (name, v) in [
            ("limit", m.limit()),
            ("reservation", m.reservation()),
            ("swap", m.swap()),
        ] {
            if let Some(v) = v {
                if v < -1 {
                    return Err(Error::Invalid(format!("memory.{name} {v} is negative")));
                }
            }
        }
        if let (Some(limit), Some(swap)) = (m.limit(), m.swap()) {
            if limit > 0 && swap > 0 && swap < limit {
                return Err(Error::Invalid(format!(
                    "memory.swap {swap} is lower than memory.limit {limit} (swap counts memory plus swap)"
                )));
            }
        }
        if m.swappiness().is_some_and(|s| s > 100) {
            return Err(Error::Invalid(format!(
                "memory.swappiness {} is above 100",
                m.swappiness().unwrap_or(0)
            )));
        }
    }
    if let Some(c) = r.cpu() {
        if c.shares()
            .is_some_and(|s| s != 0 && !(2..=262_144).contains(&s))
        {
            return Err(Error::Invalid(format!(
                "cpu.shares {} is outside [2, 262144]",
                c.shares().unwrap_or(0)
            )));
        }
    }
    Ok(())
}

/// The writes for a v1 hierarchy set, in the order they must happen.
pub fn v1_writes(r: &LinuxResources, current_memsw: Option<i64>) -> Vec<Write> {
    let mut w: Vec<Write> = Vec::new();
    let mut push = |c: &'static str, f: &str, v: String| w.push((c, f.to_string(), v));
    if let Some(m) = r.memory() {
        let limit = m.limit();
        let swap = m.swap();
        // memsw must never be below the memory limit: raise it first when growing.
        let swap_first = matches!((limit, swap, current_memsw), (Some(l), Some(_), Some(cur)) if l == -1 || (cur != -1 && l > cur));
        if swap_first {
            push(
                "memory",
                "memory.memsw.limit_in_bytes",
                limit_v1(swap.unwrap_or(-1)),
            );
        }
        if let Some(l) = limit {
            push("memory", "memory.limit_in_bytes", limit_v1(l));
        }
        if let (Some(s), false) = (swap, swap_first) {
            push("memory", "memory.memsw.limit_in_bytes", limit_v1(s));
        }
        if let Some(v) = m.reservation() {
            push("memory", "memory.soft_limit_in_bytes", limit_v1(v));
        }
        if let Some(v) = m.kernel() {
            push("memory", "memory.kmem.limit_in_bytes", limit_v1(v));
        }
        if let Some(v) = m.kernel_tcp() {
            push("memory", "memory.kmem.tcp.limit_in_bytes", limit_v1(v));
        }
        if let Some(v) = m.swappiness() {
            push("memory", "memory.swappiness", v.to_string());
        }
        if m.disable_oom_killer() == Some(true) {
            push("memory", "memory.oom_control", "1".into());
        }
        if let Some(v) = m.use_hierarchy() {
            push(
                "memory",
                "memory.use_hierarchy",
                if v { "1" } else { "0" }.into(),
            );
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(v) = c.shares().filter(|v| *v != 0) {
            push("cpu", "cpu.shares", v.to_string());
        }
        if let Some(v) = c.period().filter(|v| *v != 0) {
            push("cpu", "cpu.cfs_period_us", v.to_string());
        }
        if let Some(v) = c.quota().filter(|v| *v != 0) {
            push("cpu", "cpu.cfs_quota_us", v.to_string());
        }
        if let Some(v) = c.burst() {
            push("cpu", "cpu.cfs_burst_us", v.to_string());
        }
        if let Some(v) = c.realtime_period().filter(|v| *v != 0) {
            push("cpu", "cpu.rt_period_us", v.to_string());
        }
        if let Some(v) = c.realtime_runtime().filter(|v| *v != 0) {
            push("cpu", "cpu.rt_runtime_us", v.to_string());
        }
        if let Some(v) = c.idle() {
            push("cpu", "cpu.idle", v.to_string());
        }
        if let Some(v) = c.cpus().as_ref().filter(|v| !v.is_empty()) {
            push("cpuset", "cpuset.cpus", v.clone());
        }
        if let Some(v) = c.mems().as_ref().filter(|v| !v.is_empty()) {
            push("cpuset", "cpuset.mems", v.clone());
        }
    }
    if let Some(p) = r.pids() {
        let v = if p.limit() > 0 {
            p.limit().to_string()
        } else {
            "max".into()
        };
        push("pids", "pids.max", v);
    }
    if let Some(devices) = r.devices() {
        for d in devices {
            let file = if d.allow() {
                "devices.allow"
            } else {
                "devices.deny"
            };
            push("devices", file, device_rule(d));
        }
    }
    w
}

/// The writes for v2.
pub fn v2_writes(r: &LinuxResources) -> Vec<Write> {
    let mut w: Vec<Write> = Vec::new();
    let mut push = |c: &'static str, f: &str, v: String| w.push((c, f.to_string(), v));
    if let Some(m) = r.memory() {
        if let Some(l) = m.limit() {
            push("memory", "memory.max", limit_v2(l));
        }
        if let Some(s) = m.swap() {
            // v1's swap is memory+swap; v2's swap.max is swap alone.
            let v = match m.limit() {
                _ if s == -1 => "max".to_string(),
                Some(l) if l > 0 => (s - l).max(0).to_string(),
                _ => s.to_string(),
            };
            push("memory", "memory.swap.max", v);
        }
        if let Some(v) = m.reservation() {
            push("memory", "memory.low", limit_v2(v));
        }
        if m.disable_oom_killer() == Some(true) {
            push("memory", "memory.oom.group", "0".into());
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(v) = c.shares().filter(|v| *v != 0) {
            push("cpu", "cpu.weight", shares_to_weight(v).to_string());
        }
        if c.quota().is_some() || c.period().is_some() {
            let quota = c
                .quota()
                .filter(|q| *q > 0)
                .map_or("max".to_string(), |q| q.to_string());
            let period = c.period().filter(|p| *p != 0).unwrap_or(100_000);
            push("cpu", "cpu.max", format!("{quota} {period}"));
        }
        if let Some(v) = c.burst() {
            push("cpu", "cpu.max.burst", v.to_string());
        }
        if let Some(v) = c.idle() {
            push("cpu", "cpu.idle", v.to_string());
        }
        if let Some(v) = c.cpus().as_ref().filter(|v| !v.is_empty()) {
            push("cpuset", "cpuset.cpus", v.clone());
        }
        if let Some(v) = c.mems().as_ref().filter(|v| !v.is_empty()) {
            push("cpuset", "cpuset.mems", v.clone());
        }
    }
    if let Some(p) = r.pids() {
        push(
            "pids",
            "pids.max",
            if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".into()
            },
        );
    }
    w
}

fn read_i64(path: &Path) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Applies `r` to the container's cgroup. Values are validated first; a controller the
/// host lacks is an error naming it.
pub fn apply(paths: &CgroupPaths, r: &LinuxResources) -> Result<()> {
    validate(r)?;
    let writes = if paths.v2 {
        v2_writes(r)
    } else {
        let memsw = paths
            .v1_dir("memory")
            .and_then(|d| read_i64(&d.join("memory.memsw.limit_in_bytes")));
        v1_writes(r, memsw)
    };
    // Consecutive writes to one file (device rules, one per write) share one open.
    let mut open: Option<(std::path::PathBuf, std::fs::File)> = None;
    for (controller, file, value) in writes {
        let dir = paths.controller_dir(controller).ok_or_else(|| {
            Error::Invalid(format!(
                "cannot set {file}: the {controller} controller is not mounted on this host"
            ))
        })?;
        let path = dir.join(&file);
        if open.as_ref().is_none_or(|(p, _)| *p != path) {
            open = Some((path.clone(), open_for_write(&path)?));
        }
        let (_, f) = open.as_mut().expect("opened above");
        write_value(f, &path, &value)?;
    }
    Ok(())
}

/// A new v1 cpuset cgroup starts with no cpus and mems: copy them from the parent, walking
/// up to the first ancestor that has them.
pub(crate) fn v1_inherit_cpuset(dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let mine = dir.join(file);
        if std::fs::read_to_string(&mine)
            .map(|s| !s.trim().is_empty())
            .unwrap_or(true)
        {
            continue;
        }
        let mut chain = vec![dir.to_path_buf()];
        let mut cur = dir.parent();
        while let Some(p) = cur {
            match std::fs::read_to_string(p.join(file)) {
                Ok(v) if !v.trim().is_empty() => {
                    for d in chain.iter().rev() {
                        write_file(&d.join(file), v.trim())?;
                    }
                    break;
                }
                Ok(_) => chain.push(p.to_path_buf()),
                Err(_) => break,
            }
            cur = p.parent();
        }
    }
    Ok(())
}

/// v2: a controller is usable in a cgroup only if every ancestor's subtree_control has it.
pub(crate) fn v2_enable_controllers(leaf: &Path) -> Result<()> {
    let mut chain = Vec::new();
    let mut cur = leaf.parent();
    while let Some(p) = cur {
        if !p.join("cgroup.subtree_control").exists() {
            break;
        }
        chain.push(p.to_path_buf());
        cur = p.parent();
    }
    for dir in chain.iter().rev() {
        let available =
            std::fs::read_to_string(dir.join("cgroup.controllers")).map_err(io_err("read", dir))?;
        let wanted: Vec<String> = available
            .split_whitespace()
            .map(|c| format!("+{c}"))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        // Enable all at once; if one is refused (e.g. cpu with rt tasks), fall back one by one.
        if write_file(&dir.join("cgroup.subtree_control"), &wanted.join(" ")).is_err() {
            for c in &wanted {
                let _ = write_file(&dir.join("cgroup.subtree_control"), c);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn v1_memory_cpu_pids() {
        let r = res(
            r#"{"memory":{"limit":1048576,"reservation":524288,"swappiness":10},
                        "cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0"},
                        "pids":{"limit":42},
                        "devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]}"#,
        );
        let w: Vec<(String, String)> = v1_writes(&r, None)
            .into_iter()
            .map(|(_, f, v)| (f, v))
            .collect();
        let expect = [
            ("memory.limit_in_bytes", "1048576"),
            ("memory.soft_limit_in_bytes", "524288"),
            ("memory.swappiness", "10"),
            ("cpu.shares", "512"),
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_quota_us", "50000"),
            ("cpuset.cpus", "0"),
            ("pids.max", "42"),
            ("devices.deny", "a *:* rwm"),
            ("devices.allow", "c 1:3 rw"),
        ];
        assert_eq!(w, expect.map(|(a, b)| (a.to_string(), b.to_string())));
    }

    #[test]
    fn v1_swap_raised_before_limit_when_growing() {
        let r = res(r#"{"memory":{"limit":400000000,"swap":800000000}}"#);
        let files: Vec<String> = v1_writes(&r, Some(200_000_000))
            .into_iter()
            .map(|(_, f, _)| f)
            .collect();
        assert_eq!(
            files,
            ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
        );
        let files: Vec<String> = v1_writes(&r, Some(-1))
            .into_iter()
            .map(|(_, f, _)| f)
            .collect();
        assert_eq!(
            files,
            ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        );
    }

    #[test]
    fn v2_translation() {
        let r = res(
            r#"{"memory":{"limit":1048576,"swap":3145728,"reservation":-1},
                        "cpu":{"shares":1024,"quota":-1,"period":50000},"pids":{"limit":0}}"#,
        );
        let w: Vec<(String, String)> = v2_writes(&r).into_iter().map(|(_, f, v)| (f, v)).collect();
        let expect = [
            ("memory.max", "1048576"),
            ("memory.swap.max", "2097152"),
            ("memory.low", "max"),
            ("cpu.weight", "39"),
            ("cpu.max", "max 50000"),
            ("pids.max", "max"),
        ];
        assert_eq!(w, expect.map(|(a, b)| (a.to_string(), b.to_string())));
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }

    #[test]
    fn bad_values_are_refused_before_writing() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = CgroupPaths {
            v1: vec![("memory".into(), tmp.path().to_path_buf())],
            ..Default::default()
        };
        for bad in [
            r#"{"memory":{"limit":-5}}"#,
            r#"{"memory":{"limit":2000000,"swap":1000000}}"#,
            r#"{"cpu":{"shares":1}}"#,
        ] {
            let err = apply(&paths, &res(bad)).unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{bad}: {err}");
        }
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn fake_v1_files_are_written() {
        let tmp = tempfile::tempdir().unwrap();
        let mem = tmp.path().join("memory");
        let pids = tmp.path().join("pids");
        for (d, f) in [(&mem, "memory.limit_in_bytes"), (&pids, "pids.max")] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join(f), "").unwrap();
        }
        let paths = CgroupPaths {
            v1: vec![
                ("memory".into(), mem.clone()),
                ("pids".into(), pids.clone()),
            ],
            ..Default::default()
        };
        apply(
            &paths,
            &res(r#"{"memory":{"limit":1048576},"pids":{"limit":7}}"#),
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(mem.join("memory.limit_in_bytes")).unwrap(),
            "1048576"
        );
        assert_eq!(std::fs::read_to_string(pids.join("pids.max")).unwrap(), "7");
        let err = apply(&paths, &res(r#"{"cpu":{"shares":100}}"#))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cpu controller is not mounted"), "{err}");
    }
}

//! `--systemd-cgroup`: the container's cgroup is a transient scope that systemd makes,
//! limits, and removes. Needs systemd as PID 1 (integration/vm-tests.sh boots one with
//! `vm-run.sh --systemd`); elsewhere those tests skip with the reason.

mod common;

use std::process::Command;

use common::{assert_no_leaks, id, Bundle, Hull};
use serde_json::json;

/// Why systemd-driven tests cannot run here, if they cannot.
fn no_systemd() -> Option<String> {
    let init = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    if init.trim() != "systemd" {
        return Some(format!("systemd is not PID 1 (PID 1 is {:?})", init.trim()));
    }
    if !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        return Some("not a pure cgroup v2 host".into());
    }
    None
}

macro_rules! require_systemd {
    () => {
        require_root!();
        if let Some(why) = no_systemd() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

/// `hull --systemd-cgroup run` of `b` in the foreground.
fn systemd_run(hull: &Hull, b: &Bundle, id: &str) -> common::Run {
    hull.run(&[
        "--systemd-cgroup",
        "run",
        "--bundle",
        b.path().to_str().unwrap(),
        id,
    ])
}

/// `hull --systemd-cgroup run -d` of `b`; panics if it fails.
fn systemd_run_d(hull: &Hull, b: &Bundle, id: &str) {
    let path = b.path().to_str().unwrap();
    let r = hull.run_detached(&["--systemd-cgroup", "run", "-d", "--bundle", path, id]);
    assert_eq!(r.code, 0, "run -d: {}", r.stderr);
}

/// `systemctl show -p NAME --value UNIT`.
fn unit_property(unit: &str, name: &str) -> String {
    let out = Command::new("systemctl")
        .args(["show", "-p", name, "--value", unit])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_string()
}

#[test]
fn scope_with_limits_exec_update_and_delete() {
    require_systemd!();
    let hull = Hull::default();
    let id = id("sd");
    let unit = format!("hull-{id}.scope");
    let cg = format!("/sys/fs/cgroup/system.slice/{unit}");
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("system.slice:hull:{id}"));
        c["linux"]["resources"] = json!({
            "memory": {"limit": 64 << 20},
            "pids": {"limit": 20},
            "cpu": {"quota": 50000, "period": 100000},
        });
    });
    let _guard = common::DeleteOnPanic::new(&hull, &id);
    systemd_run_d(&hull, &b, &id);

    // systemd's view and the cgroup's agree.
    assert_eq!(unit_property(&unit, "ActiveState"), "active");
    assert_eq!(unit_property(&unit, "MemoryMax"), (64 << 20).to_string());
    assert_eq!(unit_property(&unit, "TasksMax"), "20");
    assert_eq!(unit_property(&unit, "Delegate"), "yes");
    assert_eq!(read(&format!("{cg}/memory.max")), (64 << 20).to_string());
    assert_eq!(read(&format!("{cg}/pids.max")), "20");
    assert_eq!(read(&format!("{cg}/cpu.max")), "50000 100000");
    let pid = hull.state(&id)["pid"].as_i64().unwrap();
    let procs = read(&format!("{cg}/cgroup.procs"));
    assert!(
        procs.lines().any(|l| l == pid.to_string()),
        "init {pid} not in {cg}: {procs:?}"
    );
    assert!(read(&format!("/proc/{pid}/cgroup")).ends_with(&format!("/system.slice/{unit}")));

    // exec joins the same cgroup.
    let r = hull.run(&["exec", &id, "sh", "-c", "cat /proc/self/cgroup"]);
    assert_eq!(r.code, 0, "exec: {}", r.stderr);

    // pause, ps and stats work on the unit's cgroup.
    assert_eq!(hull.run(&["pause", &id]).code, 0);
    assert_eq!(hull.status(&id), "paused");
    assert_eq!(read(&format!("{cg}/cgroup.freeze")), "1");
    assert_eq!(hull.run(&["resume", &id]).code, 0);
    assert_eq!(hull.status(&id), "running");
    let ps = hull.run(&["ps", "--format", "json", &id]);
    assert_eq!(ps.code, 0, "ps: {}", ps.stderr);
    assert!(ps.stdout.contains(&pid.to_string()), "ps: {}", ps.stdout);
    let stats = hull.run(&["events", "--stats", &id]);
    let stats: serde_json::Value = serde_json::from_str(stats.stdout.trim()).unwrap();
    assert_eq!(stats["data"]["pids"]["limit"], 20, "{stats}");

    // update reaches both systemd and the cgroup.
    let r = hull.run(&["update", "--memory", "128m", "--pids-limit", "30", &id]);
    assert_eq!(r.code, 0, "update: {}", r.stderr);
    assert_eq!(unit_property(&unit, "MemoryMax"), (128 << 20).to_string());
    assert_eq!(unit_property(&unit, "TasksMax"), "30");
    assert_eq!(read(&format!("{cg}/memory.max")), (128 << 20).to_string());

    let r = hull.run(&["delete", "-f", &id]);
    assert_eq!(r.code, 0, "delete: {}", r.stderr);
    assert!(
        !std::path::Path::new(&cg).exists(),
        "{cg} left behind after delete"
    );
    assert_eq!(unit_property(&unit, "LoadState"), "not-found");
    assert_no_leaks(&hull, &id, b.path());
}

/// No cgroupsPath: `:hull:<id>`, a scope in system.slice; `run` in the foreground
/// removes it on exit.
#[test]
fn default_unit_name() {
    require_systemd!();
    let hull = Hull::default();
    let id = id("sddef");
    let mut b = Bundle::new(&["cat", "/proc/self/cgroup"]);
    b.edit(|c| {
        // The host's view of the cgroup, without a cgroup namespace.
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "cgroup");
    });
    let r = systemd_run(&hull, &b, &id);
    assert_eq!(r.code, 0, "run: {}", r.stderr);
    assert_eq!(r.stdout.trim(), format!("0::/system.slice/hull-{id}.scope"));
    let unit = format!("hull-{id}.scope");
    assert_eq!(unit_property(&unit, "LoadState"), "not-found");
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/system.slice/{unit}")).exists());
    assert_no_leaks(&hull, &id, b.path());
}

/// A failed create leaves no unit: the unit name is in the state before the unit starts.
#[test]
fn failed_create_leaves_no_unit() {
    require_systemd!();
    let hull = Hull::default();
    let id = id("sdfail");
    let b = Bundle::new(&["/no/such/binary"]);
    let r = systemd_run(&hull, &b, &id);
    assert_ne!(r.code, 0);
    let unit = format!("hull-{id}.scope");
    assert_eq!(unit_property(&unit, "LoadState"), "not-found");
    assert_no_leaks(&hull, &id, b.path());
}

/// Without --systemd-cgroup, a `slice:prefix:name` path is a plain cgroup path (a
/// directory with colons, below hull's own cgroup), as runc takes it. Runs anywhere.
#[test]
fn colon_path_without_the_flag_is_a_directory() {
    require_root!();
    // A relative path lands below our own cgroup: only where that is the top (no
    // host cgroup of someone else's gets a directory from a test).
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    if let Some(l) = own.lines().find(|l| !l.ends_with(":/")) {
        return eprintln!("skipped: not at the top of every hierarchy ({l})");
    }
    let hull = Hull::default();
    let id = id("colon");
    let mut b = Bundle::new(&["cat", "/proc/self/cgroup"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("system.slice:hull:{id}"));
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "cgroup");
    });
    let r = hull.run_container(&b, &id);
    assert_eq!(r.code, 0, "run: {}", r.stderr);
    assert!(
        r.stdout.contains(&format!("/system.slice:hull:{id}\n")),
        "{}",
        r.stdout
    );
    assert_no_leaks(&hull, &id, b.path());
}

/// With the flag but no systemd, create fails before making anything, as runc's.
#[test]
fn no_systemd_is_a_clear_error() {
    require_root!();
    if std::path::Path::new("/run/systemd/system").is_dir() {
        return eprintln!("skipped: systemd runs here");
    }
    let hull = Hull::default();
    let id = id("nosd");
    let b = Bundle::new(&["true"]);
    let r = systemd_run(&hull, &b, &id);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("systemd not running on this host"),
        "{}",
        r.stderr
    );
    assert_no_leaks(&hull, &id, b.path());
}

/// The device rules go to systemd too (DevicePolicy=strict, an entry per rule), so that
/// systemd, which rewrites device access when it reloads, keeps the container's: after a
/// daemon-reload the container still writes /dev/null and still cannot open a node it
/// made itself (42:0).
#[test]
fn device_rules_reach_systemd_and_survive_a_reload() {
    require_systemd!();
    let hull = Hull::default();
    let id = id("sddev");
    let unit = format!("hull-{id}.scope");
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("system.slice:hull:{id}"));
        common::mknod_scratch(c);
    });
    let _guard = common::DeleteOnPanic::new(&hull, &id);
    systemd_run_d(&hull, &b, &id);

    assert_eq!(unit_property(&unit, "DevicePolicy"), "strict");
    let allow = unit_property(&unit, "DeviceAllow");
    for entry in ["/dev/char/1:3 rwm", "char-136 rwm", "char-* m", "block-* m"] {
        assert!(
            allow.contains(entry),
            "{entry:?} not in DeviceAllow {allow:?}"
        );
    }
    let status = Command::new("systemctl")
        .arg("daemon-reload")
        .status()
        .unwrap();
    assert!(status.success());
    let r = hull.run(&[
        "exec",
        &id,
        "sh",
        "-c",
        "mknod /mnt/odd c 42 0 && echo x > /dev/null && echo null-ok; cat /mnt/odd; echo odd=$?",
    ]);
    assert!(
        r.stdout.contains("null-ok\nodd=1"),
        "{} {}",
        r.stdout,
        r.stderr
    );
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);

    let r = hull.run(&["delete", "-f", &id]);
    assert_eq!(r.code, 0, "delete: {}", r.stderr);
    assert_no_leaks(&hull, &id, b.path());
}

/// runc's `org.systemd.property.*` annotations: GVariant values, `...Sec` in seconds,
/// sent after hull's own properties (so Description is the annotation's).
#[test]
fn annotations_set_unit_properties() {
    require_systemd!();
    let hull = Hull::default();
    let id = id("sdann");
    let unit = format!("hull-{id}.scope");
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.edit(|c| {
        c["annotations"] = json!({
            "org.systemd.property.TimeoutStopSec": "uint64 7",
            "org.systemd.property.CollectMode": "'inactive-or-failed'",
            "org.systemd.property.Description": "\"a test's container\"",
            "org.example.other": "not a GVariant",
        });
    });
    let _guard = common::DeleteOnPanic::new(&hull, &id);
    systemd_run_d(&hull, &b, &id);
    assert_eq!(unit_property(&unit, "TimeoutStopUSec"), "7s");
    assert_eq!(unit_property(&unit, "CollectMode"), "inactive-or-failed");
    assert_eq!(unit_property(&unit, "Description"), "a test's container");
    let r = hull.run(&["delete", "-f", &id]);
    assert_eq!(r.code, 0, "delete: {}", r.stderr);
    assert_no_leaks(&hull, &id, b.path());
}

/// A bad property annotation fails create in one line before anything is made (runs
/// anywhere: it is checked before systemd is looked for).
#[test]
fn bad_property_annotations_are_refused() {
    require_root!();
    let hull = Hull::default();
    for (key, value, says) in [
        (
            "org.systemd.property.TimeoutStopSec",
            "'soon'",
            "not a number",
        ),
        (
            "org.systemd.property.CPUWeight",
            "uint64 -1",
            "out of range",
        ),
        (
            "org.systemd.property.Ab",
            "1",
            "three or more latin letters",
        ),
        (
            "org.systemd.property.Memory_Max",
            "1",
            "three or more latin letters",
        ),
        (
            "org.systemd.property.CollectMode",
            "'open",
            "unterminated string",
        ),
    ] {
        let id = id("sdbad");
        let mut b = Bundle::new(&["true"]);
        b.edit(|c| c["annotations"] = json!({ key: value }));
        let r = systemd_run(&hull, &b, &id);
        assert_eq!(r.code, 1, "{key}={value} was accepted");
        assert!(
            r.stderr.contains(key)
                && r.stderr.contains(says)
                && r.stderr.trim().lines().count() == 1,
            "{key}={value}: {}",
            r.stderr
        );
        assert_no_leaks(&hull, &id, b.path());
    }
}

/// `delete -f` of a systemd container whose state file is damaged: the default unit is
/// hull's by its name, so its processes are killed and the unit is stopped.
#[test]
fn delete_force_with_a_corrupt_state_stops_the_default_unit() {
    require_systemd!();
    let hull = Hull::default();
    let id = id("sdcorrupt");
    let unit = format!("hull-{id}.scope");
    let b = Bundle::new(&["sleep", "1000"]);
    let _guard = common::DeleteOnPanic::new(&hull, &id);
    systemd_run_d(&hull, &b, &id);
    let pid = hull.state(&id)["pid"].as_i64().unwrap();
    std::fs::write(hull.state_dir(&id).join("state.json"), b"{\"id\": tru").unwrap();
    let r = hull.run(&["delete", "-f", &id]);
    assert_eq!(r.code, 0, "delete -f: {}", r.stderr);
    assert!(!common::alive(pid), "the container's process survived");
    assert_eq!(unit_property(&unit, "LoadState"), "not-found");
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/system.slice/{unit}")).exists());
    assert_no_leaks(&hull, &id, b.path());
}

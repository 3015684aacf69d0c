//! `update`: new limits of a running container, read back from its cgroup files, in the
//! three forms callers send them (runc's flags, containerd's stdin JSON, podman's file).

mod common;

use std::io::Write;
use std::process::Stdio;

use common::{assert_no_leaks, id, Bundle, Hull};
use serde_json::json;

/// A cgroup file of container `id`: the v1 controller's, or the cgroup2 one (`v2`).
fn cgroup_value(id: &str, v1: (&str, &str), v2: &str) -> String {
    let v1_path = format!("/sys/fs/cgroup/{}/{id}/{}", v1.0, v1.1);
    let path = if std::path::Path::new(&v1_path).exists() {
        v1_path
    } else {
        format!("/sys/fs/cgroup/{id}/{v2}")
    };
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_string()
}

fn memory_limit(id: &str) -> String {
    cgroup_value(id, ("memory", "memory.limit_in_bytes"), "memory.max")
}

fn pids_max(id: &str) -> String {
    cgroup_value(id, ("pids", "pids.max"), "pids.max")
}

#[test]
fn update_by_flags_stdin_and_file() {
    require_root!();
    let hull = Hull::default();
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.edit(|c| {
        c["linux"]["resources"] =
            json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 20}, "cpu": {"shares": 1024}})
    });
    let id = id("update");
    let _guard = common::DeleteOnPanic::new(&hull, &id);
    hull.run_d(&b, &id);
    assert_eq!(memory_limit(&id), (64 << 20).to_string());
    assert_eq!(pids_max(&id), "20");

    // runc's flags, with units.
    let r = hull.run(&["update", "--memory", "128m", "--pids-limit", "30", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(memory_limit(&id), (128 << 20).to_string());
    assert_eq!(pids_max(&id), "30");

    // containerd: `--resources -` with the JSON on stdin.
    let mut child = hull
        .cmd()
        .args(["update", "--resources", "-", &id])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(
        child.stdin.take().unwrap(),
        "{}",
        json!({"cpu": {"shares": 512}, "pids": {"limit": 40}})
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(pids_max(&id), "40");
    let shares = cgroup_value(&id, ("cpu", "cpu.shares"), "cpu.weight");
    assert!(
        shares == "512" || shares == "59",
        "cpu.shares 512 (v2 weight 59): {shares}"
    );
    assert_eq!(
        memory_limit(&id),
        (128 << 20).to_string(),
        "what the update leaves out stays"
    );

    // runc 1.2's cpu flags: SCHED_IDLE and a CFS burst on top of a quota.
    let r = hull.run(&[
        "update",
        "--cpu-quota",
        "50000",
        "--cpu-burst",
        "10000",
        "--cpu-idle",
        "1",
        &id,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(cgroup_value(&id, ("cpu", "cpu.idle"), "cpu.idle"), "1");
    assert_eq!(
        cgroup_value(&id, ("cpu", "cpu.cfs_burst_us"), "cpu.max.burst"),
        "10000"
    );
    assert_eq!(
        cgroup_value(&id, ("cpu", "cpu.cfs_quota_us"), "cpu.max"),
        match std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            true => "50000 100000",
            false => "50000",
        }
    );
    // A period alone keeps the quota (one file on v2).
    let r = hull.run(&["update", "--cpu-period", "90000", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    assert_eq!(
        cgroup_value(&id, ("cpu", "cpu.cfs_quota_us"), "cpu.max"),
        if v2 { "50000 90000" } else { "50000" }
    );
    assert_eq!(
        cgroup_value(&id, ("cpu", "cpu.cfs_period_us"), "cpu.max"),
        if v2 { "50000 90000" } else { "90000" }
    );

    // podman: `--resources=FILE`.
    let file = b.path().join("resources.json");
    std::fs::write(
        &file,
        json!({"memory": {"limit": 96 << 20, "swap": 192 << 20}}).to_string(),
    )
    .unwrap();
    let r = hull.run(&["update", &format!("--resources={}", file.display()), &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(memory_limit(&id), (96 << 20).to_string());

    // Bad input: a clear error and the limit as it was.
    for (args, want) in [
        (vec!["--memory", "lots"], "not a size"),
        (
            vec!["--memory", "256m", "--memory-swap", "64m"],
            "lower than memory.limit",
        ),
    ] {
        let mut all = vec!["update"];
        all.extend(args);
        all.push(&id);
        let r = hull.run(&all);
        assert_ne!(r.code, 0);
        assert!(r.stderr.contains(want), "{}", r.stderr);
        assert_eq!(memory_limit(&id), (96 << 20).to_string());
    }
    let bad = b.path().join("bad.json");
    std::fs::write(&bad, "{\"memory\": {\"limit\": \"big\"}}").unwrap();
    let r = hull.run(&["update", "-r", bad.to_str().unwrap(), &id]);
    assert!(r.stderr.contains("--resources"), "{}", r.stderr);
    // A unified key the cgroup lacks (v2), or unified on v1 at all: refused before any
    // write, the memory limit that came with it included.
    std::fs::write(
        &bad,
        json!({"memory": {"limit": 32 << 20}, "unified": {"memory.nosuchfile": "1"}}).to_string(),
    )
    .unwrap();
    let r = hull.run(&["update", "-r", bad.to_str().unwrap(), &id]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("unified"), "{}", r.stderr);
    assert_eq!(memory_limit(&id), (96 << 20).to_string());

    assert_eq!(hull.run(&["kill", &id, "KILL"]).code, 0);
    hull.wait_status(&id, "stopped");
    let r = hull.run(&["update", "--memory", "64m", &id]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("container not running"), "{}", r.stderr);
    assert_eq!(hull.run(&["delete", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
    let r = hull.run(&["update", "--memory", "64m", &id]);
    assert!(
        r.stderr.contains("container does not exist"),
        "{}",
        r.stderr
    );
}

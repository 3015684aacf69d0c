//! `events`: stats of a busy container, and the OOM event of a memory hog.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{assert_no_leaks, id, Bundle, Hull};
use serde_json::{json, Value};

#[test]
fn stats_of_a_busy_container_are_non_zero() {
    require_root!();
    let hull = Hull::default();
    let mut b = Bundle::new(&["sh", "-c", "while :; do :; done"]);
    b.edit(|c| c["linux"]["resources"] = json!({"pids": {"limit": 50}, "cpu": {"cpus": "0"}}));
    let id = id("stats");
    let _guard = common::DeleteOnPanic::new(&hull, &id);
    hull.run_d(&b, &id);
    std::thread::sleep(Duration::from_millis(300));
    let r = hull.run(&["events", "--stats", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ev: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], id.as_str());
    let d = &ev["data"];
    assert!(
        d["cpu"]["usage"]["total"].as_u64().unwrap() > 50_000_000,
        "300 ms of spinning: {d}"
    );
    assert!(d["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{d}");
    assert_eq!(d["pids"]["current"], 1, "{d}");
    assert_eq!(d["pids"]["limit"], 50, "{d}");
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        // v2: pressure stall information, where the kernel keeps it.
        if std::path::Path::new("/proc/pressure/cpu").exists() {
            assert!(
                d["cpu"]["psi"]["some"].is_object() || d["cpu"]["psi"].is_object(),
                "{d}"
            );
        }
    } else {
        // v1: the cpuset as runc reports it.
        assert_eq!(d["cpuset"]["cpus"], json!([0]), "{d}");
    }

    let bad = hull.run(&["events", "--interval", "0s", &id]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("greater than 0"), "{}", bad.stderr);
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
    let gone = hull.run(&["events", "--stats", &id]);
    assert!(gone.stderr.contains("container does not exist"));
}

#[test]
fn a_memory_hog_is_oom_killed_and_events_reports_it() {
    require_root!();
    let hull = Hull::default();
    // dd's 64 MiB buffer does not fit in 16 MiB; the shell around it survives. It starts
    // when the test says so, once `events` is watching.
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "while [ ! -e /tmp/go ]; do sleep 0.05; done; \
         dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd=$?; sleep 1000",
    ]);
    b.edit(|c| {
        c["linux"]["resources"] = json!({"memory": {"limit": 16 << 20, "swap": 16 << 20}});
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    });
    let id = id("oom");
    let _guard = common::DeleteOnPanic::new(&hull, &id);
    hull.run_d(&b, &id);
    let mut events = hull
        .cmd()
        .args(["events", "--interval", "200ms", &id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(events.stdout.take().unwrap()).lines();
    let mut next = || -> Value { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };
    // Stats come every interval, before anything happens.
    for _ in 0..2 {
        let ev = next();
        assert_eq!(ev["type"], "stats", "{ev}");
        assert_eq!(ev["id"], id.as_str());
    }
    assert_eq!(hull.run(&["exec", &id, "touch", "/tmp/go"]).code, 0);
    // A liveness bound, not a timing: the emulated VM took over 10 s once under load.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut oom = false;
    while Instant::now() < deadline && !oom {
        let ev = next();
        match ev["type"].as_str().unwrap() {
            "stats" => {}
            "oom" => oom = true,
            t => panic!("unexpected event {t}"),
        }
    }
    assert!(oom, "no oom event");
    let d: Value = serde_json::from_str(&hull.run(&["events", "--stats", &id]).stdout).unwrap();
    let usage = &d["data"]["memory"]["usage"];
    assert_eq!(usage["limit"], 16 << 20, "{d}");
    assert!(
        usage["max"].as_u64().unwrap() >= 15 << 20,
        "the peak reached the limit: {d}"
    );
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    // events ends by itself once the container is gone.
    let status = events.wait().unwrap();
    assert!(status.success());
    assert_no_leaks(&hull, &id, b.path());
}

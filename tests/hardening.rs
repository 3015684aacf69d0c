//! Faults: corrupt state files and a recycled init pid.

mod common;

use std::time::Duration;

use common::{assert_no_leaks, id, Bundle, Hull};

/// Alive and not a zombie.
fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
}

#[test]
fn corrupt_state_is_reported_listed_around_and_cleaned_by_delete_force() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sleep", "1000"]);
    let good = id("good");
    let _g = common::DeleteOnPanic::new(&hull, &good);
    let r = hull.run_detached(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &good]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let full = std::fs::read(hull.state_dir(&good).join("state.json")).unwrap();

    for (name, content) in [
        ("empty", &b""[..]),
        ("truncated", &full[..full.len() / 2]),
        ("garbage", &b"\x00\xff{{not json"[..]),
    ] {
        // A real container whose state file is then damaged (a crash, a full disk).
        let victim = id(name);
        let _v = common::DeleteOnPanic::new(&hull, &victim);
        let r = hull.run_detached(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &victim]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let pid = hull.state(&victim)["pid"].as_i64().unwrap();
        std::fs::write(hull.state_dir(&victim).join("state.json"), content).unwrap();

        let st = hull.run(&["state", &victim]);
        assert_eq!(st.code, 1);
        assert!(
            st.stderr.contains("corrupt state file"),
            "{name}: {}",
            st.stderr
        );
        assert_eq!(st.stderr.lines().count(), 1, "one line: {}", st.stderr);
        let list = hull.run(&["list", "-q"]);
        assert_eq!(list.code, 0, "{}", list.stderr);
        assert!(list.stdout.lines().any(|l| l == good), "{}", list.stdout);
        let del = hull.run(&["delete", &victim]);
        assert_ne!(del.code, 0, "without -f a corrupt state stays");
        assert!(alive(pid));

        let del = hull.run(&["delete", "-f", &victim]);
        assert_eq!(del.code, 0, "{}", del.stderr);
        // Its default cgroup named it: its process and cgroup are gone too.
        assert!(!alive(pid), "{name}: the container's process survived");
        assert_no_leaks(&hull, &victim, b.path());
    }
    assert_eq!(hull.status(&good), "running");
    assert_eq!(hull.run(&["delete", "-f", &good]).code, 0);
    assert_no_leaks(&hull, &good, b.path());
}

#[test]
fn a_recycled_init_pid_is_never_reported_running_nor_signalled() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["true"]);
    let id = id("recycled");
    let _g = common::DeleteOnPanic::new(&hull, &id);
    let r = hull.create(&b, &id);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(hull.run_detached(&["start", &id]).code, 0);
    hull.wait_status(&id, "stopped");

    // The dead init's pid now belongs to an unrelated process (the state still records
    // the old start time): a naive runtime that trusts the pid would kill it.
    let mut stranger = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let file = hull.state_dir(&id).join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    state["pid"] = (stranger.id() as i64).into();
    std::fs::write(&file, serde_json::to_vec(&state).unwrap()).unwrap();

    let st = hull.state(&id);
    assert_eq!(st["status"], "stopped");
    assert_eq!(st["pid"], 0);
    let k = hull.run(&["kill", &id, "KILL"]);
    assert_ne!(k.code, 0);
    assert!(k.stderr.contains("container not running"), "{}", k.stderr);
    assert_eq!(hull.run(&["delete", &id]).code, 0);
    assert!(
        alive(stranger.id() as i64),
        "an unrelated process was signalled"
    );
    stranger.kill().unwrap();
    stranger.wait().unwrap();
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn racing_creates_of_one_id_exactly_one_wins_and_parallel_lifecycles_stay_consistent() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = id("race");
    let _g = common::DeleteOnPanic::new(&hull, &id);
    let results: Vec<common::Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| hull.create(&b, &id))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners = results.iter().filter(|r| r.code == 0).count();
    assert_eq!(winners, 1, "exactly one create wins");
    for r in results.iter().filter(|r| r.code != 0) {
        assert!(
            r.stderr.contains("container with given ID already exists"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(hull.status(&id), "created");
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());

    // Many containers at once on one --root: run -d, exec, kill, delete in parallel.
    let ids: Vec<String> = (0..8).map(|i| format!("{id}-{i}")).collect();
    std::thread::scope(|s| {
        for cid in &ids {
            let (hull, b) = (&hull, &b);
            s.spawn(move || {
                let _g = common::DeleteOnPanic::new(hull, cid);
                let r =
                    hull.run_detached(&["run", "-d", "--bundle", b.path().to_str().unwrap(), cid]);
                assert_eq!(r.code, 0, "{}", r.stderr);
                let r = hull.run(&["exec", cid, "echo", cid]);
                assert_eq!((r.code, r.stdout.trim()), (0, cid.as_str()), "{}", r.stderr);
                assert_eq!(hull.run(&["delete", "-f", cid]).code, 0);
            });
        }
    });
    let list = hull.run(&["list", "-q"]);
    assert_eq!(list.stdout, "", "every one deleted");
    for cid in &ids {
        assert_no_leaks(&hull, cid, b.path());
    }
}

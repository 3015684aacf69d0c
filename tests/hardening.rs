//! Faults: corrupt state files and a recycled init pid.

mod common;

use std::time::Duration;

use common::{alive, assert_no_leaks, id, Bundle, Hull};

#[test]
fn corrupt_state_is_reported_listed_around_and_cleaned_by_delete_force() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sleep", "1000"]);
    let good = id("good");
    let _g = common::DeleteOnPanic::new(&hull, &good);
    hull.run_d(&b, &good);
    let full = std::fs::read(hull.state_dir(&good).join("state.json")).unwrap();

    for (name, content) in [
        ("empty", &b""[..]),
        ("truncated", &full[..full.len() / 2]),
        ("garbage", &b"\x00\xff{{not json"[..]),
    ] {
        // A real container whose state file is then damaged (a crash, a full disk).
        let victim = id(name);
        let _v = common::DeleteOnPanic::new(&hull, &victim);
        hull.run_d(&b, &victim);
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
                hull.run_d(b, cid);
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

/// The CVE-2019-5736 attack, played by a container against a private copy of hull:
/// `exec` of `/proc/self/exe` makes the kernel run hull inside the container; a second
/// process there holds that process's `/proc/PID/exe` open, waits for it to exit (so
/// that no running copy makes the file busy) and reopens it for writing. A runtime that
/// runs from its own writable file loses here: the write lands in the host's binary
/// ("WROTE", the copy corrupted). hull runs from a read-only view of itself: EROFS.
#[test]
fn the_runtime_binary_cannot_be_overwritten_through_proc_self_exe() {
    require_root!();
    let bin_dir = tempfile::tempdir().unwrap();
    let copy = bin_dir.path().join("hull");
    std::fs::copy(common::HULL, &copy).unwrap();
    let original = std::fs::read(&copy).unwrap();
    let owner = Hull::default();
    let root = &owner.root;
    let hull = |args: &[&str]| {
        std::process::Command::new(&copy)
            .arg("--root")
            .arg(root.path())
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
    };
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.edit(|c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}))
    });
    let id = id("exe");
    // With hull's own binary: the copy is what is under attack.
    let cleanup = || {
        let _ = owner.run(&["delete", "-f", &id]);
    };
    struct Always<F: Fn()>(F);
    impl<F: Fn()> Drop for Always<F> {
        fn drop(&mut self) {
            (self.0)()
        }
    }
    let _always = Always(cleanup);
    assert!(hull(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]).success());
    assert!(hull(&["exec", &id, "mkfifo", "/tmp/f"]).success());
    // hull, run by the kernel inside the container, blocks opening its log (a fifo).
    let mut blocked = std::process::Command::new(&copy)
        .arg("--root")
        .arg(root.path())
        .args(["exec", &id, "/proc/self/exe", "--log", "/tmp/f", "list"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let script = "for i in $(seq 200); do \
           p=$(grep -l '^/proc/self/exe' /proc/[0-9]*/cmdline 2>/dev/null | head -1); \
           [ -n \"$p\" ] && break; sleep 0.02; done; \
         d=${p%/cmdline}; \
         exec 3<$d/exe || { echo NOOPEN > /tmp/result; exit; }; \
         cat /tmp/f > /dev/null; \
         while [ -e $d ]; do sleep 0.02; done; sleep 0.3; \
         if printf pwned 1<>/proc/self/fd/3; then echo WROTE; else echo REFUSED; fi > /tmp/result";
    assert!(hull(&["exec", "-d", &id, "sh", "-c", script]).success());
    blocked.wait().unwrap();
    // The copy must not run while the attacker writes (a running copy makes the file
    // busy): the result is read with the test's own hull binary, another file.
    let mut result = String::new();
    for _ in 0..200 {
        result = owner
            .run(&["exec", &id, "cat", "/tmp/result"])
            .stdout
            .trim()
            .to_string();
        if !result.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        std::fs::read(&copy).unwrap() == original,
        "the binary was overwritten"
    );
    assert_eq!(result, "REFUSED");
    assert!(hull(&["delete", "-f", &id]).success());
    assert_no_leaks(&owner, &id, b.path());
}

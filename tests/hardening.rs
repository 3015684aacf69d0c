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
        // Nothing says the cgroup named like the id is this container's (it is runc's
        // default name, anyone's): as runc, its processes are left alone.
        assert!(alive(pid), "{name}: delete -f killed by a guess");
        assert!(!hull.state_dir(&victim).exists());
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::SIGKILL,
        )
        .unwrap();
        common::remove_default_cgroup(&victim);
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
    // Start times count in clock ticks (10 ms): a real recycled pid is born long after
    // the init (the pid space wraps first); here the stranger is at least ticks later.
    std::thread::sleep(Duration::from_millis(30));

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

/// A container set up to attack a private copy of hull (CVE-2019-5736): its /tmp is a
/// tmpfs, and `attacker` is the script that, inside, waits for a process whose command
/// line starts with /proc/self/exe, holds its `/proc/PID/exe` open, waits for it to exit
/// (so that no running copy makes the file busy) and reopens it for writing.
struct ExeAttack {
    _bin_dir: tempfile::TempDir,
    copy: std::path::PathBuf,
    original: Vec<u8>,
    owner: Hull,
    id: String,
    bundle: Bundle,
}

impl ExeAttack {
    /// `drain` is what the attacker runs once it holds the exe, to let hull finish.
    fn new(drain: &str) -> ExeAttack {
        let bin_dir = tempfile::tempdir().unwrap();
        let copy = bin_dir.path().join("hull");
        std::fs::copy(common::HULL, &copy).unwrap();
        let mut bundle = Bundle::new(&["sleep", "1000"]);
        bundle.edit(|c| {
            c["mounts"].as_array_mut().unwrap().push(
                serde_json::json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}),
            )
        });
        let a = ExeAttack {
            original: std::fs::read(&copy).unwrap(),
            _bin_dir: bin_dir,
            copy,
            owner: Hull::default(),
            id: id("exe"),
            bundle,
        };
        let b = a.bundle.path().to_str().unwrap().to_string();
        assert!(a.hull(&["run", "-d", "--bundle", &b, &a.id]).success());
        let attacker = common::exe_attacker_script(drain);
        assert!(a.hull(&["exec", &a.id, "mkfifo", "/tmp/f"]).success());
        assert!(a
            .hull(&["exec", "-d", &a.id, "sh", "-c", &attacker])
            .success());
        a
    }

    /// The private copy, with the owner's --root.
    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(&self.copy);
        c.arg("--root").arg(self.owner.root.path()).args(args);
        c.stdin(std::process::Stdio::null());
        c.stdout(std::process::Stdio::null());
        c.stderr(std::process::Stdio::null());
        c
    }

    fn hull(&self, args: &[&str]) -> std::process::ExitStatus {
        self.cmd(args).status().unwrap()
    }

    /// The attacker's verdict, read with the test's own hull: the copy must not run
    /// while the attacker writes (a running copy makes the file busy).
    fn verdict(&self) -> String {
        for _ in 0..300 {
            let r = self.owner.run(&["exec", &self.id, "cat", "/tmp/result"]);
            if !r.stdout.trim().is_empty() {
                return r.stdout.trim().to_string();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the attacker never finished");
    }

    fn assert_refused(self) {
        let verdict = self.verdict();
        assert!(
            std::fs::read(&self.copy).unwrap() == self.original,
            "the binary was overwritten"
        );
        assert_eq!(verdict, "REFUSED");
        assert_eq!(self.owner.run(&["delete", "-f", &self.id]).code, 0);
        assert_no_leaks(&self.owner, &self.id, self.bundle.path());
    }
}

impl Drop for ExeAttack {
    fn drop(&mut self) {
        let _ = self.owner.run(&["delete", "-f", &self.id]);
    }
}

/// The CVE-2019-5736 attack: `exec` of `/proc/self/exe` makes the kernel run hull inside
/// the container, blocked on opening its log (a fifo). A runtime that runs from its own
/// writable file loses here: the write lands in the host's binary ("WROTE", the copy
/// corrupted). hull runs from a read-only view of itself: EROFS.
#[test]
fn the_runtime_binary_cannot_be_overwritten_through_proc_self_exe() {
    require_root!();
    let attack = ExeAttack::new("cat /tmp/f > /dev/null");
    let id = attack.id.clone();
    let mut blocked = attack
        .cmd(&["exec", &id, "/proc/self/exe", "--log", "/tmp/f", "list"])
        .spawn()
        .unwrap();
    blocked.wait().unwrap();
    attack.assert_refused();
}

/// The same through an entrypoint whose interpreter is `#!/proc/self/exe`: the exec'd
/// file is a script, and the kernel runs the process's own binary, hull, as its
/// interpreter. hull, given the script as an unknown command, writes its error to a
/// stderr that is a full pipe, and stays blocked there until the attacker holds its exe.
#[test]
fn a_proc_self_exe_interpreter_during_exec_cannot_overwrite_the_runtime() {
    require_root!();
    let attack = ExeAttack::new("touch /tmp/opened");
    let id = attack.id.clone();
    let script = "printf '#!/proc/self/exe\\n' > /tmp/evil && chmod +x /tmp/evil";
    assert!(attack.hull(&["exec", &id, "sh", "-c", script]).success());

    let (read, write) = nix::unistd::pipe().unwrap();
    // Full: the next write blocks (filled non-blocking, then made blocking again).
    let flags = |nonblock: bool| {
        let f = if nonblock {
            nix::fcntl::OFlag::O_NONBLOCK
        } else {
            nix::fcntl::OFlag::empty()
        };
        nix::fcntl::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&write),
            nix::fcntl::FcntlArg::F_SETFL(f),
        )
        .unwrap();
    };
    flags(true);
    while nix::unistd::write(&write, &[0u8; 4096]).is_ok() {}
    flags(false);
    let mut blocked = attack
        .cmd(&["exec", &id, "/tmp/evil"])
        .stdout(std::fs::File::from(write.try_clone().unwrap()))
        .stderr(std::fs::File::from(write))
        .spawn()
        .unwrap();
    // Once the attacker holds the exe, drain the pipe: hull inside finishes.
    let mut opened = false;
    for _ in 0..300 {
        if attack
            .owner
            .run(&["exec", &id, "test", "-e", "/tmp/opened"])
            .code
            == 0
        {
            opened = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let drain = std::thread::spawn(move || {
        let mut f = std::fs::File::from(read);
        let _ = std::io::copy(&mut f, &mut std::io::sink());
    });
    blocked.wait().unwrap();
    drain.join().unwrap();
    assert!(opened, "hull never ran as the script's interpreter");
    attack.assert_refused();
}

//! Faults: hull SIGKILLed at any moment of `create`, `run`, `exec` and `delete`; a later
//! `delete -f` must leave nothing behind.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_no_leaks, id, Bundle, Hull};

/// Runs `cmd`, SIGKILLs it after `delay` (unless it finished first); true if it was
/// killed.
fn kill_after(mut cmd: Command, delay: Duration) -> bool {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    let _ = child.kill();
    !child.wait().unwrap().success()
}

/// How long `op` takes when left alone: the sweep covers that span and a bit more.
fn duration_of(mut op: impl FnMut()) -> Duration {
    let start = Instant::now();
    op();
    start.elapsed()
}

/// After a kill, `state` and `list` still answer (an error is one clear line).
fn state_still_answers(hull: &Hull, id: &str) {
    let st = hull.run(&["state", id]);
    assert!(
        st.code == 0 || st.stderr.lines().count() == 1,
        "state after a kill: {}",
        st.stderr
    );
    assert!(!st.stderr.contains("panicked"), "{}", st.stderr);
    let list = hull.run(&["list"]);
    assert_eq!(list.code, 0, "list after a kill: {}", list.stderr);
}

fn pid_file_dir_is_empty(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "pid files left behind: {left:?}");
}

/// Sweeps kill points over the whole of each command, `steps` evenly spread; returns how
/// many trials really killed hull mid-way.
fn sweep(steps: u32, span: Duration, mut trial: impl FnMut(Duration) -> bool) -> u32 {
    (0..steps)
        .map(|i| trial(span * i / steps))
        .filter(|killed| *killed)
        .count() as u32
}

/// Kill points per command; fewer in the emulated VM (HULL_TEST_QUICK), where the
/// cgroup v2 side is what is new, not the sweep.
fn steps() -> u32 {
    match std::env::var_os("HULL_TEST_QUICK") {
        Some(_) => 3,
        None => 60,
    }
}

/// The test plays a supervisor, as containerd's shim does: a child subreaper that reaps
/// the container processes orphaned to it. Otherwise they go to the host's pid 1, which
/// here reaps slowly (seconds), and a pid namespace ends only once all its zombies are
/// reaped: every `delete` would wait for that.
fn become_subreaper() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: plain prctl.
        assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) }, 0);
        std::thread::spawn(|| loop {
            reap_adopted();
            std::thread::sleep(Duration::from_millis(2));
        });
    });
}

/// Reaps exited processes of other pid namespaces (adopted); our own children are left to
/// the `Command` that waits for them.
fn reap_adopted() {
    loop {
        // SAFETY: waitid into a zeroed siginfo; WNOWAIT leaves the zombie in place.
        let pid = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
            if libc::waitid(libc::P_ALL, 0, &mut info, flags) != 0 {
                return;
            }
            info.si_pid()
        };
        let nspid = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let levels = nspid
            .lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .map_or(0, |l| l.split_whitespace().count());
        if pid == 0 || levels < 2 {
            return;
        }
        // SAFETY: reaps that one zombie.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
    }
}

/// A naive runtime that makes its cgroup (or state dir, or pid file) before recording it
/// leaks it when killed in between: `delete -f` then has nothing that names it. Here the
/// state is written first, and every cleanup step is idempotent.
#[test]
fn create_and_run_killed_at_any_moment_leave_nothing_after_delete_force() {
    require_root!();
    become_subreaper();
    let hull = Hull::default();
    let pid_dir = tempfile::tempdir().unwrap();
    // The shell names the container in its command line, so a stray one is found.
    let base = id("kill");
    let mut b = Bundle::new(&["sh", "-c", "while :; do sleep 1; done", &base]);
    let bundle = b.path().to_str().unwrap().to_string();
    let pid_file = pid_dir.path().join("pid");
    let pid_file = pid_file.to_str().unwrap();

    let mut span = Duration::ZERO;
    for (op, args) in [
        ("create", vec!["create", "--pid-file", pid_file]),
        ("run -d", vec!["run", "-d", "--pid-file", pid_file]),
        ("run", vec!["run"]),
    ] {
        let mut n = 0;
        let mut attempt = |delay: Option<Duration>| {
            let cid = format!("{base}-{n}");
            n += 1;
            let _g = common::DeleteOnPanic::new(&hull, &cid);
            // A nested cgroup of its own: only the state can tell `delete` where it is.
            let cgroup = format!("hull-kill-{cid}");
            b.edit(|c| c["linux"]["cgroupsPath"] = format!("/{cgroup}/inner").into());
            let mut cmd = hull.cmd();
            cmd.args(&args).args(["--bundle", &bundle, &cid]);
            let killed = kill_after(cmd, delay.unwrap_or(Duration::from_secs(5)));
            state_still_answers(&hull, &cid);
            let del = hull.run(&["delete", "-f", &cid]);
            assert_eq!(del.code, 0, "{op} killed after {delay:?}: {}", del.stderr);
            assert_no_leaks(&hull, &cid, b.path());
            for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
                let dir = h.path().join(&cgroup);
                assert!(!dir.exists(), "{op}: cgroup {} left behind", dir.display());
            }
            pid_file_dir_is_empty(pid_dir.path());
            killed
        };
        // A foreground run never finishes: it is swept over the span of a `run -d`.
        if op != "run" {
            span = duration_of(|| {
                attempt(None);
            }) + Duration::from_millis(2);
        }
        let killed = sweep(steps(), span, |d| attempt(Some(d)));
        eprintln!(
            "{op}: {killed} of {} trials killed hull mid-way (span {span:?})",
            steps()
        );
        assert!(killed > 0, "{op}: no trial killed hull before it finished");
    }
}

/// A runtime that places an exec'd process in the container's cgroup only after starting
/// it, or whose delete forgets what a killed delete already removed, leaves processes or
/// cgroups here.
#[test]
fn exec_and_delete_killed_at_any_moment_leave_nothing_after_delete_force() {
    require_root!();
    become_subreaper();
    let hull = Hull::default();
    let base = id("killx");
    let b = Bundle::new(&["sh", "-c", "while :; do sleep 1; done", &base]);
    let pid_dir = tempfile::tempdir().unwrap();
    let pid_file = pid_dir.path().join("pid");
    let pid_file = pid_file.to_str().unwrap();

    // exec: the container stays consistent (still running, exec works again); delete -f
    // then takes the exec'd processes with it.
    let mut n = 0;
    let mut exec_trial = |delay: Duration, detach: bool| {
        let cid = format!("{base}-e{n}");
        n += 1;
        let _g = common::DeleteOnPanic::new(&hull, &cid);
        hull.run_d(&b, &cid);
        let mut cmd = hull.cmd();
        cmd.arg("exec");
        if detach {
            cmd.args(["-d", "--pid-file", pid_file]);
        }
        cmd.args([&cid, "sh", "-c", "sleep 1000", &cid]);
        let killed = kill_after(cmd, delay);
        assert_eq!(hull.status(&cid), "running");
        let r = hull.run(&["exec", &cid, "echo", "still"]);
        assert_eq!((r.code, r.stdout.trim()), (0, "still"), "{}", r.stderr);
        let del = hull.run(&["delete", "-f", &cid]);
        assert_eq!(del.code, 0, "exec killed after {delay:?}: {}", del.stderr);
        assert_no_leaks(&hull, &cid, b.path());
        killed
    };
    let span = Duration::from_millis(15);
    for detach in [false, true] {
        let killed = sweep(steps(), span, |d| exec_trial(d, detach));
        eprintln!(
            "exec (detach {detach}): {killed} of {} trials killed hull mid-way",
            steps()
        );
        assert!(killed > 0);
    }

    // delete: killed half-way, a second delete -f finishes the job.
    let mut delete_trial = |delay: Duration| {
        let cid = format!("{base}-d{n}");
        n += 1;
        let _g = common::DeleteOnPanic::new(&hull, &cid);
        hull.run_d(&b, &cid);
        let mut cmd = hull.cmd();
        cmd.args(["delete", "-f", &cid]);
        let killed = kill_after(cmd, delay);
        state_still_answers(&hull, &cid);
        let del = hull.run(&["delete", "-f", &cid]);
        assert_eq!(del.code, 0, "delete killed after {delay:?}: {}", del.stderr);
        assert_no_leaks(&hull, &cid, b.path());
        killed
    };
    let killed = sweep(steps(), span, &mut delete_trial);
    eprintln!(
        "delete -f: {killed} of {} trials killed hull mid-way",
        steps()
    );
    assert!(killed > 0);
}

/// Unmounts on drop, so that a failing test leaves no tmpfs behind.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount_tmpfs(at: &Path, options: &str) -> Mounted {
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "tmpfs"])
        .arg(at)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount tmpfs -o {options}");
    Mounted(at.to_path_buf())
}

/// Fills the filesystem at `dir` with one file (blocks) or many empty ones (inodes).
fn fill(dir: &Path, inodes: bool) {
    use std::io::Write;
    if inodes {
        for i in 0.. {
            if std::fs::File::create(dir.join(format!("fill{i}"))).is_err() {
                return;
            }
        }
    }
    let mut f = std::fs::File::create(dir.join("fill")).unwrap();
    while f.write_all(&[0u8; 4096]).is_ok() {}
}

/// A failed command: exit 1, one line on stderr naming `what`, nothing of `id` left.
fn fails_cleanly(r: &common::Run, what: &str, hull: &Hull, id: &str, b: &Bundle) {
    assert_eq!(r.code, 1, "{what}: {}", r.stderr);
    assert_eq!(
        r.stderr.lines().count(),
        1,
        "{what}: one line: {}",
        r.stderr
    );
    assert!(r.stderr.contains(what), "{what}: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_no_leaks(hull, id, b.path());
}

/// `--root` on a full filesystem: no space for state.json (blocks) or for the state dir
/// itself (inodes). A runtime that makes the cgroup or the init before it knows its state
/// is written leaks them; one that writes state.json in place leaves a truncated file.
#[test]
fn a_full_state_filesystem_gives_a_clear_error_and_leaves_nothing() {
    require_root!();
    become_subreaper();
    let b = Bundle::new(&["echo", "ran"]);
    for (options, inodes) in [("size=64k", false), ("nr_inodes=16", true)] {
        let hull = Hull::default();
        let root = hull.root.path().join("state");
        std::fs::create_dir(&root).unwrap();
        let _m = mount_tmpfs(&root, options);
        let full = Hull {
            root: tempfile::TempDir::new_in(&root).unwrap(),
        };
        fill(&root, inodes);
        let id = id("full");
        let _g = common::DeleteOnPanic::new(&full, &id);
        let r = full.run_container(&b, &id);
        fails_cleanly(&r, "no space left on device", &full, &id, &b);
        assert_eq!(full.run(&["list", "-q"]).stdout, "");
        // With room again, the same id works.
        for e in std::fs::read_dir(&root).unwrap().flatten() {
            if e.file_name().to_string_lossy().starts_with("fill") {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
        let r = full.run_container(&b, &id);
        assert_eq!((r.code, r.stdout.trim()), (0, "ran"), "{}", r.stderr);
        assert_no_leaks(&full, &id, b.path());
    }
}

/// Runs `cmd` with RLIMIT_NOFILE at `n` (soft and hard).
fn with_nofile(cmd: &mut Command, n: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only setrlimit between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// hull with few file descriptors: every step that opens one can fail. Each limit either
/// runs the container or fails with one clear line, and nothing is left either way.
#[test]
fn an_fd_limit_fails_cleanly_at_every_step() {
    require_root!();
    become_subreaper();
    let hull = Hull::default();
    let mut b = Bundle::new(&["echo", "ran"]);
    // The container keeps hull's limit (raising it needs CAP_SYS_RESOURCE).
    b.edit(|c| c["process"]["rlimits"] = serde_json::json!([]));
    let (mut failed, mut ran) = (0, 0);
    // Every limit here; a spread of them in the emulated VM.
    let limits: Vec<u64> = match std::env::var_os("HULL_TEST_QUICK") {
        Some(_) => vec![3, 5, 8, 12, 16, 20, 24, 32, 40],
        None => (3..=40).collect(),
    };
    for n in limits {
        let id = format!("{}-{n}", id("nofile"));
        let _g = common::DeleteOnPanic::new(&hull, &id);
        let mut cmd = hull.cmd();
        cmd.args(["run", "--bundle", b.path().to_str().unwrap(), &id]);
        with_nofile(&mut cmd, n);
        let r: common::Run = cmd.output().unwrap().into();
        if r.code == 0 {
            assert_eq!(r.stdout.trim(), "ran");
            ran += 1;
            assert_no_leaks(&hull, &id, b.path());
        } else {
            fails_cleanly(&r, "too many open files", &hull, &id, &b);
            failed += 1;
        }
    }
    eprintln!("RLIMIT_NOFILE from 3 to 40: {failed} failed cleanly, {ran} ran");
    assert!(failed > 0 && ran > 0);
}

/// hull in a pids cgroup with no room for the container's init (or its first stage):
/// the clone fails, and the error says so.
#[test]
fn a_pid_limit_fails_cleanly() {
    require_root!();
    become_subreaper();
    let hull = Hull::default();
    let b = Bundle::new(&["echo", "ran"]);
    let cg = Path::new("/sys/fs/cgroup/pids").join(id("hull-test-pids"));
    if !cg.parent().unwrap().join("cgroup.procs").exists() {
        eprintln!("skipped: no v1 pids hierarchy on this host");
        return;
    }
    std::fs::create_dir(&cg).unwrap();
    struct Rmdir<'a>(&'a Path);
    impl Drop for Rmdir<'_> {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(self.0);
        }
    }
    let _rm = Rmdir(&cg);
    for max in 1..=3 {
        std::fs::write(cg.join("pids.max"), max.to_string()).unwrap();
        let id = format!("{}-{max}", id("pids"));
        let _g = common::DeleteOnPanic::new(&hull, &id);
        let mut cmd = hull.cmd();
        cmd.args(["run", "--bundle", b.path().to_str().unwrap(), &id]);
        let procs = cg.join("cgroup.procs");
        use std::os::unix::process::CommandExt;
        // SAFETY: only a write between fork and exec.
        unsafe {
            cmd.pre_exec(move || std::fs::write(&procs, "0"));
        }
        let r: common::Run = cmd.output().unwrap().into();
        eprintln!("pids.max {max}: exit {} {}", r.code, r.stderr.trim());
        if max == 1 {
            fails_cleanly(&r, "resource temporarily unavailable", &hull, &id, &b);
        } else if r.code == 0 {
            assert_eq!(r.stdout.trim(), "ran");
            assert_no_leaks(&hull, &id, b.path());
        } else {
            fails_cleanly(&r, "resource temporarily unavailable", &hull, &id, &b);
        }
    }
}

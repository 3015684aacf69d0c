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

const STEPS: u32 = 60;

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
        let killed = sweep(STEPS, span, |d| attempt(Some(d)));
        eprintln!("{op}: {killed} of {STEPS} trials killed hull mid-way (span {span:?})");
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
        let killed = sweep(STEPS, span, |d| exec_trial(d, detach));
        eprintln!("exec (detach {detach}): {killed} of {STEPS} trials killed hull mid-way");
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
    let killed = sweep(STEPS, span, &mut delete_trial);
    eprintln!("delete -f: {killed} of {STEPS} trials killed hull mid-way");
    assert!(killed > 0);
}

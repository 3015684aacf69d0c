//! exec, pause/resume, ps and kill --all on running containers, as a shim drives them.

mod common;

use std::os::unix::process::CommandExt;
use std::time::Duration;

use common::{alive, assert_no_leaks, id, Bundle, Hull};
use serde_json::{json, Value};

/// A detached container running `sleep 1000` (or `args`), with its id.
fn running(hull: &Hull, b: &Bundle, prefix: &str) -> String {
    let id = id(prefix);
    hull.run_d(b, &id);
    id
}

fn cleanup(hull: &Hull, id: &str, b: &Bundle) {
    let r = hull.run(&["delete", "-f", id]);
    assert_eq!(r.code, 0, "delete -f: {}", r.stderr);
    assert_no_leaks(hull, id, b.path());
}

fn cgroup_pids(hull: &Hull, id: &str) -> Vec<i64> {
    let r = hull.run(&["ps", "--format", "json", id]);
    assert_eq!(r.code, 0, "ps: {}", r.stderr);
    let mut v: Vec<i64> = serde_json::from_str::<Vec<i64>>(&r.stdout).unwrap();
    v.sort();
    v
}

/// The pids in the container's pids cgroup, read from the cgroup files themselves.
fn pids_in_cgroup_files(id: &str) -> Vec<i64> {
    let candidates = [
        format!("/sys/fs/cgroup/pids/{id}/cgroup.procs"),
        format!("/sys/fs/cgroup/{id}/cgroup.procs"),
    ];
    let file = candidates
        .iter()
        .find(|f| std::path::Path::new(f).exists())
        .expect("container cgroup");
    let mut v: Vec<i64> = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn exec_output_exit_code_env_cwd_and_namespaces() {
    require_root!();
    let hull = Hull::default();
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.edit(|c| c["hostname"] = json!("box"));
    let id = running(&hull, &b, "exec");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    let r = hull.run(&[
        "exec",
        "-e",
        "FOO=bar",
        "--cwd",
        "/tmp",
        &id,
        "sh",
        "-c",
        "echo $FOO $(pwd) $(hostname) $HOME; ls /proc | grep -c '^[0-9]'; exit 7",
    ]);
    assert_eq!(r.code, 7, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "bar /tmp box /root", "{}", r.stdout);
    // The container's pid namespace: its init, the shell and ls, grep.
    assert!(
        lines[1].parse::<u32>().unwrap() <= 4,
        "exec does not see the container's pid namespace: {}",
        r.stdout
    );

    let missing = hull.run(&["exec", &id, "no-such-binary"]);
    assert_eq!(missing.code, 255, "runc's exit code for a failed exec");
    assert!(
        missing
            .stderr
            .contains("executable file not found in $PATH"),
        "{}",
        missing.stderr
    );
    let unknown = hull.run(&["exec", "no-such-container", "true"]);
    assert_eq!(unknown.code, 255);
    assert!(unknown.stderr.contains("container does not exist"));
    cleanup(&hull, &id, &b);

    // A stopped container refuses exec.
    let b2 = Bundle::new(&["true"]);
    let id2 = running(&hull, &b2, "exec-stopped");
    let _guard_id2 = common::DeleteOnPanic::new(&hull, &id2);
    hull.wait_status(&id2, "stopped");
    let r = hull.run(&["exec", &id2, "true"]);
    assert_eq!(r.code, 255);
    assert!(
        r.stderr.contains("cannot exec in a stopped container"),
        "{}",
        r.stderr
    );
    cleanup(&hull, &id2, &b2);
}

#[test]
fn exec_detached_writes_pid_file_and_joins_the_cgroup() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = running(&hull, &b, "execd");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    let pidfile = b.path().join("exec.pid");
    let r = hull.run_detached(&[
        "exec",
        "-d",
        "--pid-file",
        pidfile.to_str().unwrap(),
        &id,
        "sleep",
        "999",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pid: i64 = std::fs::read_to_string(&pidfile).unwrap().parse().unwrap();
    assert!(std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .unwrap()
        .starts_with("sleep\u{0}999"));
    let init = hull.state(&id)["pid"].as_i64().unwrap();
    let mut want = vec![init, pid];
    want.sort();
    assert_eq!(pids_in_cgroup_files(&id), want);
    // In every hierarchy, v1 and v2: the init (cloned into its cgroup2 directory, joined
    // the v1 ones itself) and the exec process alike.
    for p in [init, pid] {
        let cg = std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap();
        for line in cg.lines() {
            assert!(line.ends_with(&format!(":/{id}")), "{p}: {line}");
        }
    }
    assert_eq!(cgroup_pids(&hull, &id), want, "ps --format json");
    // The same namespaces as the init.
    for ns in ["mnt", "pid", "net", "ipc", "uts"] {
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap(),
            std::fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap(),
            "{ns} namespace"
        );
    }
    let table = hull.run(&["ps", &id]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.starts_with("UID"), "{}", table.stdout);
    assert!(table.stdout.contains("sleep 999"), "{}", table.stdout);
    assert_eq!(table.stdout.lines().count(), 3, "{}", table.stdout);
    cleanup(&hull, &id, &b);
    assert!(!alive(pid));
}

#[test]
fn exec_process_json_as_another_user_with_fewer_caps_and_the_seccomp_profile() {
    require_root!();
    let hull = Hull::default();
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    });
    let id = running(&hull, &b, "execp");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    let process = json!({
        "args": ["sh", "-c", "id -u; id -g; grep -E '^Cap(Eff|Bnd)' /proc/self/status; grep NoNewPrivs /proc/self/status; mkdir /tmp/x; echo mkdir=$?"],
        "cwd": "/",
        "env": ["PATH=/bin"],
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [5]},
        "noNewPrivileges": true,
        // A non-root user keeps effective capabilities across execve only through the
        // ambient set (which needs them inheritable and permitted).
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                         "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]}
    });
    let pfile = b.path().join("process.json");
    std::fs::write(&pfile, process.to_string()).unwrap();
    let r = hull.run(&["exec", "--process", pfile.to_str().unwrap(), &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(out[0], "1000");
    assert_eq!(out[1], "1000");
    // CAP_KILL is bit 5.
    assert_eq!(out[2], "CapEff:\t0000000000000020", "{}", r.stdout);
    assert_eq!(out[3], "CapBnd:\t0000000000000020", "{}", r.stdout);
    assert_eq!(out[4], "NoNewPrivs:\t1");
    assert_eq!(
        out[5], "mkdir=1",
        "the container's seccomp profile applies to exec"
    );
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);

    // --cap adds to the root process's sets, never to inheritable; --user switches.
    let r = hull.run(&[
        "exec",
        "--cap",
        "CAP_NET_RAW",
        &id,
        "grep",
        "-E",
        "Cap(Eff|Inh)",
        "/proc/self/status",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout, "CapInh:\t0000000000000000\nCapEff:\t0000000020002420\n",
        "spec's AUDIT_WRITE, KILL, NET_BIND_SERVICE plus NET_RAW (13)"
    );
    let r = hull.run(&["exec", "-u", "65534:65534", "-g", "7", &id, "id"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("uid=65534 gid=65534 groups=7"),
        "{}",
        r.stdout
    );
    cleanup(&hull, &id, &b);
}

#[test]
fn a_minimal_process_json_runs_as_root_with_the_containers_caps_and_home() {
    require_root!();
    let hull = Hull::default();
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.edit(|c| c["process"]["env"] = json!(["PATH=/bin", "FROMCONFIG=1"]));
    let id = running(&hull, &b, "execmin");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    // No user, env or capabilities: runc runs it as root, with HOME from passwd and the
    // config's capabilities (not all of root's).
    let pfile = b.path().join("process.json");
    std::fs::write(
        &pfile,
        r#"{"args": ["/bin/sh", "-c", "id -u; env; grep CapEff /proc/self/status"], "cwd": "/"}"#,
    )
    .unwrap();
    let r = hull.run(&["exec", "-p", pfile.to_str().unwrap(), &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(out[0], "0");
    assert!(out.contains(&"HOME=/root"), "{}", r.stdout);
    assert!(
        !r.stdout.contains("FROMCONFIG"),
        "not config.json's env: {}",
        r.stdout
    );
    assert_eq!(
        out.last().unwrap(),
        &"CapEff:\t0000000020000420",
        "{}",
        r.stdout
    );
    cleanup(&hull, &id, &b);
}

#[test]
fn cpu_affinity_resets_to_the_cgroup_and_exec_takes_initial_then_final() {
    require_root!();
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    if online.trim() == "0" {
        return eprintln!("skipped: one CPU, no affinity to change");
    }
    let hull = Hull::default();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = id("affinity");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    // hull itself pinned to CPU 0, as `taskset -c 0 hull ...` would.
    let pinned = |args: &[&str]| -> common::Run {
        let mut cmd = hull.cmd();
        cmd.args(args);
        // SAFETY: sched_setaffinity only, between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                let mut set = nix::sched::CpuSet::new();
                set.set(0).unwrap();
                nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
                    .map_err(std::io::Error::from)
            })
        };
        // Files, not pipes: the detached container inherits them.
        let (out, err) = (
            tempfile::NamedTempFile::new().unwrap(),
            tempfile::NamedTempFile::new().unwrap(),
        );
        let status = cmd
            .stdout(out.reopen().unwrap())
            .stderr(err.reopen().unwrap())
            .status()
            .unwrap();
        common::Run {
            code: status.code().unwrap_or(-1),
            stdout: std::fs::read_to_string(out.path()).unwrap(),
            stderr: std::fs::read_to_string(err.path()).unwrap(),
        }
    };
    let bundle = b.path().to_str().unwrap();
    let r = pinned(&["run", "-d", "-b", bundle, &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let own = |pid: &str| {
        let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        s.lines()
            .find(|l| l.starts_with("Cpus_allowed_list"))
            .unwrap()
            .to_string()
    };
    let init = hull.state(&id)["pid"].to_string();
    assert_eq!(
        own(&init),
        own("self"),
        "the init is not pinned as hull was"
    );
    let r = pinned(&[
        "exec",
        &id,
        "grep",
        "Cpus_allowed_list",
        "/proc/self/status",
    ]);
    assert_eq!(
        r.stdout,
        format!("{}\n", own("self")),
        "nor an exec: {}",
        r.stderr
    );

    let pfile = b.path().join("process.json");
    let process = json!({"args": ["grep", "Cpus_allowed_list", "/proc/self/status"], "cwd": "/",
                         "execCPUAffinity": {"initial": "0", "final": "1"}});
    std::fs::write(&pfile, process.to_string()).unwrap();
    let r = hull.run(&["--debug", "exec", "-p", pfile.to_str().unwrap(), &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "Cpus_allowed_list:\t1\n");
    assert!(
        r.stderr.contains(": affinity: 0x1\""),
        "initial: {}",
        r.stderr
    );
    cleanup(&hull, &id, &b);
}

#[test]
fn pause_blocks_exec_until_resume_and_a_paused_container_is_killed_whole() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sh", "-c", "sleep 1000 & while true; do sleep 1; done"]);
    let id = running(&hull, &b, "pause");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    assert_eq!(hull.run(&["pause", &id]).code, 0);
    assert_eq!(hull.status(&id), "paused");
    let list = hull.run(&["list", "-f", "json"]);
    let v: Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(v[0]["status"], "paused");
    let r = hull.run(&["exec", &id, "true"]);
    assert_eq!(r.code, 255);
    assert!(r.stderr.contains("paused"), "{}", r.stderr);
    let again = hull.run(&["pause", &id]);
    assert_ne!(again.code, 0, "pausing twice");
    assert_eq!(hull.run(&["resume", &id]).code, 0);
    assert_eq!(hull.status(&id), "running");
    assert_ne!(
        hull.run(&["resume", &id]).code,
        0,
        "resume of a running one"
    );
    let r = hull.run(&["exec", &id, "echo", "after"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "after\n"), "{}", r.stderr);

    // --ignore-paused: the exec waits in the frozen cgroup, and `resume` (which takes the
    // container's lock) lets it through.
    assert_eq!(hull.run(&["pause", &id]).code, 0);
    let waiting = hull
        .cmd()
        .args(["exec", "--ignore-paused", &id, "echo", "thawed"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let r = hull.run(&["resume", &id]);
    assert_eq!(r.code, 0, "resume while an exec waits: {}", r.stderr);
    let out = waiting.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "thawed\n");

    // A paused container goes with delete -f, every process with it.
    assert_eq!(hull.run(&["pause", &id]).code, 0);
    let pids = cgroup_pids(&hull, &id);
    assert!(pids.len() >= 2, "{pids:?}");
    cleanup(&hull, &id, &b);
    for p in pids {
        assert!(!alive(p), "{p} survived");
    }
}

#[test]
fn kill_all_signals_every_process() {
    require_root!();
    let hull = Hull::default();
    // sh as pid 1 ignores SIGTERM from outside its namespace; its children do not.
    let b = Bundle::new(&["sh", "-c", "sleep 1000 & sleep 1001 & wait"]);
    let id = running(&hull, &b, "killall");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    for _ in 0..100 {
        if cgroup_pids(&hull, &id).len() == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(cgroup_pids(&hull, &id).len(), 3);
    assert_eq!(hull.run(&["kill", &id, "TERM"]).code, 0);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(hull.status(&id), "running", "init alone ignores TERM");
    assert_eq!(cgroup_pids(&hull, &id).len(), 3);
    assert_eq!(hull.run(&["kill", "--all", &id, "15"]).code, 0);
    hull.wait_status(&id, "stopped");
    assert_eq!(cgroup_pids(&hull, &id), Vec::<i64>::new());
    let r = hull.run(&["kill", &id, "KILL"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("container not running"), "{}", r.stderr);
    cleanup(&hull, &id, &b);
}

#[test]
fn preserved_fds_reach_create_and_exec() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sh", "-c", "cat <&3; cat <&4 2>/dev/null || echo no-fd-4"]);
    let id = id("fds");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    let file = b.path().join("payload");
    std::fs::write(&file, "through fd 3\n").unwrap();
    let f = std::fs::File::open(&file).unwrap();
    let extra = std::fs::File::open(&file).unwrap();
    let (fd3, fd4) = (
        std::os::fd::AsRawFd::as_raw_fd(&f),
        std::os::fd::AsRawFd::as_raw_fd(&extra),
    );
    let mut cmd = hull.cmd();
    cmd.args([
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    // SAFETY: dup2 between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Through high numbers first: either source may already sit on 3 or 4.
            libc::dup2(fd3, 100);
            libc::dup2(fd4, 101);
            libc::dup2(100, 3);
            libc::dup2(101, 4);
            Ok(())
        });
    }
    let r: common::Run = cmd.output().unwrap().into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout, "through fd 3\nno-fd-4\n",
        "fd 4 was not asked for"
    );
    assert_no_leaks(&hull, &id, b.path());

    let b = Bundle::new(&["sleep", "1000"]);
    let id = running(&hull, &b, "execfds");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    std::fs::write(b.path().join("payload2"), "to exec\n").unwrap();
    let f2 = std::fs::File::open(b.path().join("payload2")).unwrap();
    let fd3 = std::os::fd::AsRawFd::as_raw_fd(&f2);
    let mut cmd = hull.cmd();
    cmd.args(["exec", "--preserve-fds", "1", &id, "sh", "-c", "cat <&3"]);
    // SAFETY: dup2 between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::dup2(fd3, 100);
            libc::dup2(100, 3);
            Ok(())
        });
    }
    let r: common::Run = cmd.output().unwrap().into();
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "to exec\n"),
        "{}",
        r.stderr
    );
    cleanup(&hull, &id, &b);
}

#[test]
fn socket_activation_fds_pass_with_listen_env() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sh", "-c", "echo $LISTEN_FDS $LISTEN_PID; cat <&3"]);
    let id = id("listen");
    let _guard = common::DeleteOnPanic::new(&hull, &id);
    let file = b.path().join("socket-standin");
    std::fs::write(&file, "activated\n").unwrap();
    // LISTEN_PID must be hull's own pid: the shell's, which exec keeps.
    let script = format!(
        "exec 3<{} && LISTEN_PID=$$ LISTEN_FDS=1 exec {} --root {} run --bundle {} {}",
        file.display(),
        common::HULL,
        hull.root.path().display(),
        b.path().display(),
        id
    );
    let r: common::Run = std::process::Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "1 1\nactivated\n");
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn foreground_exec_forwards_signals_and_run_keep_keeps_the_container() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sh", "-c", "echo done"]);
    let id = id("keep");
    let _guard = common::DeleteOnPanic::new(&hull, &id);
    let r = hull.run(&["run", "--keep", "--bundle", b.path().to_str().unwrap(), &id]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "done\n"), "{}", r.stderr);
    assert_eq!(hull.status(&id), "stopped", "--keep leaves it for delete");
    assert_eq!(hull.run(&["delete", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());

    let b = Bundle::new(&["sleep", "1000"]);
    let id = running(&hull, &b, "execsig");
    let _guard = common::DeleteOnPanic::new(&hull, &id);
    let script = common::term_trap_script(9);
    let (code, rest) =
        common::sigterm_when_ready(hull.cmd().args(["exec", &id, "sh", "-c", &script]));
    assert_eq!(rest, "got-term\n");
    assert_eq!(code, Some(9), "the process's exit code");
    assert_eq!(hull.status(&id), "running", "only the exec process got it");
    cleanup(&hull, &id, &b);
}

/// cgroup v2 only: once the init has moved to a sub-cgroup and a domain controller is
/// enabled below the container's cgroup, that cgroup can hold no process; an exec joins
/// the init's cgroup instead, as runc's does.
#[test]
fn exec_joins_the_inits_cgroup_where_the_containers_can_hold_no_process() {
    require_root!();
    if !std::path::Path::new("/sys/fs/cgroup/cgroup.subtree_control").exists() {
        eprintln!("skipped: needs a pure cgroup v2 host (the VM of integration/vm-tests.sh)");
        return;
    }
    let hull = Hull::default();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = running(&hull, &b, "execsub");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    let init = hull.state(&id)["pid"].as_i64().unwrap();
    let dir = std::path::PathBuf::from(format!("/sys/fs/cgroup/{id}"));
    std::fs::create_dir(dir.join("foo")).unwrap();
    std::fs::write(dir.join("foo/cgroup.procs"), init.to_string()).unwrap();
    std::fs::write(dir.join("cgroup.subtree_control"), "+memory").unwrap();
    let r = hull.run(&["exec", &id, "cat", "/proc/self/cgroup"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.trim_end().ends_with("/foo"), "{}", r.stdout);
    // Asked for explicitly, the container's cgroup gets no fallback: runc's error.
    let r = hull.run(&["exec", "--cgroup", "/", &id, "true"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains(" adding pid ") && r.stderr.contains("esource busy"),
        "{}",
        r.stderr
    );
    let r = hull.run(&["exec", "--cgroup", "foo", &id, "cat", "/proc/self/cgroup"]);
    assert!(
        r.code == 0 && r.stdout.trim_end().ends_with("/foo"),
        "{}",
        r.stderr
    );
    let r = hull.run(&["exec", "--cgroup", "..", &id, "true"]);
    assert!(
        r.code != 0 && r.stderr.contains("bad sub cgroup path"),
        "{}",
        r.stderr
    );
    cleanup(&hull, &id, &b);
}

/// cgroup v2 only: without a cgroup namespace the cgroup mount is a cgroup2 of its own,
/// the whole hierarchy, where the process finds its own cgroup by the path
/// /proc/self/cgroup names (runc's; an init may move itself elsewhere).
#[test]
fn without_a_cgroup_namespace_the_v2_mount_shows_the_whole_hierarchy() {
    require_root!();
    if !std::path::Path::new("/sys/fs/cgroup/cgroup.subtree_control").exists() {
        eprintln!("skipped: needs a pure cgroup v2 host (the VM of integration/vm-tests.sh)");
        return;
    }
    let r = common::run_in(
        |c| {
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "cgroup");
        },
        &[
            "sh",
            "-c",
            "test -d /sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup) && echo found",
        ],
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, "found\n"), "{}", r.stderr);
}

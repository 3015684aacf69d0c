//! Seccomp profiles applied to real containers: the blocked syscall really fails inside.

mod common;

use std::os::unix::fs::OpenOptionsExt;

use serde_json::json;

#[test]
fn denied_syscalls_fail_with_their_errno_and_kill_kills() {
    require_root!();
    let r = common::run_in(
        |c| {
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [
                    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                    {"names": ["sethostname"], "action": "SCMP_ACT_KILL_PROCESS"},
                    // Only fchmodat with mode 0o600 is refused (argument condition).
                    {"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                     "args": [{"index": 1, "value": 0o600, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                     "args": [{"index": 2, "value": 0o600, "op": "SCMP_CMP_EQ"}]}
                ]
            });
        },
        &["sh", "-c", "mkdir /dev/shm/d; echo mkdir=$?; touch /dev/shm/f; chmod 644 /dev/shm/f; echo c644=$?; chmod 600 /dev/shm/f; echo c600=$?; hostname h2; echo sethostname=$?"],
    );
    assert_eq!(r.code, 0, "{} / {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("Permission denied"), "{}", r.stderr);
    assert!(
        r.stdout.contains("mkdir=1") && r.stdout.contains("c644=0") && r.stdout.contains("c600=1"),
        "{}",
        r.stdout
    );
    // SIGSYS: 128 + 31.
    assert!(r.stdout.contains("sethostname=159"), "{}", r.stdout);
}

/// Without no_new_privs the filter is loaded early (while the capability to do so is
/// still there): nothing the runtime does after it may need a syscall the profile denies.
#[test]
fn a_profile_denying_close_range_without_no_new_privs_still_runs() {
    require_root!();
    let r = common::run_in(
        |c| {
            c["process"]["noNewPrivileges"] = json!(false);
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
            });
        },
        &["echo", "ran"],
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, "ran\n"), "{}", r.stderr);
}

#[test]
fn allow_list_profile_runs_a_shell() {
    require_root!();
    // Default deny with an allow list, as Docker's profile works.
    let names: Vec<&str> = vec![
        "read",
        "write",
        "openat",
        "open",
        "close",
        "fstat",
        "newfstatat",
        "stat",
        "lstat",
        "execve",
        "brk",
        "mmap",
        "munmap",
        "mprotect",
        "arch_prctl",
        "set_tid_address",
        "exit_group",
        "exit",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "getpid",
        "getppid",
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "ioctl",
        "fcntl",
        "dup2",
        "dup3",
        "wait4",
        "fork",
        "vfork",
        "clone",
        "clone3",
        "getcwd",
        "chdir",
        "uname",
        "prlimit64",
        "getrandom",
        "readlink",
        "access",
        "faccessat",
        "faccessat2",
        "setgroups",
        "setresgid",
        "setresuid",
        "capget",
        "capset",
        "prctl",
        "close_range",
        "getdents64",
        "futex",
        "set_robust_list",
        "rseq",
        "pipe",
        "pipe2",
        "lseek",
        "sysinfo",
        "poll",
        "ppoll",
        "pread64",
        "statx",
    ];
    let r = common::run_in(
        |c| c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]}),
        &[
            "sh",
            "-c",
            "echo allowed; hostname newname; echo hostname=$?",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("allowed") && r.stdout.contains("hostname=1"),
        "{} / {}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stderr.contains("not implemented"),
        "ENOSYS from sethostname: {}",
        r.stderr
    );
}

/// A seccomp agent, as the runtime spec describes one: it accepts one connection on
/// `listenerPath`, reads the container process state with the listener fd, and answers
/// every notified syscall with `errno`. Returns the state it was sent and how many
/// syscalls it answered, once the container's processes are gone.
fn agent(
    listener: std::os::unix::net::UnixListener,
    errno: i32,
) -> std::thread::JoinHandle<(serde_json::Value, u32)> {
    use std::os::fd::{AsFd, AsRawFd};
    std::thread::spawn(move || {
        let (fd, text) = common::accept_fd(&listener);
        let state: serde_json::Value = serde_json::from_slice(&text).unwrap();
        // struct seccomp_notif (80 bytes) and seccomp_notif_resp (24 bytes).
        const NOTIF_RECV: u64 = 0xc050_2100;
        const NOTIF_SEND: u64 = 0xc018_2101;
        let mut answered = 0;
        loop {
            let mut p = [nix::poll::PollFd::new(
                fd.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            if nix::poll::poll(&mut p, nix::poll::PollTimeout::from(10_000u16)).unwrap() == 0 {
                break;
            }
            let rev = p[0].revents().unwrap();
            if !rev.contains(nix::poll::PollFlags::POLLIN) {
                break; // POLLHUP: no process uses the filter any more
            }
            let mut req = [0u64; 10];
            // SAFETY: a buffer of the struct's size.
            if unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_RECV, req.as_mut_ptr()) } != 0 {
                continue;
            }
            let resp: [u64; 3] = [req[0], 0, (-errno) as u32 as u64];
            // SAFETY: a buffer of the struct's size.
            unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_SEND, resp.as_ptr()) };
            answered += 1;
        }
        (state, answered)
    })
}

/// SCMP_ACT_NOTIFY: the listener reaches the agent at `listenerPath` with the container
/// process state, and the agent's answer is what the container sees (errno 42, where the
/// kernel itself would say EROFS on this read-only rootfs). Also for `exec`.
#[test]
fn notify_hands_the_listener_to_the_agent_which_answers_the_syscall() {
    require_root!();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let hull = common::Hull::default();
    let mut b = common::Bundle::new(&["sh", "-c", "mkdir /made; echo rc=$?; sleep 1000"]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "listenerMetadata": "hull-test",
            // WAIT_KILLABLE_RECV is 5.19+: dropped where the kernel lacks it (the VM's 6.1).
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_LOG",
                      "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        })
    });
    let id = common::id("notify");
    let _g = common::DeleteOnPanic::new(&hull, &id);

    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let init_agent = agent(listener.try_clone().unwrap(), 42);
    let out = dir.path().join("out");
    let out_file = std::fs::File::create(&out).unwrap();
    let r = hull
        .cmd()
        .args(["run", "-d", "--bundle", b.path().to_str().unwrap(), &id])
        .stdout(out_file.try_clone().unwrap())
        .stderr(out_file)
        .status()
        .unwrap();
    assert!(r.success(), "{}", std::fs::read_to_string(&out).unwrap());
    let pid = hull.state(&id)["pid"].as_i64().unwrap();
    for _ in 0..500 {
        if std::fs::read_to_string(&out).unwrap().contains("rc=") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let output = std::fs::read_to_string(&out).unwrap();
    assert!(output.contains("rc=1"), "{output}");
    assert!(output.contains("No message of desired type"), "{output}");

    // exec gets the same filter, and its listener goes to the agent too.
    let exec_agent = agent(listener, 42);
    let r = hull.run(&["exec", &id, "sh", "-c", "mkdir /again; echo rc=$?"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "rc=1");
    assert!(
        r.stderr.contains("No message of desired type"),
        "{}",
        r.stderr
    );
    let (exec_state, exec_answered) = exec_agent.join().unwrap();
    assert_eq!(exec_state["fds"], json!(["seccompFd"]));
    assert_eq!(exec_state["state"]["status"], "running");
    assert!(exec_answered >= 1);

    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    let (state, answered) = init_agent.join().unwrap();
    assert_eq!(state["fds"], json!(["seccompFd"]), "{state}");
    assert_eq!(state["pid"], pid, "{state}");
    assert_eq!(state["metadata"], "hull-test");
    assert_eq!(state["state"]["id"], id.as_str());
    assert_eq!(state["state"]["status"], "creating");
    assert!(answered >= 1);
    common::assert_no_leaks(&hull, &id, b.path());
}

/// NOTIFY with no listenerPath is refused before anything is made.
#[test]
fn notify_without_listener_path_is_refused() {
    require_root!();
    let hull = common::Hull::default();
    let mut b = common::Bundle::new(&["true"]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
        })
    });
    let id = common::id("nolistener");
    let r = hull.run_container(&b, &id);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("listenerPath"), "{}", r.stderr);
    common::assert_no_leaks(&hull, &id, b.path());
}

/// SCMP_ACT_LOG: the syscall goes through and the kernel logs it (an audit record of type
/// 1326, SECCOMP, in the kernel log when no audit daemon takes it).
#[test]
fn log_lets_the_syscall_through_and_logs_it() {
    require_root!();
    let logged =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_logged").unwrap_or_default();
    if !logged.split_whitespace().any(|a| a == "log") {
        eprintln!("skipped: the kernel does not log SECCOMP_RET_LOG (actions_logged)");
        return;
    }
    use std::io::{Read, Seek};
    let mut kmsg = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
        .unwrap();
    kmsg.seek(std::io::SeekFrom::End(0)).unwrap();
    // uname(2) is 63 on x86_64; the process is named after a unique applet path.
    let r = common::run_in(
        |c| {
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_LOG"}]
            })
        },
        &["uname", "-s"],
    );
    assert_eq!((r.code, r.stdout.trim()), (0, "Linux"), "{}", r.stderr);
    let mut found = false;
    let mut buf = vec![0u8; 8192];
    // One record per read; EAGAIN once the log is drained.
    while let Ok(n) = kmsg.read(&mut buf) {
        let line = String::from_utf8_lossy(&buf[..n]);
        if line.contains("type=1326")
            && line.contains("comm=\"uname\"")
            && line.contains("syscall=63")
        {
            found = true;
        }
    }
    assert!(found, "no seccomp audit record for uname in the kernel log");
}

/// Docker's default profile (seccomp/testdata, in OCI form) on a real container: a shell
/// works, and unshare(CLONE_NEWUSER), which the profile leaves to its default EPERM, fails
/// where without the profile it succeeds.
#[test]
fn dockers_default_profile_runs_a_shell_and_blocks_unshare() {
    require_root!();
    let script = "ls / > /dev/null && echo shell-ok; unshare -U true; echo unshare=$?";
    let profile: serde_json::Value = serde_json::from_str(include_str!(
        "../seccomp/testdata/docker-default-x86_64.json"
    ))
    .unwrap();
    let r = common::run_in(|_| {}, &["sh", "-c", script]);
    assert!(
        r.stdout.contains("unshare=0"),
        "without the profile: {}",
        r.stdout
    );
    let r = common::run_in(
        |c| c["linux"]["seccomp"] = profile.clone(),
        &["sh", "-c", script],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("shell-ok"), "{}", r.stdout);
    assert!(r.stdout.contains("unshare=1"), "{}", r.stdout);
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);
}

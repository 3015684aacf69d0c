//! Seccomp profiles applied to real containers: the blocked syscall really fails inside.

mod common;

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

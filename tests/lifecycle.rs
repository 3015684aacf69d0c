//! create / start / state / list / kill / delete / run, as a user and containerd see them.

mod common;

use common::{assert_no_leaks, id, Bundle, Hull};
use serde_json::Value;

#[test]
fn create_start_kill_delete() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = id("life");
    let pidfile = b.path().join("init.pid");
    let r = hull.create_with(&b, &id, &["--pid-file", pidfile.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let st = hull.state(&id);
    let pid = st["pid"].as_i64().unwrap();
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(
        st["bundle"],
        b.path().canonicalize().unwrap().to_str().unwrap()
    );
    assert!(st["ociVersion"].as_str().unwrap().starts_with("1."));
    assert!(st["created"].as_str().unwrap().ends_with('Z'));
    // runc writes the pid with no newline.
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    // Before start the init is ours, not the container's program yet.
    assert!(!std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .unwrap()
        .starts_with("sleep"));

    assert_eq!(hull.run_detached(&["start", &id]).code, 0);
    assert_eq!(hull.status(&id), "running");
    assert!(std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .unwrap()
        .starts_with("sleep\u{0}1000"));
    let again = hull.run(&["start", &id]);
    assert_ne!(again.code, 0);
    assert!(
        again
            .stderr
            .contains("cannot start an already running container"),
        "{}",
        again.stderr
    );

    let del = hull.run(&["delete", &id]);
    assert_ne!(del.code, 0);
    assert!(
        del.stderr.contains("is not stopped: running"),
        "{}",
        del.stderr
    );

    assert_eq!(hull.run(&["kill", &id, "KILL"]).code, 0);
    hull.wait_status(&id, "stopped");
    assert_eq!(hull.state(&id)["pid"], 0);
    let k = hull.run(&["kill", &id, "TERM"]);
    assert!(
        k.code != 0 && k.stderr.contains("container not running"),
        "{}",
        k.stderr
    );
    assert_eq!(hull.run(&["delete", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
    let gone = hull.run(&["state", &id]);
    assert!(
        gone.code != 0 && gone.stderr.contains("does not exist"),
        "{}",
        gone.stderr
    );
    // containerd deletes twice: the second, forced, must succeed silently.
    let again = hull.run(&["delete", "--force", &id]);
    assert_eq!((again.code, again.stderr.as_str()), (0, ""));
}

#[test]
fn run_foreground_output_and_exit_codes() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let id = id("fg");
    let r = hull.run_container(&b, &id);
    assert_eq!(r.code, 3);
    assert_eq!(r.stdout, "out\n");
    assert_eq!(r.stderr, "err\n");
    assert_no_leaks(&hull, &id, b.path());

    // Killed by a signal: 128 + signal, as a shell reports it.
    let b = Bundle::new(&["sleep", "1000"]);
    let id2 = common::id("fg");
    let child = hull
        .cmd()
        .args(["run", "--bundle", b.path().to_str().unwrap(), &id2])
        .spawn()
        .unwrap();
    let pid_file = hull.state_dir(&id2).join("state.json");
    while !pid_file.exists() || hull.status(&id2) != "running" {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(hull.run(&["kill", &id2, "KILL"]).code, 0);
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(137));
    assert_no_leaks(&hull, &id2, b.path());
}

#[test]
fn run_forwards_signals() {
    require_root!();
    let hull = Hull::default();
    let script = common::term_trap_script(7);
    let b = Bundle::new(&["sh", "-c", &script]);
    let id = id("sig");
    let (code, rest) = common::sigterm_when_ready(hull.cmd().args([
        "run",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]));
    assert_eq!(rest, "got-term\n");
    assert_eq!(code, Some(7));
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn run_detached_then_list_and_delete_force() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = id("bg");
    hull.run_d(&b, &id);
    assert_eq!(hull.status(&id), "running");

    let table = hull.run(&["list"]);
    let mut lines = table.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(row[0], id);
    assert_eq!(row[2], "running");
    assert_eq!(row[5], "root");
    let json: Value =
        serde_json::from_str(&hull.run(&["list", "--format", "json"]).stdout).unwrap();
    assert_eq!(json[0]["id"], id.as_str());
    assert_eq!(json[0]["status"], "running");
    assert_eq!(hull.run(&["list", "-q"]).stdout, format!("{id}\n"));

    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
    assert_eq!(
        hull.run(&["list", "--format", "json"]).stdout.trim(),
        "null"
    );
}

#[test]
fn kill_accepts_names_numbers_and_rejects_junk() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&[
        "sh",
        "-c",
        "trap 'echo usr1 > /dev/shm/x' USR1; while :; do sleep 0.05; done",
    ]);
    let id = id("kill");
    assert_eq!(hull.create(&b, &id).code, 0);
    assert_eq!(hull.run_detached(&["start", &id]).code, 0);
    for bad in ["SIGNOPE", "999"] {
        let r = hull.run(&["kill", &id, bad]);
        assert!(
            r.code != 0 && r.stderr.contains("unknown signal"),
            "{bad}: {}",
            r.stderr
        );
    }
    assert_eq!(hull.status(&id), "running");
    assert_eq!(hull.run(&["kill", &id, "0"]).code, 0, "0: is it alive");
    // containerd sends numbers.
    assert_eq!(hull.run(&["kill", &id, "9"]).code, 0);
    hull.wait_status(&id, "stopped");
    // As runc: the stopped one refuses a signal, even 0, but `--all` has nothing to do.
    for sig in ["0", "TERM"] {
        let r = hull.run(&["kill", &id, sig]);
        assert!(
            r.code != 0 && r.stderr.contains("container not running"),
            "{sig}: {}",
            r.stderr
        );
    }
    assert_eq!(hull.run(&["kill", "--all", &id, "TERM"]).code, 0);
    let r = hull.run(&["kill", "no-such-id", "SIGNOPE"]);
    assert!(
        r.stderr.contains("does not exist"),
        "the id is checked first: {}",
        r.stderr
    );
    assert_eq!(hull.run(&["delete", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn delete_created_container_kills_its_init() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["true"]);
    let id = id("delc");
    assert_eq!(hull.create(&b, &id).code, 0);
    let pid = hull.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(hull.run(&["delete", &id]).code, 0);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap()
                .contains(") Z")
    );
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn json_log_gets_one_error_line() {
    require_root!();
    let hull = Hull::default();
    let log = hull.root.path().join("log.json");
    let r = hull
        .cmd()
        .args([
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "state",
            "nope",
        ])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 1);
    let line: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(line["level"], "error");
    assert_eq!(line["msg"], "container does not exist");
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
    // podman's form: --log-format=json.
    let r = hull
        .cmd()
        .args([
            "--log-format=json",
            &format!("--log={}", log.display()),
            "kill",
            "nope",
            "9",
        ])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
}

/// Where O_TMPFILE is missing (overlayfs before 6.6) every pid file goes through a named
/// temporary, named after the pid it holds: one that a killed create left goes with
/// `delete`, and the temporary of another pid stays.
#[test]
fn delete_removes_a_pid_file_and_a_temporary_left_of_it() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["true"]);
    let id = id("pidtmp");
    let _g = common::DeleteOnPanic::new(&hull, &id);
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let r = hull.create_with(&b, &id, &["--pid-file", pid_file.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(pid, hull.state(&id)["pid"].to_string());
    let temp = dir.path().join(format!(".pid.{pid}"));
    std::fs::write(&temp, &pid).unwrap();
    let other = dir.path().join(".pid.1");
    std::fs::write(&other, "1").unwrap();
    assert_eq!(hull.run(&["delete", &id]).code, 0);
    assert!(
        !pid_file.exists() && !temp.exists(),
        "pid file or its temporary left"
    );
    assert!(other.exists(), "a temporary of another pid was removed");
    assert_no_leaks(&hull, &id, b.path());
}

/// A created container's init is pid 1 of its namespace, which drops signals it has no
/// handler for: `kill TERM` must still end it (runc's does), not only KILL.
#[test]
fn sigterm_ends_a_created_container() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["true"]);
    let id = id("termcreated");
    let _g = common::DeleteOnPanic::new(&hull, &id);
    assert_eq!(hull.create(&b, &id).code, 0);
    assert_eq!(hull.run(&["kill", &id, "TERM"]).code, 0);
    hull.wait_status(&id, "stopped");
    assert_eq!(hull.run(&["delete", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

/// A foreground `run --pid-file` leaves the file when it deletes its container (runc does;
/// scripts read it afterwards).
#[test]
fn foreground_run_keeps_its_pid_file() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sh", "-c", "echo $$"]);
    let id = id("runpid");
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let bundle = b.path().to_str().unwrap();
    let r = hull.run(&[
        "run",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "-b",
        bundle,
        &id,
    ]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "1\n"), "{}", r.stderr);
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(pid > 1, "the init's pid on the host: {pid}");
    assert_no_leaks(&hull, &id, b.path());
}

/// `features` (runc's, the runtime spec's features.md): what a caller checks before it
/// generates a config.
#[test]
fn features_report_what_hull_supports() {
    let hull = Hull::default();
    let r = hull.run(&["features"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let f: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert_eq!(f["hooks"].as_array().unwrap().len(), 6, "{f}");
    let has = |v: &serde_json::Value, item: &str| {
        v.as_array()
            .unwrap_or_else(|| panic!("{v} is not a list"))
            .iter()
            .any(|x| x == item)
    };
    for opt in [
        "rbind",
        "rro",
        "idmap",
        "ridmap",
        "tmpcopyup",
        "nosymfollow",
    ] {
        assert!(has(&f["mountOptions"], opt), "{opt} not in mountOptions");
    }
    let linux = &f["linux"];
    assert!(has(&linux["namespaces"], "time"));
    assert!(has(&linux["capabilities"], "CAP_SYS_ADMIN"));
    assert_eq!(linux["cgroup"]["v2"], true);
    assert_eq!(linux["cgroup"]["systemd"], true);
    let sc = &linux["seccomp"];
    assert!(has(&sc["actions"], "SCMP_ACT_NOTIFY"));
    assert!(has(&sc["operators"], "SCMP_CMP_MASKED_EQ"));
    assert!(has(&sc["archs"], "SCMP_ARCH_X86_64") && has(&sc["archs"], "SCMP_ARCH_S390X"));
    assert!(
        !has(&sc["archs"], "SCMP_ARCH_LOONGARCH64"),
        "no table for it"
    );
    for flag in sc["supportedFlags"].as_array().unwrap() {
        assert!(has(&sc["knownFlags"], flag.as_str().unwrap()), "{flag}");
    }
    assert!(has(
        &f["potentiallyUnsafeConfigAnnotations"],
        "org.systemd.property."
    ));
    assert_eq!(
        f["annotations"]["org.hull.version"],
        env!("CARGO_PKG_VERSION")
    );
}

//! Bad input and wrong states: one clear line on stderr, exit 1, and nothing left behind.

mod common;

use common::{assert_no_leaks, id, Bundle, Hull};
use serde_json::json;

/// Creates `b` as a fresh id, expects failure with `phrase`, checks nothing leaked.
fn fails_cleanly(hull: &Hull, b: &Bundle, phrase: &str) {
    let id = id("bad");
    let r = hull.create(b, &id);
    assert_eq!(
        r.code,
        1,
        "expected failure, got {r:?}",
        r = (r.code, &r.stderr)
    );
    assert!(
        r.stderr.starts_with("hull create failed: ") && r.stderr.trim_end().lines().count() == 1,
        "one line: {:?}",
        r.stderr
    );
    assert!(
        r.stderr.contains(phrase),
        "{phrase:?} not in {:?}",
        r.stderr
    );
    assert_no_leaks(hull, &id, b.path());
    assert!(
        std::fs::read_dir(hull.root.path())
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "state root not empty"
    );
}

#[test]
fn missing_and_malformed_config() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["true"]);
    std::fs::remove_file(b.path().join("config.json")).unwrap();
    fails_cleanly(&hull, &b, "config.json not found");
    std::fs::write(
        b.path().join("config.json"),
        "{\"ociVersion\": \"1.0.2\", \"process\": ",
    )
    .unwrap();
    fails_cleanly(&hull, &b, "invalid config");
    std::fs::write(b.path().join("config.json"), "[]").unwrap();
    fails_cleanly(&hull, &b, "invalid config");
}

#[test]
fn invalid_fields_are_named() {
    require_root!();
    let hull = Hull::default();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "ociVersion",
            Box::new(|c| c["ociVersion"] = json!("invalid")),
        ),
        (
            "process.args",
            Box::new(|c| c["process"]["args"] = json!([])),
        ),
        (
            "process.cwd",
            Box::new(|c| c["process"]["cwd"] = json!("relative")),
        ),
        (
            "root.path",
            Box::new(|c| c["root"]["path"] = json!("/no/such/rootfs")),
        ),
        (
            // Found missing at its turn (an earlier mount could have made it), and undone.
            "error mounting \"/no/such/src\" to rootfs at \"/x\": stat: no such file or directory",
            Box::new(|c| {
                c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/x", "type": "bind", "source": "/no/such/src", "options": ["bind"]}))
            }),
        ),
        (
            "mounts[",
            Box::new(|c| {
                c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/x", "type": "bind", "source": "/etc/passwd/src", "options": ["bind"]}))
            }),
        ),
        (
            "process.user.uid: invalid value: integer `-1`",
            Box::new(|c| c["process"]["user"]["uid"] = json!(-1)),
        ),
        (
            "linux.namespaces[0].type: unknown variant `pi\\nd`",
            Box::new(|c| c["linux"]["namespaces"][0]["type"] = json!("pi\nd")),
        ),
        (
            "mounts[0].destination: contains a NUL byte",
            Box::new(|c| c["mounts"][0]["destination"] = json!("/pr\u{0}oc")),
        ),
        (
            "hooks.prestart[0].timeout 0 must be greater than zero",
            Box::new(|c| c["hooks"] = json!({"prestart": [{"path": "/bin/true", "timeout": 0}]})),
        ),
        (
            "process.rlimits[1].type: RLIMIT_NOFILE is listed twice",
            Box::new(
                |c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 5, "hard": 5}, {"type": "RLIMIT_NOFILE", "soft": 6, "hard": 6}]),
            ),
        ),
        (
            "hostname[0][0][0]",
            Box::new(|c| {
                let mut deep = json!(1);
                for _ in 0..200 {
                    deep = json!([deep]);
                }
                c["hostname"] = deep;
            }),
        ),
        (
            "listed twice",
            Box::new(|c| {
                c["linux"]["namespaces"] =
                    json!([{"type": "pid"}, {"type": "pid"}, {"type": "mount"}])
            }),
        ),
        (
            "rlimits[0]",
            Box::new(|c| {
                c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}])
            }),
        ),
        (
            "not in a separate kernel namespace",
            Box::new(|c| c["linux"]["sysctl"] = json!({"kernel.core_pattern": "|/tmp/x"})),
        ),
    ];
    for (phrase, edit) in cases {
        let mut b = Bundle::new(&["true"]);
        b.edit(|c| edit(c));
        fails_cleanly(&hull, &b, phrase);
    }
}

#[test]
fn a_failed_execve_after_start_prints_runcs_one_line() {
    require_root!();
    let b = Bundle::with_own_rootfs(&["/run.sh"]);
    let script = b.rootfs().join("run.sh");
    std::fs::write(&script, "#!/no/such/interpreter\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    b.save();
    let hull = Hull::default();
    let id = common::id("execve");
    let r = hull.run_container(&b, &id);
    assert_ne!(r.code, 0);
    assert_eq!(r.stderr, "exec /run.sh: no such file or directory\n");
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

/// A label for a security module the host does not run is refused before anything is
/// made (runc's rule), never dropped; with the module on, the plan carries it to the
/// child (the VM tests exercise that).
#[test]
fn a_security_label_the_host_cannot_apply_is_refused() {
    require_root!();
    let hull = Hull::default();
    let apparmor = std::path::Path::new("/sys/kernel/security/apparmor").exists()
        && std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|s| s.starts_with('Y'));
    if !apparmor {
        let mut b = Bundle::new(&["true"]);
        b.edit(|c| c["process"]["apparmorProfile"] = json!("docker-default"));
        fails_cleanly(
            &hull,
            &b,
            "unable to apply apparmor profile \"docker-default\": AppArmor is not enabled on the host",
        );
        let b = Bundle::new(&["sleep", "1000"]);
        let id = id("aaexec");
        let _g = common::DeleteOnPanic::new(&hull, &id);
        hull.run_d(&b, &id);
        let r = hull.run(&["exec", "--apparmor", "docker-default", &id, "true"]);
        assert_eq!(r.code, 255);
        assert!(r.stderr.contains("AppArmor is not enabled"), "{}", r.stderr);
        assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
        assert_no_leaks(&hull, &id, b.path());
    }
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        let mut b = Bundle::new(&["true"]);
        b.edit(|c| c["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0"));
        fails_cleanly(
            &hull,
            &b,
            "selinux label is specified in config, but selinux is disabled",
        );
        // A mount label goes to the kernel as `context=` whatever the host runs (runc
        // does so): without SELinux the /dev tmpfs refuses it.
        let mut b = Bundle::new(&["true"]);
        b.edit(|c| c["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0"));
        fails_cleanly(&hull, &b, "mount tmpfs on /dev: invalid argument");
    }
}

#[test]
fn missing_executable_has_podman_phrases() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["/no/such/binary"]);
    fails_cleanly(&hull, &b, "no such file or directory");
    let b = Bundle::new(&["nosuchcommand"]);
    fails_cleanly(&hull, &b, "executable file not found in $PATH");
    let b = Bundle::new(&["/etc/passwd"]);
    fails_cleanly(&hull, &b, "permission denied");
}

#[test]
fn failing_hooks_fail_create_and_clean_up() {
    require_root!();
    let hull = Hull::default();
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let mut b = Bundle::new(&["true"]);
        b.edit(|c| c["hooks"] = json!({kind: [{"path": "/bin/sh", "args": ["sh", "-c", "echo hook-broke >&2; exit 2"]}]}));
        fails_cleanly(
            &hull,
            &b,
            &format!("error running {kind} hook #0: exit status 2, stdout: , stderr: hook-broke"),
        );
    }
}

#[test]
fn a_failing_poststart_hook_fails_run_and_a_signalled_hook_is_named_as_runc_does() {
    require_root!();
    let hull = Hull::default();
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.edit(|c| {
        c["hooks"] =
            json!({"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "kill -SYS $$"]}]})
    });
    let id = id("poststart");
    let r = hull.run_detached(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("error running poststart hook #0: signal: bad system call"),
        "{}",
        r.stderr
    );
    // runc kills and deletes the container it could not start as asked.
    assert!(!hull.state_dir(&id).exists());
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn duplicate_and_invalid_ids() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sleep", "100"]);
    let id = id("dup");
    assert_eq!(hull.create(&b, &id).code, 0);
    let r = hull.create(&b, &id);
    assert!(
        r.code == 1 && r.stderr.contains("already exists"),
        "{}",
        r.stderr
    );
    assert_eq!(
        hull.status(&id),
        "created",
        "the first container is untouched"
    );
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
    for bad in ["../escape", "a/b", "", "..", &"x".repeat(300), "new\nline"] {
        let r = hull.create(&b, bad);
        assert!(
            r.code == 1 && r.stderr.contains("invalid container id"),
            "{bad:?}: {}",
            r.stderr
        );
    }
    assert_eq!(std::fs::read_dir(hull.root.path()).unwrap().count(), 0);
}

#[test]
fn commands_on_unknown_ids() {
    require_root!();
    let hull = Hull::default();
    for cmd in [
        &["start", "nope"][..],
        &["state", "nope"],
        &["kill", "nope"],
        &["delete", "nope"],
    ] {
        let r = hull.run(cmd);
        assert!(
            r.code == 1 && r.stderr.contains("container does not exist"),
            "{cmd:?}: {}",
            r.stderr
        );
    }
}

#[test]
fn start_after_exit_fails() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["true"]);
    let id = id("once");
    assert_eq!(hull.create(&b, &id).code, 0);
    assert_eq!(hull.run_detached(&["start", &id]).code, 0);
    hull.wait_status(&id, "stopped");
    let r = hull.run(&["start", &id]);
    assert!(
        r.code == 1
            && r.stderr
                .contains("cannot start a container that has stopped"),
        "{}",
        r.stderr
    );
    assert_eq!(hull.run(&["delete", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn corrupt_state_is_reported_and_removed_by_force() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["true"]);
    let (good, bad) = (id("good"), id("corrupt"));
    assert_eq!(hull.create(&b, &good).code, 0);
    std::fs::create_dir(hull.state_dir(&bad)).unwrap();
    std::fs::write(hull.state_dir(&bad).join("state.json"), "{garbage").unwrap();
    let r = hull.run(&["state", &bad]);
    assert!(
        r.code == 1 && r.stderr.contains("corrupt state file"),
        "{}",
        r.stderr
    );
    assert_eq!(
        hull.run(&["list", "-q"]).stdout,
        format!("{good}\n"),
        "list still lists the others"
    );
    assert_eq!(hull.run(&["delete", "-f", &bad]).code, 0);
    assert!(!hull.state_dir(&bad).exists());
    assert_eq!(hull.run(&["delete", "-f", &good]).code, 0);
    assert_no_leaks(&hull, &good, b.path());
}

#[test]
fn child_failing_before_its_cgroup_is_ready_reports_its_step() {
    require_root!();
    let hull = Hull::default();
    let mut b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().insert(
            0,
            json!({"destination": "/x", "type": "nosuchfs", "source": "none"}),
        )
    });
    fails_cleanly(&hull, &b, "mount nosuchfs on /x: no such device");
}

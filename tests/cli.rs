//! The command line as runc users and runc's suite read it: help layout, `-v`, unknown
//! commands, `list` with a missing root, and `--debug` output.

mod common;

use std::process::Command;

use common::{Bundle, Hull, Run, HULL};

/// hull run under another name (a drop-in install as `runc`): a symlink in a temp dir.
fn renamed(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join(name);
    std::os::unix::fs::symlink(HULL, &link).unwrap();
    (dir, link)
}

fn output(bin: &std::path::Path, args: &[&str]) -> Run {
    Command::new(bin).args(args).output().unwrap().into()
}

#[test]
fn help_has_runcs_name_lines_under_the_binarys_name() {
    let (_dir, runc) = renamed("runc");
    for flag in ["-h", "--help"] {
        let r = output(&runc, &[flag]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(lines[0], "NAME:");
        assert_eq!(lines[1], "   runc - Open Container Initiative runtime");
        for cmd in [
            "create", "delete", "exec", "kill", "list", "run", "update", "features",
        ] {
            let r = output(&runc, &[cmd, flag]);
            assert_eq!(r.code, 0, "{cmd} {flag}: {}", r.stderr);
            let lines: Vec<&str> = r.stdout.lines().collect();
            assert_eq!(lines[0], "NAME:", "{cmd}");
            assert!(
                lines[1].starts_with(&format!("   runc {cmd} - ")),
                "{cmd}: {}",
                lines[1]
            );
        }
    }
    let r = output(std::path::Path::new(HULL), &["start", "-h"]);
    assert!(r
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("   hull start - "));
}

#[test]
fn version_prints_name_commit_and_spec() {
    let (_dir, runc) = renamed("runc");
    for flag in ["-v", "--version"] {
        let r = output(&runc, &[flag]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(
            lines[0],
            format!("runc version {}", env!("CARGO_PKG_VERSION"))
        );
        assert!(lines[1].starts_with("commit: "), "{}", r.stdout);
        assert_eq!(lines[2], "spec: 1.2.1");
    }
    // `features` claims the version `--version` names, no other.
    let r = output(std::path::Path::new(HULL), &["features"]);
    let f: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(f["ociVersionMax"], "1.2.1");
}

#[test]
fn an_unknown_command_has_no_help_topic() {
    for args in [&["foo", "-h"][..], &["foo"]] {
        let r = output(std::path::Path::new(HULL), args);
        assert_eq!(r.code, 1);
        assert_eq!(r.stderr, "hull: No help topic for 'foo'\n");
    }
}

#[test]
fn list_fails_on_a_missing_root_the_user_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none");
    let r: Run = Command::new(HULL)
        .arg("--root")
        .arg(&missing)
        .arg("list")
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no such file or directory"),
        "{}",
        r.stderr
    );
    assert!(!missing.exists(), "list creates nothing");
}

#[test]
fn debug_names_the_launch_stages_on_stderr_or_in_the_log() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["echo", "hi"]);
    let stages = [
        "nsexec container setup",
        "child process in init()",
        "init: closing the pipe to signal completion",
    ];
    let id = common::id("debug");
    let r = hull.run(&["--debug", "run", "-b", b.path().to_str().unwrap(), &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "hi\n");
    assert!(r.stderr.contains("level=debug"), "{}", r.stderr);
    for s in stages {
        assert!(r.stderr.contains(s), "{s}: {}", r.stderr);
    }

    let log = b.path().join("log.json");
    let id = common::id("debug");
    let log_arg = log.to_str().unwrap();
    let args = [
        "--debug",
        "--log",
        log_arg,
        "--log-format",
        "json",
        "run",
        "-b",
    ];
    let r = hull.run(&[&args[..], &[b.path().to_str().unwrap(), &id]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("debug"), "the log has it: {}", r.stderr);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(r#""level":"debug""#), "{text}");
    for s in stages {
        assert!(text.contains(s), "{s}: {text}");
    }

    let b = Bundle::new(&["sleep", "1000"]);
    let id = common::id("debugexec");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    hull.run_d(&b, &id);
    let r = hull.run(&["--debug", "exec", &id, "true"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for s in [
        "nsexec container setup",
        "child process in init()",
        "setns_init: about to exec",
    ] {
        assert!(r.stderr.contains(s), "{s}: {}", r.stderr);
    }
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    common::assert_no_leaks(&hull, &id, b.path());
}

fn install(args: &[&str]) -> Run {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install.sh");
    Command::new("bash")
        .arg(script)
        .args(args)
        .env("HULL_BIN", HULL)
        .output()
        .unwrap()
        .into()
}

/// scripts/install.sh puts what a packaged runtime ships under the prefix: the binary,
/// that runs; a man page per command, that `man` renders with its synopsis; completions,
/// with which bash completes commands and their flags.
#[test]
fn install_ships_the_binary_man_pages_and_completions() {
    let prefix = tempfile::tempdir().unwrap();
    let p = prefix.path();
    let r = install(&["--prefix", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = output(&p.join("sbin/hull"), &["--version"]);
    assert!(v.stdout.starts_with("hull version "), "{}", v.stdout);
    for page in ["hull.8", "hull-run.8", "hull-exec.8", "hull-checkpoint.8"] {
        assert!(p.join("share/man/man8").join(page).is_file(), "{page}");
    }
    for file in [
        "bash-completion/completions/hull",
        "zsh/site-functions/_hull",
        "fish/vendor_completions.d/hull.fish",
    ] {
        assert!(p.join("share").join(file).is_file(), "{file}");
    }
    // man-db is installed by scripts/setup.sh.
    let o = Command::new("man")
        .args(["-l", p.join("share/man/man8/hull-run.8").to_str().unwrap()])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "200")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("hull-run - Create and start a container"),
        "{text}"
    );
    assert!(text.contains("hull run [-b|--bundle]"), "{text}");
    assert!(text.contains("--console-socket"), "{text}");
    let completion = p.join("share/bash-completion/completions/hull");
    let script = format!(
        "source {}; COMP_WORDS=(hull ru); COMP_CWORD=1; _hull hull ru hull; echo \"${{COMPREPLY[@]}}\"; \
         COMP_WORDS=(hull run --console-s); COMP_CWORD=2; _hull hull --console-s run; echo \"${{COMPREPLY[@]}}\"",
        completion.display()
    );
    let r = output(std::path::Path::new("bash"), &["-c", &script]);
    assert_eq!(r.stdout, "run\n--console-socket\n", "{}", r.stderr);
}

/// The snippets that register the installed binary with containerd (the CRI's runc shim),
/// dockerd and podman, printed, and added to a config file once (daemon.json merged).
#[test]
fn install_registers_hull_with_containerd_docker_and_podman_once() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = "/opt/hull";
    let r = install(&["--containerd", "--prefix", prefix]);
    assert!(
        r.stdout
            .contains("runtime_type = \"io.containerd.runc.v2\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("BinaryName = \"/opt/hull/sbin/hull\""),
        "{}",
        r.stdout
    );
    let r = install(&["--podman", "--prefix", prefix]);
    assert!(
        r.stdout.contains("hull = [\"/opt/hull/sbin/hull\"]"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\"hull\"]"),
        "runtime_supports_json: {}",
        r.stdout
    );

    let daemon = dir.path().join("daemon.json");
    std::fs::write(
        &daemon,
        r#"{"debug": true, "runtimes": {"other": {"path": "/x"}}}"#,
    )
    .unwrap();
    for _ in 0..2 {
        let r = install(&[
            "--docker",
            "--prefix",
            prefix,
            "--apply",
            daemon.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&daemon).unwrap()).unwrap();
    assert_eq!(v["debug"], true);
    assert_eq!(v["runtimes"]["other"]["path"], "/x");
    assert_eq!(v["runtimes"]["hull"]["path"], "/opt/hull/sbin/hull");

    let conf = dir.path().join("containers.conf");
    for _ in 0..2 {
        let r = install(&[
            "--podman",
            "--prefix",
            prefix,
            "--apply",
            conf.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let text = std::fs::read_to_string(&conf).unwrap();
    assert_eq!(text.matches("[engine.runtimes]").count(), 1, "{text}");
}

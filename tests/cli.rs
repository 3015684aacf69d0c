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

//! Rootless: hull run by an unprivileged user (made by the test if missing), as runc runs
//! for one: the state under $XDG_RUNTIME_DIR/hull, a user namespace mapping the user's
//! one id (`spec --rootless`), no cgroup the user may not make, nothing left behind.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Bundle, Run, HULL};
use serde_json::json;

const USER: &str = "hull-rootless";

/// uid and gid of the test user (made with useradd if missing), or why there is none.
fn test_user() -> Result<(u32, u32), String> {
    let find = || {
        std::fs::read_to_string("/etc/passwd")
            .ok()?
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.first() == Some(&USER))
                    .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
            })
    };
    if let Some(ids) = find() {
        return Ok(ids);
    }
    // Exit 9: made meanwhile by another test binary.
    let made = Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            USER,
        ])
        .status()
        .map_err(|e| format!("useradd: {e}"))?;
    if !made.success() && made.code() != Some(9) {
        return Err(format!("useradd {USER}: {made}"));
    }
    find().ok_or_else(|| format!("no {USER} in /etc/passwd after useradd"))
}

/// The test user with an XDG_RUNTIME_DIR of its own.
struct AsUser {
    uid: u32,
    gid: u32,
    xdg: tempfile::TempDir,
}

impl AsUser {
    fn new() -> Option<AsUser> {
        let (uid, gid) = match test_user() {
            Ok(ids) => ids,
            Err(why) => {
                eprintln!("skipped: {why}");
                return None;
            }
        };
        let xdg = tempfile::Builder::new()
            .prefix("hull-xdg-")
            .tempdir()
            .unwrap();
        chown(xdg.path(), uid, gid);
        std::fs::set_permissions(xdg.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        Some(AsUser { uid, gid, xdg })
    }

    fn cmd(&self, xdg: bool) -> Command {
        let mut c = Command::new(HULL);
        c.uid(self.uid).gid(self.gid);
        c.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        if xdg {
            c.env("XDG_RUNTIME_DIR", self.xdg.path());
        }
        c.stdin(Stdio::null());
        c
    }

    fn hull(&self, args: &[&str]) -> Run {
        self.cmd(true).args(args).output().unwrap().into()
    }

    fn state_root(&self) -> PathBuf {
        self.xdg.path().join("hull")
    }
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
}

/// A bundle the user owns, from its own `spec --rootless`, over a busybox rootfs.
fn rootless_bundle(u: &AsUser, args: &[&str]) -> Bundle {
    let dir = tempfile::Builder::new()
        .prefix("hull-rl-bundle-")
        .tempdir()
        .unwrap();
    chown(dir.path(), u.uid, u.gid);
    let r = u.hull(&[
        "spec",
        "--rootless",
        "--bundle",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "spec --rootless: {}", r.stderr);
    common::make_rootfs(&dir.path().join("rootfs"));
    let config =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    let mut b = Bundle { dir, config };
    b.edit(|c| {
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(args);
    });
    b
}

/// A tmpfs at /tmp: room to write in a rootfs the user does not own.
fn with_tmp_tmpfs(c: &mut serde_json::Value) {
    c["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
}

/// Nothing of container `id` remains: no state dir, no cgroup, no process, no mount.
fn assert_nothing_left(u: &AsUser, id: &str, bundle: &Path) {
    assert!(
        !u.state_root().join(id).exists(),
        "state dir of {id} left behind"
    );
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        assert!(
            !h.path().join(id).exists(),
            "cgroup {}/{id} left behind",
            h.path().display()
        );
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(bundle.to_str().unwrap()),
        "mounts left behind"
    );
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(p.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            assert!(
                !cmd.contains(id),
                "process {} ({cmd}) left behind",
                p.path().display()
            );
        }
    }
}

/// run, then create / start / state / kill / delete, as the user: the container's root is
/// the user (a one-id map, setgroups denied), the state is the user's, private.
#[test]
fn a_user_runs_a_container_with_its_state_in_xdg_runtime_dir() {
    require_root!();
    let Some(u) = AsUser::new() else { return };
    let script = "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups";
    let mut bundle = rootless_bundle(&u, &["sh", "-c", script]);
    let b = bundle.path().to_str().unwrap().to_string();
    let b = b.as_str();
    let id = common::id("rl");
    let r = u.hull(&["run", "--bundle", b, &id]);
    assert_eq!(r.code, 0, "run: {}", r.stderr);
    let words: Vec<&str> = r.stdout.split_whitespace().collect();
    let (uid, gid) = (u.uid.to_string(), u.gid.to_string());
    assert_eq!(
        words,
        ["0", "0", "0", &uid, "1", "0", &gid, "1", "deny"],
        "{}",
        r.stdout
    );
    let root = std::fs::metadata(u.state_root()).unwrap();
    assert_eq!((root.uid(), root.mode() & 0o7777), (u.uid, 0o1700));
    assert_nothing_left(&u, &id, bundle.path());

    bundle.edit(|c| c["process"]["args"] = json!(["sleep", "1000"]));
    let id = common::id("rl-life");
    // create's init keeps the output open: files, not pipes.
    let out = tempfile::NamedTempFile::new().unwrap();
    let status = u
        .cmd(true)
        .args(["create", "--bundle", b, &id])
        .stdout(out.reopen().unwrap())
        .stderr(out.reopen().unwrap())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "create: {}",
        std::fs::read_to_string(out.path()).unwrap()
    );
    let state = |want: &str| {
        let r = u.hull(&["state", &id]);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect(&r.stderr);
        assert_eq!(v["status"], want, "{v}");
        v
    };
    let pid = state("created")["pid"].as_i64().unwrap();
    assert_eq!(
        std::fs::metadata(format!("/proc/{pid}")).unwrap().uid(),
        u.uid
    );
    assert_eq!(u.hull(&["start", &id]).code, 0);
    state("running");
    // exec joins through the container's user namespace (the user cannot join its pid
    // namespace from outside).
    let r = u.hull(&[
        "exec",
        &id,
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; echo $$",
    ]);
    let words: Vec<&str> = r.stdout.split_whitespace().collect();
    assert_eq!(
        (r.code, &words[..4]),
        (0, &["0", "0", &uid[..], "1"][..]),
        "exec: {}",
        r.stderr
    );
    // No cgroup of its own (nothing is delegated here): nothing to freeze, said as runc.
    let r = u.hull(&["pause", &id]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("cannot toggle freezer: cgroups not configured for container"),
        "{}",
        r.stderr
    );
    state("running");
    let r = u.hull(&["kill", &id, "KILL"]);
    assert_eq!(r.code, 0, "kill: {}", r.stderr);
    for _ in 0..100 {
        if u.hull(&["state", &id]).stdout.contains("stopped") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    state("stopped");
    let r = u.hull(&["delete", &id]);
    assert_eq!(r.code, 0, "delete: {}", r.stderr);
    assert_nothing_left(&u, &id, bundle.path());
}

/// Without XDG_RUNTIME_DIR (or --root) a user has no state root: said, nothing tried.
#[test]
fn without_xdg_runtime_dir_a_user_is_told_where_state_goes() {
    require_root!();
    let Some(u) = AsUser::new() else { return };
    let bundle = rootless_bundle(&u, &["true"]);
    let id = common::id("rl-noxdg");
    let r: Run = u
        .cmd(false)
        .args(["run", "--bundle", bundle.path().to_str().unwrap(), &id])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("XDG_RUNTIME_DIR is not set") && r.stderr.lines().count() == 1,
        "{}",
        r.stderr
    );
    assert_nothing_left(&u, &id, bundle.path());
}

/// What a user cannot grant is refused in one line, leaving nothing: a limit, which needs
/// a cgroup the user may not make (the error names the file), and additional groups
/// (runc's rule).
#[test]
fn a_limit_or_groups_a_user_cannot_grant_are_refused() {
    require_root!();
    let Some(u) = AsUser::new() else { return };
    let mut bundle = rootless_bundle(&u, &["true"]);
    let original = bundle.config.clone();
    for (field, value, phrase) in [
        (
            "resources",
            json!({"pids": {"limit": 10}}),
            "cannot set pids.max: rootless",
        ),
        (
            "additionalGids",
            json!([5]),
            "cannot set any additional groups in a rootless container",
        ),
    ] {
        bundle.edit(|c| {
            *c = original.clone();
            match field {
                "resources" => c["linux"]["resources"] = value,
                _ => c["process"]["user"]["additionalGids"] = value,
            }
        });
        let id = common::id("rl-refused");
        let r = u.hull(&["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr.contains(phrase) && r.stderr.trim_end().lines().count() == 1,
            "{field}: {}",
            r.stderr
        );
        assert_nothing_left(&u, &id, bundle.path());
    }
}

/// CVE-2019-5736 as the user, against a hull binary the user owns (and so may write):
/// `exec` of /proc/self/exe runs hull inside, blocked on its log fifo, and the container
/// holds its exe. open_tree (hull's read-only view of itself) needs CAP_SYS_ADMIN; the
/// rootless form runs hull from a sealed memfd copy: the write is refused, the file
/// unchanged.
#[test]
fn a_users_own_hull_binary_cannot_be_overwritten_from_its_container() {
    require_root!();
    let Some(u) = AsUser::new() else { return };
    let bin = tempfile::Builder::new()
        .prefix("hull-rl-bin-")
        .tempdir()
        .unwrap();
    chown(bin.path(), u.uid, u.gid);
    let copy = bin.path().join("hull");
    std::fs::copy(HULL, &copy).unwrap();
    chown(&copy, u.uid, u.gid);
    let original = std::fs::read(&copy).unwrap();
    let mut bundle = rootless_bundle(&u, &["sleep", "1000"]);
    bundle.edit(with_tmp_tmpfs);
    let id = common::id("rl-exe");
    let with_copy = |args: &[&str]| -> std::process::ExitStatus {
        let mut cmd = Command::new(&copy);
        cmd.uid(u.uid).gid(u.gid).env_clear();
        cmd.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("XDG_RUNTIME_DIR", u.xdg.path());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd.args(args).status().unwrap()
    };
    let b = bundle.path().to_str().unwrap();
    assert!(with_copy(&["run", "-d", "--bundle", b, &id]).success());
    assert!(with_copy(&["exec", &id, "mkfifo", "/tmp/f"]).success());
    let attacker = common::exe_attacker_script("cat /tmp/f > /dev/null");
    assert!(with_copy(&["exec", "-d", &id, "sh", "-c", &attacker]).success());
    // Blocked on opening its log (the fifo) until the attacker drains it.
    with_copy(&["exec", &id, "/proc/self/exe", "--log", "/tmp/f", "list"]);
    // The verdict is read with the test's hull: the copy must not run meanwhile.
    let mut verdict = String::new();
    for _ in 0..300 {
        let r = u.hull(&["exec", &id, "cat", "/tmp/result"]);
        if !r.stdout.trim().is_empty() {
            verdict = r.stdout.trim().to_string();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        std::fs::read(&copy).unwrap() == original,
        "the binary was overwritten"
    );
    assert_eq!(verdict, "REFUSED");
    assert_eq!(u.hull(&["delete", "-f", &id]).code, 0);
    assert_nothing_left(&u, &id, bundle.path());
}

/// The test user's range in /etc/subuid and /etc/subgid (added once if missing).
const SUB_START: u32 = 400000;

fn ensure_sub_ranges() {
    static ONCE: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut done = ONCE.lock().unwrap();
    if *done {
        return;
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if !text.lines().any(|l| l.starts_with(&format!("{USER}:"))) {
            let line = format!("{USER}:{SUB_START}:65536\n");
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)
                .unwrap();
            std::io::Write::write_all(&mut f, line.as_bytes()).unwrap();
        }
    }
    *done = true;
}

/// Ids beyond the user's own come from its /etc/subuid and /etc/subgid ranges, written
/// by newuidmap/newgidmap (as rootless podman sets them up): a container user of the
/// range runs, files are chowned to it, setgroups stays allowed.
#[test]
fn id_ranges_of_subuid_are_mapped_through_newuidmap() {
    require_root!();
    if Command::new("newuidmap").output().is_err() {
        eprintln!("skipped: newuidmap is not installed (apt-get install uidmap)");
        return;
    }
    let Some(u) = AsUser::new() else { return };
    ensure_sub_ranges();
    let script = "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; \
                  touch /tmp/x; chown 1000:1000 /tmp/x; stat -c '%u %g' /tmp/x; \
                  su -s /bin/sh user -c 'id -u'";
    let mut bundle = rootless_bundle(&u, &["sh", "-c", script]);
    bundle.edit(|c| {
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": u.uid, "size": 1},
                                       {"containerID": 1, "hostID": SUB_START, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": u.gid, "size": 1},
                                       {"containerID": 1, "hostID": SUB_START, "size": 65536}]);
        with_tmp_tmpfs(c);
        c["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_SETUID", "CAP_SETGID"],
        "effective": ["CAP_CHOWN", "CAP_SETUID", "CAP_SETGID"],
        "permitted": ["CAP_CHOWN", "CAP_SETUID", "CAP_SETGID"]});
        c["process"]["noNewPrivileges"] = json!(false);
    });
    let id = common::id("rl-range");
    let r = u.hull(&["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let words: Vec<&str> = r.stdout.split_whitespace().collect();
    let (uid, gid, sub) = (u.uid.to_string(), u.gid.to_string(), SUB_START.to_string());
    assert_eq!(
        words,
        [
            "0", &uid, "1", "1", &sub, "65536", "0", &gid, "1", "1", &sub, "65536", "allow",
            "1000", "1000", "1000"
        ],
        "{}",
        r.stdout
    );
    assert_nothing_left(&u, &id, bundle.path());
}

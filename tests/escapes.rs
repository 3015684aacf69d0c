//! Escapes: each test plays an attack class of DESIGN.md's Security section against hull
//! and shows it fails. Each says how a naive runtime would lose.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;

use common::{assert_no_leaks, id, Bundle, Hull, Run};
use serde_json::json;

/// `cmd` with `dir` open (not close-on-exec) as fd `at`: a descriptor leaked to hull by
/// whoever started it.
fn with_leaked_dir(cmd: &mut std::process::Command, dir: &Path, at: i32) {
    let f = std::fs::File::open(dir).unwrap();
    // SAFETY: only dup2 between fork and exec; `f` lives until the command ran.
    unsafe {
        let raw = std::os::fd::AsRawFd::as_raw_fd(&f);
        cmd.pre_exec(move || {
            if libc::dup2(raw, at) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    std::mem::forget(f);
}

/// CVE-2024-21626: a host directory's fd that reaches the container process serves as
/// its cwd (`/proc/self/fd/N`), and `..` from there walks the host. A runtime that
/// leaks the fd and trusts chdir loses: the process reads the host's secret. hull
/// checks that the cwd lies under the root once it has entered it.
#[test]
fn a_leaked_fd_cannot_serve_as_cwd() {
    require_root!();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("secret"), "host-secret").unwrap();
    let hull = Hull::default();
    let mut b = Bundle::new(&["cat", "secret"]);
    for fd in [3, 5, 7, 9] {
        let cwd = format!("/proc/self/fd/{fd}");
        b.edit(|c| c["process"]["cwd"] = json!(cwd));
        let id = id("fdcwd");
        let mut cmd = hull.cmd();
        cmd.args(["run", "--bundle", b.path().to_str().unwrap(), &id]);
        with_leaked_dir(&mut cmd, host.path(), fd);
        let r: Run = cmd.output().unwrap().into();
        assert!(!r.stdout.contains("host-secret"), "fd {fd}: escaped");
        assert_ne!(r.code, 0, "fd {fd}: {}", r.stdout);
        assert!(r.stderr.contains("cwd"), "fd {fd}: {}", r.stderr);
        assert_no_leaks(&hull, &id, b.path());
    }

    // exec: the same through --cwd, with the fd leaked to `hull exec`.
    let b = Bundle::new(&["sleep", "1000"]);
    let id = id("fdcwd-exec");
    let _g = common::DeleteOnPanic::new(&hull, &id);
    hull.run_d(&b, &id);
    for fd in [3, 6] {
        let mut cmd = hull.cmd();
        cmd.args([
            "exec",
            "--cwd",
            &format!("/proc/self/fd/{fd}"),
            &id,
            "cat",
            "secret",
        ]);
        with_leaked_dir(&mut cmd, host.path(), fd);
        let r: Run = cmd.output().unwrap().into();
        assert!(!r.stdout.contains("host-secret"), "exec fd {fd}: escaped");
        assert_ne!(r.code, 0);
        assert!(r.stderr.contains("cwd"), "{}", r.stderr);
    }
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

/// Mount destinations that are symlinks pointing out of the rootfs (absolute, and by
/// `..`). A runtime that resolves them on the host mounts onto the host's directory
/// (and, with shared propagation, changes the host); the container sees no tmpfs. hull
/// resolves every destination inside the rootfs: the tmpfs lands under the rootfs, the
/// host directory is untouched.
#[test]
fn mount_destinations_that_are_symlinks_stay_in_the_rootfs() {
    require_root!();
    let host = tempfile::tempdir().unwrap();
    let h = host.path().to_str().unwrap().to_string();
    let hull = Hull::default();
    let mut b = Bundle::with_own_rootfs(&[
        "sh",
        "-c",
        "touch /abs/made /rel/made && stat -f -c %T /abs/ /rel/",
    ]);
    std::os::unix::fs::symlink(&h, b.rootfs().join("abs")).unwrap();
    std::os::unix::fs::symlink(
        format!("../../../../../../../../..{h}"),
        b.rootfs().join("rel"),
    )
    .unwrap();
    b.edit(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        for dest in ["/abs", "/rel"] {
            mounts.push(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"}));
        }
        c["linux"]["rootfsPropagation"] = json!("rshared");
    });
    let id = id("mntlink");
    let r = hull.run_container(&b, &id);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Both paths reach the same tmpfs-covered directory inside the rootfs.
    assert_eq!(
        r.stdout.split_whitespace().collect::<Vec<_>>(),
        ["tmpfs", "tmpfs"]
    );
    assert_eq!(
        std::fs::read_dir(host.path()).unwrap().count(),
        0,
        "host dir written"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&h), "a mount reached the host at {h}");
    // The directory the mounts used is the rootfs's own.
    assert!(b.rootfs().join(h.trim_start_matches('/')).is_dir());
    assert_no_leaks(&hull, &id, b.path());
}

/// A rootfs whose /dev/null is a symlink to a host path (the image is the attacker's). A
/// runtime that opens the container's /dev/null to mask paths (CVE-2025-31133) binds the
/// host file in place of /proc/kcore. hull masks from the host's own /dev/null and writes
/// /proc through a private procfs. A kernel filesystem whose destination is a symlink
/// (CVE-2019-16884: a fake /proc takes sysctls and labels, and the real one escapes the
/// masks) is refused outright, as runc refuses /proc and /sys: hull also /dev/pts,
/// /dev/mqueue and cgroup mounts.
#[test]
fn a_rootfs_with_symlinked_dev_null_or_kernel_mounts_never_reaches_the_host() {
    require_root!();
    let host = tempfile::tempdir().unwrap();
    let canary = host.path().join("canary");
    std::fs::write(&canary, "canary").unwrap();
    let hull = Hull::default();
    let mut b = Bundle::with_own_rootfs(&[
        "sh",
        "-c",
        "echo pwned > /dev/null; head -c 6 /proc/kcore; echo; cat /proc/sys/net/ipv4/ip_forward; \
         ls /dev/pts/ptmx && readlink /proc/self/exe",
    ]);
    let dev = b.rootfs().join("dev");
    std::os::unix::fs::symlink(&canary, dev.join("null")).unwrap();
    b.edit(|c| {
        // No tmpfs on /dev: the image's /dev is what hull works in.
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/dev");
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    });
    let id = id("devlink");
    let r = hull.run_container(&b, &id);
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "canary");
    assert!(
        !r.stdout.contains("canary"),
        "a host file was masked in: {}",
        r.stdout
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "", "/proc/kcore is masked: {}", r.stdout);
    assert_eq!(lines[1], "1", "the sysctl reached the real procfs");
    assert_eq!(lines.last().unwrap().trim(), "/bin/busybox");
    assert_no_leaks(&hull, &id, b.path());

    // Each kernel filesystem on a symlink to a host directory: refused in runc's words.
    b.edit(|c| {
        c["linux"]["sysctl"] = json!({});
        c["mounts"].as_array_mut().unwrap().push(json!(
            {"destination": "/cg", "type": "cgroup", "source": "cgroup", "options": ["ro"]}));
    });
    for (dest, fstype, source) in [
        ("proc", "proc", "proc"),
        ("sys", "sysfs", "sysfs"),
        ("dev/pts", "devpts", "devpts"),
        ("dev/mqueue", "mqueue", "mqueue"),
        ("cg", "cgroup", "cgroup"),
    ] {
        let target = host.path().join(dest.replace('/', "-"));
        std::fs::create_dir(&target).unwrap();
        let at = b.rootfs().join(dest);
        if at.is_dir() {
            std::fs::remove_dir(&at).unwrap();
        }
        std::os::unix::fs::symlink(&target, &at).unwrap();
        let id = common::id("kernlink");
        let r = hull.run_container(&b, &id);
        assert_eq!(r.code, 1, "{dest}: {}", r.stderr);
        let expected = format!(
            "error mounting \"{source}\" to rootfs at \"/{dest}\": filesystem \"{fstype}\" \
             must be mounted on ordinary directory"
        );
        assert!(r.stderr.contains(&expected), "{dest}: {}", r.stderr);
        assert_eq!(
            std::fs::read_dir(&target).unwrap().count(),
            0,
            "host dir written"
        );
        assert_no_leaks(&hull, &id, b.path());
        std::fs::remove_file(&at).unwrap();
        std::fs::create_dir(&at).unwrap();
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(host.path().to_str().unwrap()));
}

/// Sysctls outside every namespace the container has (or a key that walks out of its
/// subtree) would change the host: core_pattern runs a program as host root on a crash.
/// A runtime that writes them loses the host. hull refuses them before anything runs.
#[test]
fn sysctls_outside_the_containers_namespaces_are_refused() {
    require_root!();
    let before = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let hull = Hull::default();
    let mut b = Bundle::new(&["cat", "/proc/sys/net/ipv4/ip_forward"]);
    for key in [
        "kernel.core_pattern",
        "kernel/core_pattern",
        "vm.overcommit_memory",
        "fs.file-max",
        "net.ipv4.ip_forward/../../../kernel/core_pattern",
        "net/../kernel/core_pattern",
        "net.ipv4.ip_forward\n",
    ] {
        b.edit(|c| c["linux"]["sysctl"] = json!({ key: "|/bin/sh -c evil" }));
        let id = id("sysctl");
        let r = hull.run_container(&b, &id);
        assert_ne!(r.code, 0, "{key:?} was accepted");
        assert_eq!(r.stderr.lines().count(), 1, "{key:?}: {}", r.stderr);
        assert!(r.stderr.contains("sysctl"), "{key:?}: {}", r.stderr);
        assert_no_leaks(&hull, &id, b.path());
    }
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        before
    );

    // A network sysctl without a network namespace of its own is the host's too.
    let host_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    b.edit(|c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "network");
    });
    let id = id("sysctl-hostnet");
    let r = hull.run_container(&b, &id);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("host's namespace"), "{}", r.stderr);
    assert_no_leaks(&hull, &id, b.path());

    // With its own network namespace, the same key is the container's alone.
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "network"}))
    });
    let id = common::id("sysctl-net");
    let r = hull.run_container(&b, &id);
    assert_eq!((r.code, r.stdout.trim()), (0, "1"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_forward
    );
    assert_no_leaks(&hull, &id, b.path());
}

/// The capability lines of /proc/self/status as numbers: (Inh, Prm, Eff, Bnd, Amb).
fn caps_of(status: &str) -> Vec<(String, u64)> {
    status
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.starts_with("Cap")
                .then(|| (k.to_string(), u64::from_str_radix(v.trim(), 16).unwrap()))
        })
        .collect()
}

/// A file capability: `security.capability` (VFS_CAP_REVISION_2) granting `caps` to the
/// permitted set of whoever runs the file. Without the effective bit: with it, the kernel
/// refuses the exec outright when the bounding set withholds a cap (no set to read).
fn set_file_caps(path: &Path, caps: u64) -> bool {
    let mut v = Vec::new();
    v.extend_from_slice(&0x0200_0000u32.to_le_bytes());
    v.extend_from_slice(&(caps as u32).to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&((caps >> 32) as u32).to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    let p = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: valid C strings and buffer.
    unsafe {
        libc::setxattr(
            p.as_ptr(),
            c"security.capability".as_ptr(),
            v.as_ptr().cast(),
            v.len(),
            0,
        ) == 0
    }
}

/// Capabilities beyond the spec: a non-root process with only CAP_KILL runs a binary
/// carrying file capabilities for CAP_SYS_ADMIN and CAP_DAC_OVERRIDE (no_new_privs off,
/// as many images run). A runtime that leaves the bounding set full, or fills the
/// inheritable or ambient sets, lets it gain them. hull: the bounding set is the spec's,
/// so the file grants nothing; inheritable and ambient stay empty. Also for exec.
#[test]
fn capabilities_never_exceed_the_spec() {
    require_root!();
    let hull = Hull::default();
    let script = "grep Cap /proc/self/status; echo --; /caps/busybox grep Cap /proc/self/status";
    let mut b = Bundle::with_own_rootfs(&["sh", "-c", script]);
    // Named busybox, so that it runs the applet named next.
    let capbox = b.rootfs().join("caps/busybox");
    std::fs::create_dir(b.rootfs().join("caps")).unwrap();
    std::fs::copy(b.rootfs().join("bin/busybox"), &capbox).unwrap();
    const SYS_ADMIN: u64 = 1 << 21;
    const DAC_OVERRIDE: u64 = 1 << 1;
    const KILL: u64 = 1 << 5;
    if !set_file_caps(&capbox, SYS_ADMIN | DAC_OVERRIDE) {
        eprintln!(
            "skipped: the filesystem of {} takes no file capabilities",
            capbox.display()
        );
        return;
    }
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["noNewPrivileges"] = json!(false);
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
            "inheritable": [], "ambient": []
        });
    });
    let check = |out: &str, what: &str| {
        let (shell, boxed) = out.split_once("--").expect(out);
        for (who, status) in [("shell", shell), ("file caps", boxed)] {
            for (k, v) in caps_of(status) {
                let allowed = match k.as_str() {
                    "CapInh" | "CapAmb" => 0,
                    _ => KILL,
                };
                assert_eq!(v & !allowed, 0, "{what}, {who}: {k} {v:#x} beyond the spec");
            }
        }
    };
    let id = id("caps");
    let r = hull.run_container(&b, &id);
    assert_eq!(r.code, 0, "{}", r.stderr);
    check(&r.stdout, "run");
    assert_no_leaks(&hull, &id, b.path());

    b.edit(|c| c["process"]["args"] = json!(["sleep", "1000"]));
    let id = common::id("caps-exec");
    let _g = common::DeleteOnPanic::new(&hull, &id);
    hull.run_d(&b, &id);
    let r = hull.run(&["exec", "-u", "1000:1000", &id, "sh", "-c", script]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    check(&r.stdout, "exec");
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());

    // Ambient capabilities outside inheritable and permitted cannot be raised: refused
    // (or left out), never granted.
    b.edit(|c| {
        c["process"]["args"] = json!(["grep", "CapAmb", "/proc/self/status"]);
        c["process"]["capabilities"]["ambient"] = json!(["CAP_SYS_ADMIN"]);
    });
    let id = common::id("caps-amb");
    let r = hull.run_container(&b, &id);
    if r.code == 0 {
        assert_eq!(caps_of(&r.stdout), [("CapAmb".to_string(), 0)]);
    } else {
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
    assert_no_leaks(&hull, &id, b.path());
}

/// Keys: whatever the caller keeps in its session keyring (credentials a login or a
/// daemon put there) would be the container's to read if it inherited that keyring. hull
/// gives the init and every exec the container's own session keyring, `_ses.<id>`, as
/// runc does, with or without a user namespace; `--no-new-keyring` keeps the caller's.
#[test]
fn the_container_has_a_session_keyring_of_its_own() {
    require_root!();
    let helper = match common::helper("session_keyring") {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let ours = std::process::Command::new(&helper).output().unwrap();
    let ours = String::from_utf8_lossy(&ours.stdout).into_owned();
    assert!(!ours.starts_with("_ses."), "{ours}");
    let hull = Hull::default();
    let mut b = Bundle::with_own_rootfs(&["/keyring"]);
    std::fs::copy(&helper, b.rootfs().join("keyring")).unwrap();
    for userns in [false, true] {
        if userns {
            b.edit(|c| common::with_user_ns(c, 100000));
        }
        for (flags, own) in [(&[][..], true), (&["--no-new-keyring"][..], false)] {
            let what = format!("user namespace {userns}, {flags:?}");
            let id = id("keyring");
            let expected = match own {
                true => format!("_ses.{id} -\n"),
                false => ours.clone(),
            };
            let bundle = b.path().to_str().unwrap().to_string();
            let bundle = bundle.as_str();
            let mut args = vec!["run", "--bundle", bundle];
            args.extend_from_slice(flags);
            args.push(&id);
            let r = hull.run(&args);
            assert_eq!(
                (r.code, r.stdout.as_str()),
                (0, expected.as_str()),
                "{what}: {}",
                r.stderr
            );
            assert_no_leaks(&hull, &id, b.path());

            // An exec joins the init's keyring by name (or keeps the caller's likewise).
            b.edit(|c| c["process"]["args"] = json!(["sleep", "1000"]));
            let _g = common::DeleteOnPanic::new(&hull, &id);
            let mut args = vec!["run", "-d", "--bundle", bundle];
            args.extend_from_slice(flags);
            args.push(&id);
            let r = hull.run_detached(&args);
            assert_eq!(r.code, 0, "{what}: {}", r.stderr);
            let r = hull.run(&["exec", &id, "/keyring"]);
            assert_eq!(
                (r.code, r.stdout.as_str()),
                (0, expected.as_str()),
                "{what}, exec: {}",
                r.stderr
            );
            assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
            assert_no_leaks(&hull, &id, b.path());
            b.edit(|c| c["process"]["args"] = json!(["/keyring"]));
        }
    }
}

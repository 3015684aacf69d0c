//! Namespaces shared with the host or joined by path, --no-pivot, and a runtime killed in
//! the middle of create.

mod common;

use common::{assert_no_leaks, id, Bundle, Hull};
use serde_json::json;

#[test]
fn shared_host_pid_namespace_is_killed_whole() {
    require_root!();
    let hull = Hull::default();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "sleep 1000 & sleep 1000 & echo started > /dev/shm/x; wait",
    ]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "pid")
    });
    let id = id("hostpid");
    assert_eq!(hull.create(&b, &id).code, 0);
    assert_eq!(hull.run_detached(&["start", &id]).code, 0);
    let v1 = format!("/sys/fs/cgroup/pids/{id}/cgroup.procs");
    let procs = if std::path::Path::new(&v1).exists() {
        v1
    } else {
        format!("/sys/fs/cgroup/{id}/cgroup.procs")
    };
    let mut pids = Vec::new();
    for _ in 0..200 {
        pids = std::fs::read_to_string(&procs)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        if pids.len() >= 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(pids.len() >= 3, "sh and two sleeps in the cgroup: {pids:?}");
    // Deleting must not leave the sleeps behind, though killing the init does not kill them.
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    for p in &pids {
        let gone = std::fs::read_to_string(format!("/proc/{p}/stat"))
            .map(|s| s.contains(") Z"))
            .unwrap_or(true);
        assert!(gone, "process {p} survived delete");
    }
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn join_another_containers_namespaces_by_path() {
    require_root!();
    let hull = Hull::default();
    let mut first = Bundle::new(&["sleep", "1000"]);
    first.edit(|c| c["hostname"] = json!("first-host"));
    let a = id("nsowner");
    assert_eq!(
        hull.run_detached(&["run", "-d", "--bundle", first.path().to_str().unwrap(), &a])
            .code,
        0
    );
    let pid = hull.state(&a)["pid"].as_i64().unwrap();
    let mut second = Bundle::new(&["sh", "-c", "hostname; ls /sys/class/net | wc -l"]);
    second.edit(|c| {
        c.as_object_mut().unwrap().remove("hostname");
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "uts" || n["type"] == "network" || n["type"] == "ipc" {
                n["path"] = json!(format!(
                    "/proc/{pid}/ns/{}",
                    if n["type"] == "network" {
                        "net"
                    } else {
                        n["type"].as_str().unwrap()
                    }
                ));
            }
        }
    });
    let b = id("nsjoiner");
    let r = hull.run_container(&second, &b);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "first-host\n1\n");
    assert_no_leaks(&hull, &b, second.path());
    assert_eq!(hull.run(&["delete", "-f", &a]).code, 0);
    assert_no_leaks(&hull, &a, first.path());
}

#[test]
fn no_pivot_and_recursive_readonly() {
    require_root!();
    let hull = Hull::default();
    let mut b = Bundle::new(&["sh", "-c", "touch /hostdev/shm/x 2>&1; echo done"]);
    b.edit(|c| {
        // rro reaches the host /dev's submounts too (mount_setattr AT_RECURSIVE), which a
        // plain "ro" remount would not.
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/hostdev", "type": "bind", "source": "/dev", "options": ["rbind", "rro"]}));
    });
    let id = id("nopivot");
    let r = hull.run(&[
        "run",
        "--no-pivot",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("touch: /hostdev/shm/x: Read-only file system\ndone"),
        "{}",
        r.stdout
    );
    assert!(!std::path::Path::new("/dev/shm/x").exists());
    assert_no_leaks(&hull, &id, b.path());
}

/// With --no-pivot the host's root stays in the container's mount namespace: a whole
/// procfs there would let a process in a new user namespace mount a fresh, unmasked one.
#[test]
fn no_pivot_leaves_no_host_procfs_to_mount_an_unmasked_one() {
    require_root!();
    let hull = Hull::default();
    let mut b = Bundle::new(&[
        "unshare",
        "-mrpf",
        "sh",
        "-c",
        "mount -t proc none /proc && echo mounted",
    ]);
    b.edit(|c| common::grant_cap(c, "CAP_SETFCAP"));
    let id = id("nopivot");
    let r = hull.run(&[
        "run",
        "--no-pivot",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(!r.stdout.contains("mounted"), "{}", r.stdout);
    assert!(
        r.stderr.contains("Operation not permitted") || r.stderr.contains("ermission denied"),
        "{}",
        r.stderr
    );
    assert_no_leaks(&hull, &id, b.path());
}

/// In a user namespace the container's root cannot reach a host directory only the host's
/// root may enter, nor see the sources that earlier mounts made inside its rootfs from the
/// host: the runtime opens both inside the container's mount namespace, as runc does.
#[test]
fn user_namespace_binds_from_inaccessible_sources_and_earlier_mounts() {
    require_root!();
    use std::os::unix::fs::PermissionsExt;
    let private = tempfile::tempdir().unwrap();
    std::fs::create_dir(private.path().join("dir")).unwrap();
    std::fs::write(private.path().join("dir/file"), "secret-ok\n").unwrap();
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let src = private.path().join("dir");
    let rootfs = common::shared_rootfs().to_path_buf();
    let r = common::run_in(
        |c| {
            common::with_user_ns(c, 200000);
            let mounts = c["mounts"].as_array_mut().unwrap();
            mounts.push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
            mounts.push(json!({"destination": "/tmp/a", "type": "bind", "source": src, "options": ["bind"]}));
            // A source that exists only in the container's mount namespace, written as the
            // host path of the rootfs (destinations may be written so too).
            mounts.push(json!({"destination": rootfs.join("tmp/b"), "type": "bind",
                               "source": rootfs.join("tmp/a"), "options": ["rbind"]}));
        },
        &["cat", "/tmp/b/file"],
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "secret-ok\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn idmapped_bind_mount() {
    require_root!();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("f"), "x").unwrap();
    let r = common::run_in(
        |c| {
            c["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "/mapped", "type": "bind", "source": src.path(), "options": ["bind", "idmap"],
                // As runc: the maps go to the mount's user namespace as written, so files
                // owned by containerID on disk show as hostID.
                "uidMappings": [{"containerID": 0, "hostID": 1234, "size": 1}],
                "gidMappings": [{"containerID": 0, "hostID": 4321, "size": 1}]
            }));
        },
        &["stat", "-c", "%u:%g", "/mapped/f"],
    );
    if r.code != 0 && r.stderr.contains("doesn't support idmap mounts") {
        eprintln!(
            "skipped: this filesystem does not support idmapped mounts: {}",
            r.stderr
        );
        return;
    }
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "1234:4321\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn runtime_killed_during_create_leaves_nothing_after_delete_force() {
    require_root!();
    let hull = Hull::default();
    let mut b = Bundle::new(&["sleep", "1000"]);
    // A slow createRuntime hook keeps create busy at a point where the state, the cgroup
    // and the init all exist.
    b.edit(|c| {
        c["hooks"] =
            json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "sleep 30"]}]})
    });
    let id = id("killed");
    let mut child = hull
        .cmd()
        .args(["create", "--bundle", b.path().to_str().unwrap(), &id])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = hull.state_dir(&id).join("state.json");
    for _ in 0..500 {
        let made = std::fs::read_to_string(&state)
            .map(|s| !s.contains("\"pid\":0"))
            .unwrap_or(false);
        if made {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    child.kill().unwrap();
    child.wait().unwrap();
    let st = hull.run(&["state", &id]);
    assert_eq!(
        st.code, 0,
        "the half-made container is visible: {}",
        st.stderr
    );
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    // The hook process (sleep 30) was the runtime's child; it is not the container's.
    let _ = std::process::Command::new("pkill")
        .args(["-f", "sh -c sleep 30"])
        .status();
    assert_no_leaks(&hull, &id, b.path());
}

fn set_ns_path(c: &mut serde_json::Value, typ: &str, path: String) {
    let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != typ);
    ns.push(json!({"type": typ, "path": path}));
}

#[test]
fn new_user_namespace_with_a_joined_one_and_new_ones_inside_a_joined_user_namespace() {
    require_root!();
    let hull = Hull::default();
    // The owner: its own user namespace and network namespace.
    let mut first = Bundle::new(&["sleep", "1000"]);
    first.edit(|c| common::with_user_ns(c, 300000));
    let a = id("userowner");
    let _ga = common::DeleteOnPanic::new(&hull, &a);
    hull.run_d(&first, &a);
    let pid = hull.state(&a)["pid"].as_i64().unwrap();
    let ns = |p: i64, n: &str| std::fs::read_link(format!("/proc/{p}/ns/{n}")).unwrap();

    // A new user namespace that joins the first container's network namespace: the join
    // happens before the user namespace is made.
    let mut second = Bundle::new(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/net; cat /proc/self/uid_map",
    ]);
    second.edit(|c| {
        common::with_user_ns(c, 300000);
        c["linux"]["uidMappings"][0]["hostID"] = json!(400000);
        set_ns_path(c, "network", format!("/proc/{pid}/ns/net"));
    });
    let b = id("newuser-joinnet");
    let r = hull.run_container(&second, &b);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], ns(pid, "net").to_str().unwrap());
    let map: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(map, ["0", "400000", "65536"], "a user namespace of its own");
    assert_no_leaks(&hull, &b, second.path());

    // Joining the first container's user namespace and making mount, pid, uts inside it:
    // its root with CAP_SYS_ADMIN can mount only because the new mount namespace belongs
    // to that user namespace (made after the join; made before, the host's would own it).
    let mut third = Bundle::new(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/user; cat /proc/self/uid_map; echo $$; mount -t tmpfs t /tmp && echo mounted",
    ]);
    third.edit(|c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["type"] != "cgroup");
        set_ns_path(c, "user", format!("/proc/{pid}/ns/user"));
        common::grant_cap(c, "CAP_SYS_ADMIN");
    });
    let c = id("joinuser-newmnt");
    let r = hull.run_container(&third, &c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], ns(pid, "user").to_str().unwrap());
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "300000", "65536"]
    );
    assert_eq!(lines[2], "1", "pid 1 of a new pid namespace");
    assert_eq!(lines[3], "mounted");
    assert_no_leaks(&hull, &c, third.path());

    // Joining its user and pid namespaces (a two-stage launch): the pid recorded is the
    // init's in our namespace, not the one it has inside the joined pid namespace.
    let mut fourth = Bundle::new(&["sleep", "1000"]);
    fourth.edit(|c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["type"] != "cgroup");
        set_ns_path(c, "user", format!("/proc/{pid}/ns/user"));
        set_ns_path(c, "pid", format!("/proc/{pid}/ns/pid"));
    });
    let d = id("joinuserpid");
    let _gd = common::DeleteOnPanic::new(&hull, &d);
    hull.run_d(&fourth, &d);
    let joined = hull.state(&d)["pid"].as_i64().unwrap();
    assert_eq!(ns(joined, "pid"), ns(pid, "pid"), "pid {joined} is ours");
    // `run -d` returns once the init is released, maybe before its exec: the recorded pid
    // must become the program (an intermediate stage never would).
    let cmdline = || std::fs::read_to_string(format!("/proc/{joined}/cmdline")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cmdline().starts_with("sleep\0") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(cmdline().starts_with("sleep\0"), "{:?}", cmdline());
    assert_eq!(hull.run(&["delete", "-f", &d]).code, 0);
    assert_no_leaks(&hull, &d, fourth.path());

    assert_eq!(hull.run(&["delete", "-f", &a]).code, 0);
    assert_no_leaks(&hull, &a, first.path());
}

#[test]
fn a_network_namespace_of_its_own_has_its_loopback_up() {
    require_root!();
    // /sys/class/net/lo/flags: IFF_UP (0x1) | IFF_LOOPBACK (0x8), as runc leaves it.
    let r = common::run_in(|_| {}, &["cat", "/sys/class/net/lo/flags"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "0x9\n");
}

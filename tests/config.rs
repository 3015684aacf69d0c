//! What config.json asks for is what the process inside sees: namespaces, rootfs, mounts,
//! devices, masks, user, capabilities, rlimits, env, sysctl.

mod common;

use common::run_in;
use serde_json::json;

fn sh(script: &str) -> Vec<&str> {
    vec!["sh", "-c", script]
}

fn ok(r: &common::Run) -> &str {
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    &r.stdout
}

#[test]
fn uts_pid_net_and_mount_namespaces() {
    require_root!();
    let r = run_in(
        |c| {
            c["hostname"] = json!("box");
            c["domainname"] = json!("example.org");
        },
        &sh("hostname; cat /proc/sys/kernel/domainname; echo pid=$$; ls /sys/class/net; readlink /proc/1/exe"),
    );
    let out = ok(&r);
    assert!(out.starts_with("box\nexample.org\npid=1\n"), "{out}");
    assert!(
        out.contains("lo\n") && !out.contains("eth"),
        "only loopback in a new net ns: {out}"
    );
    assert!(out.contains("/bin/busybox"), "{out}");
}

#[test]
fn user_namespace_maps_ids() {
    require_root!();
    let r = run_in(
        |c| {
            common::with_user_ns(c, 200000);
        },
        &sh("id -u; cat /proc/self/uid_map; ls -l /dev/null"),
    );
    let out = ok(&r);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"));
    let map: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(map, ["0", "200000", "65536"]);
    assert!(lines.next().unwrap().starts_with("crw-rw-rw-"), "{out}");
}

#[test]
fn time_namespace_offsets() {
    require_root!();
    if !std::path::Path::new("/proc/self/ns/time").exists() {
        eprintln!("skipped: kernel without time namespaces");
        return;
    }
    let r = run_in(
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "time"}));
            c["linux"]["timeOffsets"] = json!({"boottime": {"secs": 86400 * 365, "nanosecs": 0}});
        },
        &sh("cut -d. -f1 /proc/uptime"),
    );
    let uptime: u64 = ok(&r).trim().parse().unwrap();
    assert!(uptime >= 86400 * 365, "boottime offset applied: {uptime}");
}

#[test]
fn readonly_root_mounts_masks_and_readonly_paths() {
    require_root!();
    let r = run_in(
        |c| {
            c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["mode=700", "size=1m"]}));
            c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/hostetc", "type": "bind", "source": "/etc", "options": ["rbind", "ro"]}));
        },
        &sh("touch /x 2>&1; stat -c %a /data; touch /data/ok && echo data-rw; \
             touch /hostetc/x 2>&1; test -f /hostetc/hostname && echo bound; \
             wc -c < /proc/kcore; (echo 1 > /proc/sys/kernel/shmmni) 2>&1; ls /sys/firmware | wc -l"),
    );
    let out = ok(&r);
    assert!(out.contains("touch: /x: Read-only file system"), "{out}");
    assert!(out.contains("700\ndata-rw"), "{out}");
    assert!(
        out.contains("touch: /hostetc/x: Read-only file system") && out.contains("bound"),
        "{out}"
    );
    assert!(
        out.contains("\n0\n"),
        "/proc/kcore masked by /dev/null: {out}"
    );
    assert!(
        out.contains("/proc/sys/kernel/shmmni: Read-only file system\n0\n"),
        "{out}"
    );
}

#[test]
fn masked_directories_share_one_read_only_tmpfs() {
    require_root!();
    let r = run_in(
        |c| {
            let masked = c["linux"]["maskedPaths"].as_array_mut().unwrap();
            masked.extend([json!("/tmp/a"), json!("/tmp/b")]);
            // Under a tmpfs of its own: the shared image is not written.
            for d in ["/tmp", "/tmp/a", "/tmp/b"] {
                c["mounts"].as_array_mut().unwrap().push(
                    json!({"destination": d, "type": "tmpfs", "source": "tmpfs", "options": []}),
                );
            }
            c["linux"]["maskedPaths"]
                .as_array_mut()
                .unwrap()
                .insert(0, json!("/proc/acpi"));
        },
        &sh("stat -c %d /proc/acpi /tmp/a /tmp/b | uniq | wc -l; touch /tmp/b/x 2>&1; true"),
    );
    let out = ok(&r);
    assert_eq!(
        out,
        "1
touch: /tmp/b/x: Read-only file system
"
    );
}

#[test]
fn a_read_only_dev_gets_its_nodes_first() {
    require_root!();
    let r = run_in(
        |c| {
            for m in c["mounts"].as_array_mut().unwrap() {
                if m["destination"] == "/dev" {
                    m["options"].as_array_mut().unwrap().push(json!("ro"));
                }
            }
        },
        &sh(
            "grep '^tmpfs /dev ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; \
             echo hi > /dev/null && ls /dev/pts/ptmx; touch /dev/x 2>&1; true",
        ),
    );
    let out = ok(&r);
    assert_eq!(
        out,
        "ro\n/dev/pts/ptmx\ntouch: /dev/x: Read-only file system\n"
    );
}

#[test]
fn devices_and_dev_links() {
    require_root!();
    let r = run_in(
        |c| {
            c["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 0, "gid": 0}]);
            c["linux"]["resources"]["devices"].as_array_mut().unwrap().push(json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"}));
        },
        &sh("stat -c '%t:%T %a' /dev/null /dev/fuse /dev/zero; readlink /dev/fd; readlink /dev/ptmx; echo x > /dev/null && echo null-ok"),
    );
    let out = ok(&r);
    assert!(out.contains("1:3 666\na:e5 640\n1:5 666\n"), "{out}");
    assert!(out.contains("/proc/self/fd\npts/ptmx\nnull-ok"), "{out}");
}

/// The device cgroup (v1 `devices`, v2 an eBPF program) lets the container open the
/// nodes it allows and no other, even one it made itself with CAP_MKNOD: 42:0 is no
/// driver's, so without the cgroup the open reaches the kernel and fails with ENXIO.
#[test]
fn the_device_cgroup_denies_nodes_it_does_not_allow() {
    require_root!();
    let r = run_in(
        common::mknod_scratch,
        &sh(
            "mknod /mnt/zero c 1 5 && mknod /mnt/odd c 42 0 && head -c 3 /mnt/zero | wc -c; \
             cat /mnt/odd; echo odd=$?",
        ),
    );
    let out = ok(&r);
    assert!(out.starts_with("3\n"), "{out}");
    assert!(out.contains("odd=1"), "{out}");
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);
}

#[test]
fn env_names_are_set_once_and_an_empty_home_comes_from_passwd() {
    require_root!();
    let r = run_in(
        |c| c["process"]["env"] = json!(["ONE=two", "HOME=/x", "ONE=", "PATH=/bin", "HOME="]),
        &["env"],
    );
    let mut env: Vec<&str> = ok(&r).lines().collect();
    env.sort();
    assert_eq!(env, ["HOME=/root", "ONE=", "PATH=/bin"]);
}

#[test]
fn user_groups_umask_env_cwd_home() {
    require_root!();
    let r = run_in(
        |c| {
            c["process"]["user"] =
                json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 0o077});
            c["process"]["cwd"] = json!("/tmp");
            c["process"]["env"] = json!(["PATH=/bin", "FOO=bar"]);
        },
        &sh("id; umask; pwd; echo $FOO $HOME"),
    );
    let out = ok(&r);
    assert!(
        out.starts_with("uid=1000(user) gid=1000(user) groups=10,20"),
        "{out}"
    );
    assert!(out.contains("0077\n/tmp\nbar /home/user\n"), "{out}");
}

#[test]
fn an_ambient_capability_not_inheritable_is_skipped_with_a_warning() {
    require_root!();
    let r = run_in(
        |c| {
            c["process"]["capabilities"] = json!({"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN", "CAP_KILL"], "permitted": ["CAP_CHOWN", "CAP_KILL"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_CHOWN", "CAP_KILL"]});
            c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        },
        &sh("grep CapAmb /proc/self/status"),
    );
    // CAP_KILL (bit 5) is raised; CAP_CHOWN, not inheritable, cannot be.
    assert_eq!(ok(&r), "CapAmb:\t0000000000000020\n");
    assert!(
        r.stderr
            .contains("can't raise ambient capability CAP_CHOWN: operation not permitted"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_executable_only_cap_dac_override_lets_through_runs() {
    require_root!();
    // 0700 root:root: uid 1000 may execute it only by CAP_DAC_OVERRIDE (execve honours
    // it; the lookup must too, as runc's does).
    let mut b = common::Bundle::with_own_rootfs(&["/only-root.sh"]);
    let script = b.rootfs().join("only-root.sh");
    std::fs::write(&script, "#!/bin/sh\necho ran as $(id -u)\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        let caps = json!(["CAP_DAC_OVERRIDE"]);
        c["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps});
    });
    let hull = common::Hull::default();
    let id = common::id("dacoverride");
    let r = hull.run_container(&b, &id);
    assert_eq!(ok(&r), "ran as 1000\n");
    common::assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn capabilities_no_new_privs_rlimits() {
    require_root!();
    let r = run_in(
        |c| {
            // CAP_TEST: unknown, ignored with a warning (runc and crun do the same; the
            // spec says runtimes SHOULD NOT fail on capabilities they cannot grant).
            c["process"]["capabilities"] = json!({"bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_TEST"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"], "inheritable": [], "ambient": []});
            c["process"]["noNewPrivileges"] = json!(true);
            c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}]);
        },
        &sh("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status; ulimit -n; ulimit -Hn"),
    );
    let out = ok(&r);
    // CAP_CHOWN = bit 0, CAP_KILL = bit 5.
    for want in [
        "CapInh:\t0000000000000000",
        "CapPrm:\t0000000000000020",
        "CapEff:\t0000000000000020",
        "CapBnd:\t0000000000000021",
        "CapAmb:\t0000000000000000",
        "NoNewPrivs:\t1",
        "321\n654",
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }
}

#[test]
fn sysctl_in_the_containers_namespaces() {
    require_root!();
    let r = run_in(
        |c| c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}),
        &sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni"),
    );
    assert_eq!(ok(&r), "1\n1234\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/shmmni")
            .unwrap()
            .trim(),
        "4096",
        "host untouched"
    );
}

#[test]
fn oom_score_adj_is_set() {
    require_root!();
    let r = run_in(
        |c| c["process"]["oomScoreAdj"] = json!(500),
        &sh("cat /proc/self/oom_score_adj"),
    );
    assert_eq!(ok(&r), "500\n");
}

#[test]
fn no_runtime_fd_reaches_the_container_but_preserved_ones() {
    require_root!();
    let hull = common::Hull::default();
    let b = common::Bundle::new(&[
        "sh",
        "-c",
        "ls /proc/self/fd | sort -n | tr '\\n' ' '; cat <&3",
    ]);
    let id = common::id("fds");
    // fd 3 carries data and must be passed (--preserve-fds 1); fd 4 must not.
    let script = format!(
        "exec 3</etc/hostname 4</etc/hostname; exec {} --root {} run --preserve-fds 1 --bundle {} {}",
        common::HULL,
        hull.root.path().display(),
        b.path().display(),
        id
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ls itself opens one directory fd (the highest).
    assert!(stdout.starts_with("0 1 2 3 4 "), "{stdout}");
    assert!(!stdout.starts_with("0 1 2 3 4 5"), "{stdout}");
    assert!(
        stdout.contains(std::fs::read_to_string("/etc/hostname").unwrap().trim()),
        "{stdout}"
    );
    common::assert_no_leaks(&hull, &id, b.path());
}

/// A created init waits for `start` with only what it needs open: stdio, the preserved
/// fds, its channel to the runtime, the exec fifo and a procfs of its own; nothing of the
/// caller's, the state dir or the cgroup files.
#[test]
fn a_created_init_holds_none_of_the_runtimes_files() {
    require_root!();
    let hull = common::Hull::default();
    let b = common::Bundle::new(&["true"]);
    let id = common::id("initfds");
    let script = format!(
        "exec 3</etc/hostname 4</etc/hostname; exec {} --root {} create --preserve-fds 1 --bundle {} {} </dev/null >/dev/null 2>&1",
        common::HULL,
        hull.root.path().display(),
        b.path().display(),
        id
    );
    let st = std::process::Command::new("sh")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(st.success());
    let _guard = common::DeleteOnPanic::new(&hull, &id);
    let pid = hull.state(&id)["pid"].as_i64().unwrap();
    let mut fds: Vec<(u32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let target = std::fs::read_link(e.path()).unwrap();
            (
                e.file_name().to_str().unwrap().parse().unwrap(),
                target.to_string_lossy().into_owned(),
            )
        })
        .collect();
    fds.sort();
    let shown = format!("{fds:?}");
    assert!(fds.len() <= 7, "{shown}");
    assert!(fds.iter().take(3).all(|(_, t)| t == "/dev/null"), "{shown}");
    assert_eq!(
        fds[3],
        (3, "/etc/hostname".to_string()),
        "preserved: {shown}"
    );
    for (fd, target) in &fds[4..] {
        assert!(
            target.starts_with("socket:") || target.ends_with("/exec.fifo") || target == "/",
            "fd {fd} -> {target}: {shown}"
        );
    }
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    common::assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn cgroup_limits_are_written_and_removed() {
    require_root!();
    // Read back inside the container, through its cgroup namespace and cgroup mount.
    let (files, expect) = if std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        .exists()
    {
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares", "67108864\n42\n512\n")
    } else if std::path::Path::new("/sys/fs/cgroup/cgroup.subtree_control").exists() {
        // v2: 512 shares are cpu.weight 59 (runc's conversion).
        (
            "/sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.weight",
            "67108864\n42\n59\n",
        )
    } else {
        eprintln!("skipped: neither cgroup v1 memory nor cgroup v2 is mounted");
        return;
    };
    let r = run_in(
        |c| {
            c["linux"]["resources"]["memory"] = json!({"limit": 67108864});
            c["linux"]["resources"]["pids"] = json!({"limit": 42});
            c["linux"]["resources"]["cpu"] = json!({"shares": 512});
        },
        &sh(&format!("cat {files}")),
    );
    assert_eq!(ok(&r), expect);
}

#[test]
fn hooks_run_in_order_with_state() {
    require_root!();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("hooks.log");
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("read s; echo \"{name} $(echo $s | grep -o '\"status\":\"[a-z]*\"')\" >> {}", log.display())]});
    let r = run_in(
        |c| {
            // startContainer runs inside the container: the log dir is bound at the same path.
            let dir = tmp.path().to_str().unwrap();
            c["mounts"].as_array_mut().unwrap().push(
                json!({"destination": dir, "type": "bind", "source": dir, "options": ["bind"]}),
            );
            c["hooks"] = json!({
                "prestart": [hook("prestart")], "createRuntime": [hook("createRuntime")],
                "createContainer": [hook("createContainer")], "startContainer": [hook("startContainer")],
                "poststart": [hook("poststart")], "poststop": [hook("poststop")]
            })
        },
        &sh("echo ran"),
    );
    assert_eq!(ok(&r), "ran\n");
    let text = std::fs::read_to_string(&log).unwrap();
    let order: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    // poststart races with the container's own exit; the rest is ordered.
    let pos = |n: &str| {
        order
            .iter()
            .position(|x| *x == n)
            .unwrap_or_else(|| panic!("{n} missing: {text}"))
    };
    assert!(
        pos("prestart") < pos("createRuntime") && pos("createRuntime") < pos("createContainer")
    );
    assert!(pos("createContainer") < pos("startContainer") && pos("poststart") < pos("poststop"));
    assert!(text.contains("prestart \"status\":\"created\""), "{text}");
    assert!(text.contains("poststart \"status\":\"running\""), "{text}");
    assert!(text.contains("poststop \"status\":\"stopped\""), "{text}");
}

#[test]
fn start_container_hooks_get_the_process_env_and_create_container_hooks_the_rootfs_as_cwd() {
    require_root!();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap().to_string();
    let r = run_in(
        |c| {
            c["process"]["env"] = json!(["PATH=/bin", "ONE=two"]);
            c["mounts"].as_array_mut().unwrap().push(
                json!({"destination": dir, "type": "bind", "source": dir, "options": ["bind"]}),
            );
            c["hooks"] = json!({
                // Inside the container, with the process's env (HOME from passwd).
                "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", format!("echo $ONE $HOME > {dir}/start")]}],
                // On the host, in the rootfs: relative paths name its files.
                "createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", format!("ls -d ./etc/passwd > {dir}/create")]}]
            })
        },
        &["true"],
    );
    ok(&r);
    let read = |f: &str| std::fs::read_to_string(tmp.path().join(f)).unwrap();
    assert_eq!(read("start"), "two /root\n");
    assert_eq!(read("create"), "./etc/passwd\n");
}

#[test]
fn personality_ioprio_scheduler_affinity() {
    require_root!();
    let r = run_in(
        |c| {
            c["linux"]["personality"] = json!({"domain": "LINUX32"});
            c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
            c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
            // For exec only (tests/exec.rs): the init keeps every CPU.
            c["process"]["execCPUAffinity"] = json!({"final": "0"});
        },
        &sh("uname -m; grep -E '^Cpus_allowed_list' /proc/self/status; cut -d' ' -f19 /proc/self/stat; grep -E '^policy' /proc/self/sched || true"),
    );
    let out = ok(&r);
    // LINUX32 makes uname report i686 on x86_64.
    assert!(out.starts_with("i686\n"), "{out}");
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let own = own
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list"))
        .unwrap();
    assert!(out.contains(&format!("{own}\n")), "{out}");
    assert!(out.contains("\n7\n"), "nice 7: {out}");
}

#[test]
fn io_priority_is_set() {
    require_root!();
    // The container's busybox has ionice.
    let r = run_in(
        |c| c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6}),
        &sh("ionice -p $$"),
    );
    let out = ok(&r);
    assert!(out.contains("best-effort") && out.contains('6'), "{out}");
}

#[test]
fn tmpcopyup_fills_the_tmpfs_with_the_image_directory() {
    require_root!();
    let r = run_in(
        |c| {
            let mounts = c["mounts"].as_array_mut().unwrap();
            mounts.push(json!({"destination": "/bin", "type": "tmpfs", "source": "tmpfs",
                               "options": ["tmpcopyup", "mode=755"]}));
            mounts.push(json!({"destination": "/etc", "type": "tmpfs", "source": "tmpfs",
                               "options": ["tmpcopyup", "ro"]}));
        },
        &sh("readlink /bin/sh; touch /bin/new && echo writable; grep -c . /etc/passwd; \
             touch /etc/x 2>/dev/null || echo etc-ro; grep -E ' /(bin|etc) ' /proc/mounts | cut -d' ' -f1,3"),
    );
    let out = ok(&r);
    assert_eq!(
        out, "busybox\nwritable\n2\netc-ro\ntmpfs tmpfs\ntmpfs tmpfs\n",
        "symlinks kept, files copied, ro applied after the copy"
    );
    // The image itself (the read-only shared rootfs) was never written.
    assert!(!common::shared_rootfs().join("bin/new").exists());
}

/// A host tmpfs whose mount (not superblock) is `ro,noexec`, unmounted on drop.
struct LockedSource(tempfile::TempDir);

impl LockedSource {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().to_str().unwrap();
        for args in [
            vec!["-t", "tmpfs", "tmpfs", p],
            vec!["--bind", "-o", "remount,ro,noexec", p],
        ] {
            let st = std::process::Command::new("mount")
                .args(&args)
                .status()
                .unwrap();
            assert!(st.success(), "mount {args:?}");
        }
        LockedSource(dir)
    }

    /// The flags of /mnt inside a container that binds us there with `options`.
    fn run(&self, options: &[&str], userns: bool) -> common::Run {
        let src = self.0.path().to_str().unwrap().to_string();
        run_in(
            |c| {
                // Under a tmpfs of its own: the shared image is not written.
                let mounts = c["mounts"].as_array_mut().unwrap();
                mounts.push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
                mounts.push(
                    json!({"destination": "/tmp/mnt", "type": "bind", "source": src, "options": options}),
                );
                if userns {
                    common::with_user_ns(c, 200000);
                }
            },
            &sh("awk '$2 == \"/tmp/mnt\" { print $4 }' /proc/self/mounts"),
        )
    }
}

impl Drop for LockedSource {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

fn has_flag(flags: &str, f: &str) -> bool {
    flags.trim().split(',').any(|x| x == f)
}

#[test]
fn bind_options_replace_the_sources_flags_except_those_a_user_namespace_locks() {
    require_root!();
    let src = LockedSource::new();
    // No options: the source's flags, as mount --bind.
    let out = ok(&src.run(&["bind"], false)).to_string();
    assert!(has_flag(&out, "ro") && has_flag(&out, "noexec"), "{out}");
    // Options given, a cleared one alone included: exactly those.
    let out = ok(&src.run(&["bind", "rw"], false)).to_string();
    assert!(has_flag(&out, "rw") && !has_flag(&out, "noexec"), "{out}");
    // In a user namespace the source's ro and noexec are locked: kept beside nosuid...
    let out = ok(&src.run(&["bind", "nosuid"], true)).to_string();
    for f in ["ro", "noexec", "nosuid"] {
        assert!(has_flag(&out, f), "{f} in {out}");
    }
    // ...and clearing one explicitly is refused, not silently ignored.
    let r = src.run(&["bind", "rw"], true);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("run failed: unable to start container process: error during container init: error mounting")
            && r.stderr.contains("cannot clear locked flags MS_RDONLY: operation not permitted"),
        "{}",
        r.stderr
    );
}

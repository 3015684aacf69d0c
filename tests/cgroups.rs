//! Every resource of `linux.resources` a host has the controller for, written on create and
//! read back from the container's cgroup files: cgroup v1 here, v2 in the VM
//! (integration/vm-tests.sh). A controller the host lacks is skipped with the reason.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_no_leaks, id, Bundle, Hull};
use serde_json::json;

/// The cgroup file of container `id` for `controller` (v1) or of its cgroup2 directory.
fn file(id: &str, controller: &str, name: &str) -> PathBuf {
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    match v2 {
        true => PathBuf::from(format!("/sys/fs/cgroup/{id}/{name}")),
        false => PathBuf::from(format!("/sys/fs/cgroup/{controller}/{id}/{name}")),
    }
}

/// Sends `update` as JSON on stdin (containerd's way); panics on failure.
fn update(hull: &Hull, id: &str, what: &str, resources: &serde_json::Value) {
    use std::io::Write;
    let mut child = hull
        .cmd()
        .args(["update", "--resources", "-", id])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    write!(child.stdin.take().unwrap(), "{resources}").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: {err}");
}

/// One resource: where it lands on v1 (controller, file, value) and on v2 (file, value);
/// an empty file name means the hierarchy has no such file.
struct Case {
    what: &'static str,
    v1: (&'static str, &'static str, &'static str),
    v2: (&'static str, &'static str),
}

#[rustfmt::skip]
const ON_CREATE: &[Case] = &[
    Case { what: "memory limit", v1: ("memory", "memory.limit_in_bytes", "67108864"), v2: ("memory.max", "67108864") },
    Case { what: "memory reservation", v1: ("memory", "memory.soft_limit_in_bytes", "33554432"), v2: ("memory.low", "33554432") },
    Case { what: "memory swappiness", v1: ("memory", "memory.swappiness", "30"), v2: ("", "") },
    Case { what: "unified", v1: ("", "", ""), v2: ("memory.high", "50331648") },
    // 512 shares: cpu.weight 59 on v2 (runc's conversion).
    Case { what: "cpu shares", v1: ("cpu", "cpu.shares", "512"), v2: ("cpu.weight", "59") },
    Case { what: "cpu quota", v1: ("cpu", "cpu.cfs_quota_us", "50000"), v2: ("cpu.max", "50000 100000") },
    Case { what: "cpu period", v1: ("cpu", "cpu.cfs_period_us", "100000"), v2: ("cpu.max", "50000 100000") },
    Case { what: "cpuset cpus", v1: ("cpuset", "cpuset.cpus", "0"), v2: ("cpuset.cpus", "0") },
    Case { what: "cpuset mems", v1: ("cpuset", "cpuset.mems", "0"), v2: ("cpuset.mems", "0") },
    Case { what: "pids", v1: ("pids", "pids.max", "42"), v2: ("pids.max", "42") },
];

/// Controllers a host may lack (no hugetlb or net_cls hierarchy here, no BFQ or io.cost
/// weight): set by `update` where the container's cgroup has the file.
#[rustfmt::skip]
fn optional() -> Vec<(Case, serde_json::Value)> {
    vec![
        (Case { what: "hugetlb", v1: ("hugetlb", "hugetlb.2MB.limit_in_bytes", "4194304"), v2: ("hugetlb.2MB.max", "4194304") },
         json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]})),
        // blkio weight 500: io.weight 4950 on v2 (runc's conversion).
        (Case { what: "blkio weight", v1: ("blkio", "blkio.weight", "500"), v2: ("io.weight", "default 4950") },
         json!({"blockIO": {"weight": 500}})),
        (Case { what: "net_cls", v1: ("net_cls", "net_cls.classid", "1048577"), v2: ("", "") },
         json!({"network": {"classID": 1048577}})),
    ]
}

#[test]
fn every_resource_the_host_has_is_written_and_read_back() {
    require_root!();
    every_resource(false);
}

/// The same through the systemd driver: systemd gets what it can express and cgroupfs
/// the rest, and the unit's cgroup must hold every value. Needs systemd as PID 1 on a
/// cgroup v2 host (the systemd VM of integration/vm-tests.sh).
#[test]
fn every_resource_through_systemd() {
    require_root!();
    let init = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    if init.trim() != "systemd" || !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        return eprintln!("skipped: needs systemd as PID 1 on a cgroup v2 host");
    }
    every_resource(true);
}

fn every_resource(systemd: bool) {
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let hull = Hull::default();
    let mut b = Bundle::new(&["sleep", "1000"]);
    let mut resources = json!({
        "memory": {"limit": 64 << 20, "reservation": 32 << 20},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 42},
    });
    if v2 {
        resources["unified"] = json!({"memory.high": "50331648"});
    } else {
        resources["memory"]["swappiness"] = json!(30);
    }
    b.edit(|c| c["linux"]["resources"] = resources.clone());
    let id = id("res");
    let _g = common::DeleteOnPanic::new(&hull, &id);
    let mut args = vec!["run", "-d", "--bundle", b.path().to_str().unwrap(), &id];
    if systemd {
        args.insert(0, "--systemd-cgroup");
    }
    let r = hull.run_detached(&args);
    assert_eq!(r.code, 0, "run -d: {}", r.stderr);
    let v2_dir = match systemd {
        true => format!("/sys/fs/cgroup/system.slice/hull-{id}.scope"),
        false => format!("/sys/fs/cgroup/{id}"),
    };

    let where_ = |c: &Case| match v2 {
        true => (Path::new(&v2_dir).join(c.v2.0), c.v2.0, c.v2.1),
        false => (file(&id, c.v1.0, c.v1.1), c.v1.1, c.v1.2),
    };
    let (mut checked, mut skipped) = (Vec::new(), Vec::new());
    for c in ON_CREATE {
        let (path, name, want) = where_(c);
        if name.is_empty() {
            continue;
        }
        let got = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", c.what));
        assert_eq!(got.trim(), want, "{}: {}", c.what, path.display());
        checked.push(c.what);
    }
    for (c, resources) in optional() {
        let (path, name, want) = where_(&c);
        if name.is_empty() {
            continue;
        }
        if !path.exists() {
            skipped.push(format!("{} ({} absent)", c.what, path.display()));
            continue;
        }
        update(&hull, &id, c.what, &resources);
        let got = std::fs::read_to_string(&path).unwrap();
        assert_eq!(got.trim(), want, "{}: {}", c.what, path.display());
        checked.push(c.what);
    }
    eprintln!("checked: {}", checked.join(", "));
    eprintln!("skipped, no such file on this host: {}", skipped.join("; "));
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

/// Mounts a v1 hierarchy of `controllers` at `dir`: Err with the reason when the kernel
/// will not (no such controller, or it is in use elsewhere).
fn mount_v1(dir: &Path, controllers: &str) -> Result<(), String> {
    use std::ffi::CString;
    std::fs::create_dir_all(dir).unwrap();
    let target = CString::new(dir.to_str().unwrap()).unwrap();
    let data = CString::new(controllers).unwrap();
    // SAFETY: valid C strings.
    let rc = unsafe {
        libc::mount(
            c"cgroup".as_ptr(),
            target.as_ptr(),
            c"cgroup".as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(format!(
            "cannot mount a v1 {controllers} hierarchy: {}",
            std::io::Error::last_os_error()
        )),
    }
}

/// The v1 hierarchy `controller` is bound to, 0 for none (/proc/cgroups).
fn hierarchy_of(controller: &str) -> u32 {
    let text = std::fs::read_to_string("/proc/cgroups").unwrap_or_default();
    let line = text
        .lines()
        .find(|l| l.split('\t').next() == Some(controller));
    line.and_then(|l| l.split('\t').nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// The test's v1 hierarchies: (mount point, controllers, one of them). Dropped, they are
/// unmounted until the kernel has destroyed them: it destroys a hierarchy at its last
/// unmount only when no child cgroup is left, a dying one included, and otherwise keeps
/// it, unmounted, with its controllers (hugetlb would stay off the host's cgroup2).
/// Mounting it again once the child is freed, and unmounting, ends it.
struct Hierarchies(Vec<(PathBuf, &'static str, &'static str)>);

impl Drop for Hierarchies {
    fn drop(&mut self) {
        for _ in 0..300 {
            for (dir, ..) in &self.0 {
                let target = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
                // SAFETY: a valid C string.
                unsafe { libc::umount2(target.as_ptr(), 0) };
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            let left: Vec<_> = self.0.iter().filter(|h| hierarchy_of(h.2) != 0).collect();
            if left.is_empty() {
                return;
            }
            for (dir, controllers, _) in left {
                let _ = mount_v1(dir, controllers);
            }
        }
        panic!("the test's v1 hierarchies live on after 30 s");
    }
}

/// net_cls, net_prio and hugetlb have no v1 hierarchy on this host (they sit unused on
/// its empty cgroup2). This test mounts them as v1 hierarchies in a private mount
/// namespace of one thread of its own, starts hull from that thread (so hull finds them
/// in its mountinfo), and reads the values back. The host's mounts are untouched; each
/// hierarchy ends with the namespace, once its cgroups are gone.
#[test]
fn v1_hierarchies_the_host_leaves_unmounted() {
    require_root!();
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        return eprintln!("skipped: a pure cgroup v2 host has no v1 hierarchies");
    }
    std::thread::spawn(|| {
        // SAFETY: this thread's own mount namespace, made private so no mount leaks out.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) != 0
                || libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) != 0
            {
                panic!(
                    "private mount namespace: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
        let top = tempfile::tempdir().unwrap();
        let net = top.path().join("net_cls,net_prio");
        let huge = top.path().join("hugetlb");
        let mut resources = json!({});
        let mut skipped = Vec::new();
        let mut mounted = Hierarchies(Vec::new());
        match mount_v1(&net, "net_cls,net_prio") {
            Ok(()) => {
                mounted.0.push((net.clone(), "net_cls,net_prio", "net_cls"));
                resources["network"] =
                    json!({"classID": 1048577, "priorities": [{"name": "lo", "priority": 5}]})
            }
            Err(why) => skipped.push(why),
        }
        if !Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
            skipped.push("no 2MB huge pages".into());
        } else {
            match mount_v1(&huge, "hugetlb") {
                Ok(()) => {
                    mounted.0.push((huge.clone(), "hugetlb", "hugetlb"));
                    resources["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 4 << 20}])
                }
                Err(why) => skipped.push(why),
            }
        }
        if !skipped.is_empty() {
            eprintln!("skipped: {}", skipped.join("; "));
        }
        if resources.as_object().unwrap().is_empty() {
            return;
        }
        let hull = Hull::default();
        let id = id("v1more");
        let mut b = Bundle::new(&["sleep", "1000"]);
        b.edit(|c| c["linux"]["resources"] = resources.clone());
        let _g = common::DeleteOnPanic::new(&hull, &id);
        hull.run_d(&b, &id);
        let read = |dir: &Path, name: &str| {
            std::fs::read_to_string(dir.join(&id).join(name))
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let pid = hull.state(&id)["pid"].as_i64().unwrap();
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        if resources.get("network").is_some() {
            assert_eq!(read(&net, "net_cls.classid").trim(), "1048577");
            let map = read(&net, "net_prio.ifpriomap");
            assert!(map.lines().any(|l| l == "lo 5"), "{map}");
            assert!(own.contains(&format!(":net_cls,net_prio:/{id}\n")), "{own}");
            update(&hull, &id, "network", &json!({"network": {"classID": 2}}));
            assert_eq!(read(&net, "net_cls.classid").trim(), "2");
        }
        if resources.get("hugepageLimits").is_some() {
            assert_eq!(read(&huge, "hugetlb.2MB.limit_in_bytes").trim(), "4194304");
            assert!(own.contains(&format!(":hugetlb:/{id}\n")), "{own}");
            update(
                &hull,
                &id,
                "hugetlb",
                &json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 20}]}),
            );
            assert_eq!(read(&huge, "hugetlb.2MB.limit_in_bytes").trim(), "2097152");
        }
        assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
        for dir in [&net, &huge] {
            let left = dir.join(&id);
            assert!(!left.exists(), "{} left behind", left.display());
        }
        assert_no_leaks(&hull, &id, b.path());
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

/// A soft-RoCE RDMA device (rdma_rxe over a dummy link) for the rdma controller, which
/// limits only devices that exist. Removed on drop.
struct SoftRoce {
    link: String,
    device: String,
}

impl SoftRoce {
    fn new() -> Result<SoftRoce, String> {
        let n = std::process::id() % 100_000;
        let r = SoftRoce {
            link: format!("hrxe{n}"),
            device: format!("hrxe{n}r"),
        };
        let run = |args: &[&str]| {
            let out = std::process::Command::new(args[0])
                .args(&args[1..])
                .output();
            match out {
                Ok(o) if o.status.success() => Ok(()),
                Ok(o) => Err(format!(
                    "{}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&o.stderr).trim()
                )),
                Err(e) => Err(format!("{}: {e}", args[0])),
            }
        };
        run(&["modprobe", "rdma_rxe"])?;
        run(&["ip", "link", "add", &r.link, "type", "dummy"])?;
        run(&["ip", "link", "set", &r.link, "up"])?;
        run(&[
            "rdma", "link", "add", &r.device, "type", "rxe", "netdev", &r.link,
        ])?;
        Ok(r)
    }
}

impl Drop for SoftRoce {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rdma")
            .args(["link", "delete", &self.device])
            .output();
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.link])
            .output();
    }
}

#[test]
fn rdma_limits_on_a_soft_roce_device() {
    require_root!();
    let procs = std::fs::read_to_string("/proc/cgroups").unwrap_or_default();
    if !procs.lines().any(|l| l.starts_with("rdma\t")) {
        return eprintln!("skipped: the kernel has no rdma cgroup controller");
    }
    let dev = match SoftRoce::new() {
        Ok(d) => d,
        Err(why) => return eprintln!("skipped: no soft-RoCE device: {why}"),
    };
    let hull = Hull::default();
    let id = id("rdma");
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.edit(|c| {
        c["linux"]["resources"] =
            json!({"rdma": {&dev.device: {"hcaHandles": 2, "hcaObjects": 2000}}})
    });
    let _g = common::DeleteOnPanic::new(&hull, &id);
    hull.run_d(&b, &id);
    let max = file(&id, "rdma", "rdma.max");
    let line = |text: String| {
        text.lines()
            .find(|l| l.starts_with(&format!("{} ", dev.device)))
            .unwrap_or_else(|| panic!("{} not in rdma.max: {text:?}", dev.device))
            .trim()
            .to_string()
    };
    let want = format!("{} hca_handle=2 hca_object=2000", dev.device);
    assert_eq!(line(std::fs::read_to_string(&max).unwrap()), want);
    update(
        &hull,
        &id,
        "rdma",
        &json!({"rdma": {&dev.device: {"hcaHandles": 3, "hcaObjects": 100}}}),
    );
    let want = format!("{} hca_handle=3 hca_object=100", dev.device);
    assert_eq!(line(std::fs::read_to_string(&max).unwrap()), want);
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

/// blkio throttles (v1 blkio.throttle.*, v2 io.max) for a block device the host has.
#[test]
fn blkio_throttles_are_written_and_read_back() {
    require_root!();
    let mut devices: Vec<String> = std::fs::read_dir("/sys/block")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
        .map(|d| d.trim().to_string())
        .collect();
    devices.sort();
    let Some(dev) = devices.first().cloned() else {
        return eprintln!("skipped: no block device in /sys/block");
    };
    let (major, minor) = dev.split_once(':').unwrap();
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let hull = Hull::default();
    let id = id("throttle");
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.edit(|c| {
        c["linux"]["resources"] = json!({"blockIO": {
            "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
            "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}],
        }})
    });
    let _g = common::DeleteOnPanic::new(&hull, &id);
    hull.run_d(&b, &id);
    let read = |name: &str| {
        let path = file(&id, "blkio", name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let has_line = |text: String, want: &str| {
        assert!(
            text.lines().any(|l| l.trim() == want),
            "{want:?} not in {text:?}"
        );
    };
    if v2 {
        has_line(
            read("io.max"),
            &format!("{dev} rbps=1048576 wbps=max riops=max wiops=100"),
        );
    } else {
        has_line(
            read("blkio.throttle.read_bps_device"),
            &format!("{dev} 1048576"),
        );
        has_line(
            read("blkio.throttle.write_iops_device"),
            &format!("{dev} 100"),
        );
    }
    update(
        &hull,
        &id,
        "throttle",
        &json!({"blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 2097152}]}}),
    );
    match v2 {
        true => has_line(
            read("io.max"),
            &format!("{dev} rbps=2097152 wbps=max riops=max wiops=100"),
        ),
        false => has_line(
            read("blkio.throttle.read_bps_device"),
            &format!("{dev} 2097152"),
        ),
    }
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn pids_limit_zero_is_one_and_an_empty_pids_sets_nothing() {
    require_root!();
    let hull = Hull::default();
    for (pids, want) in [(json!({"limit": 0}), "1"), (json!({}), "max")] {
        let mut b = Bundle::new(&["sleep", "1000"]);
        b.edit(|c| c["linux"]["resources"] = json!({"pids": pids}));
        let id = id("pids0");
        let _g = common::DeleteOnPanic::new(&hull, &id);
        hull.run_d(&b, &id);
        let got = std::fs::read_to_string(file(&id, "pids", "pids.max")).unwrap();
        assert_eq!(got.trim(), want, "pids {pids}");
        assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
        assert_no_leaks(&hull, &id, b.path());
    }
}

#[test]
fn a_cgroup_with_processes_or_frozen_is_refused_and_left_alone() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sleep", "1000"]);
    let owner = id("owner");
    let _g = common::DeleteOnPanic::new(&hull, &owner);
    hull.run_d(&b, &owner);
    // A second container asking for the first one's cgroup (runc's check and words).
    let mut intruder = Bundle::new(&["true"]);
    intruder.edit(|c| c["linux"]["cgroupsPath"] = json!(format!("/{owner}")));
    let other = id("intruder");
    let r = hull.create(&intruder, &other);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("container's cgroup is not empty: 1 process(es) found"),
        "{}",
        r.stderr
    );
    assert!(!hull.state_dir(&other).exists());
    assert_eq!(hull.status(&owner), "running", "the owner is untouched");
    assert!(file(&owner, "pids", "cgroup.procs").exists());
    assert_eq!(hull.run(&["delete", "-f", &owner]).code, 0);
    assert_no_leaks(&hull, &owner, b.path());

    // An empty but frozen cgroup: the init would hang in it.
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let frozen = id("frozen");
    let (dir, file_name, value) = match v2 {
        true => (
            PathBuf::from(format!("/sys/fs/cgroup/{frozen}")),
            "cgroup.freeze",
            "1",
        ),
        false => (
            PathBuf::from(format!("/sys/fs/cgroup/freezer/{frozen}")),
            "freezer.state",
            "FROZEN",
        ),
    };
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join(file_name), value).unwrap();
    let mut b = Bundle::new(&["true"]);
    b.edit(|c| c["linux"]["cgroupsPath"] = json!(format!("/{frozen}")));
    let r = hull.create(&b, &frozen);
    let _ = std::fs::remove_dir(&dir);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("container's cgroup unexpectedly frozen"),
        "{}",
        r.stderr
    );
    assert!(!hull.state_dir(&frozen).exists());
    common::remove_default_cgroup(&frozen);
    assert_no_leaks(&hull, &frozen, b.path());
}

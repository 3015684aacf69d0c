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
        true => PathBuf::from(format!("/sys/fs/cgroup/hull-{id}/{name}")),
        false => PathBuf::from(format!("/sys/fs/cgroup/{controller}/hull-{id}/{name}")),
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
    hull.run_d(&b, &id);

    let where_ = |c: &Case| match v2 {
        true => (file(&id, "", c.v2.0), c.v2.0, c.v2.1),
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

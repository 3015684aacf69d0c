//! Resource usage read back from the container's cgroup, in runc's `events --stats` shape
//! (field names and omit-when-zero rules of runc's `types.Stats`), for v1 and v2 alike.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::CgroupPaths;

fn zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Serialize, Default, Debug)]
pub struct CpuUsage {
    /// Nanoseconds.
    #[serde(skip_serializing_if = "zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct Throttling {
    #[serde(skip_serializing_if = "zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "zero")]
    pub throttled_periods: u64,
    #[serde(rename = "throttledTime", skip_serializing_if = "zero")]
    pub throttled_time: u64,
}

/// Pressure stall information over 10, 60 and 300 s, and the total stall in microseconds.
#[derive(Serialize, Default, Debug, PartialEq)]
pub struct PsiData {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    pub total: u64,
}

impl PsiData {
    fn is_zero(&self) -> bool {
        *self == PsiData::default()
    }
}

/// A v2 `*.pressure` file: some and full.
#[derive(Serialize, Default, Debug, PartialEq)]
pub struct Psi {
    #[serde(skip_serializing_if = "PsiData::is_zero")]
    pub some: PsiData,
    #[serde(skip_serializing_if = "PsiData::is_zero")]
    pub full: PsiData,
}

#[derive(Serialize, Default, Debug)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<Psi>,
}

/// v1 cpuset (runc reports none on v2).
#[derive(Serialize, Default, Debug)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Serialize, Default, Debug)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct Memory {
    #[serde(skip_serializing_if = "zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<Psi>,
}

#[derive(Serialize, Default, Debug)]
pub struct Pids {
    #[serde(skip_serializing_if = "zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "zero")]
    pub limit: u64,
}

#[derive(Serialize, Default, Debug, PartialEq, Eq)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "zero")]
    pub value: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct Blkio {
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<Psi>,
}

#[derive(Serialize, Default, Debug)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

/// A single number; "max" (no limit) reads as 0, as runc reports it.
fn num(dir: &Path, file: &str) -> u64 {
    read(dir, file)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// `key value` lines (memory.stat, cpu.stat, memory.events...).
fn keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn numbers(text: &str) -> Vec<u64> {
    text.split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// A `*.pressure` file: `some avg10=0.00 avg60=0.00 avg300=0.00 total=0`, then `full ...`.
pub(crate) fn parse_psi(text: &str) -> Psi {
    let mut psi = Psi::default();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let data = match f.next() {
            Some("some") => &mut psi.some,
            Some("full") => &mut psi.full,
            _ => continue,
        };
        for (k, v) in f.filter_map(|kv| kv.split_once('=')) {
            match k {
                "avg10" => data.avg10 = v.parse().unwrap_or(0.0),
                "avg60" => data.avg60 = v.parse().unwrap_or(0.0),
                "avg300" => data.avg300 = v.parse().unwrap_or(0.0),
                "total" => data.total = v.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    psi
}

/// Page sizes of hugetlb, named as the cgroup files name them ("2MB", "1GB").
fn hugepage_sizes() -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/sys/kernel/mm/hugepages")
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(kb) = name
            .strip_prefix("hugepages-")
            .and_then(|s| s.strip_suffix("kB"))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        out.push(match kb {
            kb if kb >= 1 << 20 => format!("{}GB", kb >> 20),
            kb if kb >= 1 << 10 => format!("{}MB", kb >> 10),
            kb => format!("{kb}KB"),
        });
    }
    out.sort();
    out
}

/// v1 blkio lines: `MAJ:MIN Op value` (the `Total` line has no device and is skipped).
pub(crate) fn parse_blkio_v1(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (maj, min) = f.next()?.split_once(':')?;
            Some(BlkioEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                op: f.next()?.to_string(),
                value: f.next()?.parse().ok()?,
            })
        })
        .collect()
}

/// v2 io.stat: `MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...` as runc maps it.
pub(crate) fn parse_io_stat(text: &str) -> Blkio {
    let mut b = Blkio::default();
    for l in text.lines() {
        let mut f = l.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let value = v.parse().unwrap_or(0);
            let (list, op) = match k {
                "rbytes" => (&mut b.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut b.io_service_bytes_recursive, "Write"),
                "rios" => (&mut b.io_serviced_recursive, "Read"),
                "wios" => (&mut b.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    b
}

fn v1_stats(paths: &CgroupPaths) -> Stats {
    let mut s = Stats::default();
    if let Some(d) = paths.v1_dir("cpuacct") {
        s.cpu.usage.total = num(d, "cpuacct.usage");
        s.cpu.usage.percpu = read(d, "cpuacct.usage_percpu")
            .map(|t| numbers(&t))
            .unwrap_or_default();
        s.cpu.usage.percpu_kernel = read(d, "cpuacct.usage_percpu_sys")
            .map(|t| numbers(&t))
            .unwrap_or_default();
        s.cpu.usage.percpu_user = read(d, "cpuacct.usage_percpu_user")
            .map(|t| numbers(&t))
            .unwrap_or_default();
        s.cpu.usage.kernel = num(d, "cpuacct.usage_sys");
        s.cpu.usage.user = num(d, "cpuacct.usage_user");
    }
    if let Some(d) = paths.v1_dir("cpu") {
        let st = keyed(&read(d, "cpu.stat").unwrap_or_default());
        s.cpu.throttling = Throttling {
            periods: st.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: st.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: st.get("throttled_time").copied().unwrap_or(0),
        };
    }
    if let Some(d) = paths.v1_dir("cpuset") {
        let list = |f: &str| {
            read(d, f)
                .and_then(|t| crate::resources::cpu_list(t.trim()))
                .unwrap_or_default()
        };
        s.cpuset = CpuSet {
            cpus: list("cpuset.cpus"),
            cpu_exclusive: num(d, "cpuset.cpu_exclusive"),
            mems: list("cpuset.mems"),
            mem_hardwall: num(d, "cpuset.mem_hardwall"),
            mem_exclusive: num(d, "cpuset.mem_exclusive"),
            memory_migrate: num(d, "cpuset.memory_migrate"),
            memory_spread_page: num(d, "cpuset.memory_spread_page"),
            memory_spread_slab: num(d, "cpuset.memory_spread_slab"),
            memory_pressure: num(d, "cpuset.memory_pressure"),
            sched_load_balance: num(d, "cpuset.sched_load_balance"),
            sched_relax_domain_level: read(d, "cpuset.sched_relax_domain_level")
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0),
        };
    }
    if let Some(d) = paths.v1_dir("memory") {
        let entry = |prefix: &str| MemoryEntry {
            limit: num(d, &format!("{prefix}limit_in_bytes")),
            usage: num(d, &format!("{prefix}usage_in_bytes")),
            max: num(d, &format!("{prefix}max_usage_in_bytes")),
            failcnt: num(d, &format!("{prefix}failcnt")),
        };
        s.memory.usage = entry("memory.");
        s.memory.swap = entry("memory.memsw.");
        s.memory.kernel = entry("memory.kmem.");
        s.memory.kernel_tcp = entry("memory.kmem.tcp.");
        s.memory.raw = keyed(&read(d, "memory.stat").unwrap_or_default());
        s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
    }
    if let Some(d) = paths.v1_dir("pids") {
        s.pids = Pids {
            current: num(d, "pids.current"),
            limit: num(d, "pids.max"),
        };
    }
    if let Some(d) = paths.v1_dir("blkio") {
        // The CFQ/BFQ files count what the scheduler saw; throttle's count everything.
        let pick = |names: [&str; 2]| {
            names
                .iter()
                .filter_map(|n| read(d, n))
                .map(|t| parse_blkio_v1(&t))
                .find(|v| !v.is_empty())
                .unwrap_or_default()
        };
        s.blkio.io_service_bytes_recursive = pick([
            "blkio.io_service_bytes_recursive",
            "blkio.throttle.io_service_bytes_recursive",
        ]);
        s.blkio.io_serviced_recursive = pick([
            "blkio.io_serviced_recursive",
            "blkio.throttle.io_serviced_recursive",
        ]);
    }
    if let Some(d) = paths.v1_dir("hugetlb") {
        for size in hugepage_sizes() {
            let p = format!("hugetlb.{size}.");
            s.hugetlb.insert(
                size,
                Hugetlb {
                    usage: num(d, &format!("{p}usage_in_bytes")),
                    max: num(d, &format!("{p}max_usage_in_bytes")),
                    failcnt: num(d, &format!("{p}failcnt")),
                },
            );
        }
    }
    s
}

fn v2_stats(d: &Path) -> Stats {
    let mut s = Stats::default();
    let cpu = keyed(&read(d, "cpu.stat").unwrap_or_default());
    let get = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    s.cpu.usage.total = get(&cpu, "usage_usec") * 1000;
    s.cpu.usage.user = get(&cpu, "user_usec") * 1000;
    s.cpu.usage.kernel = get(&cpu, "system_usec") * 1000;
    s.cpu.throttling = Throttling {
        periods: get(&cpu, "nr_periods"),
        throttled_periods: get(&cpu, "nr_throttled"),
        throttled_time: get(&cpu, "throttled_usec") * 1000,
    };
    let events = keyed(&read(d, "memory.events").unwrap_or_default());
    s.memory.usage = MemoryEntry {
        limit: num(d, "memory.max"),
        usage: num(d, "memory.current"),
        max: num(d, "memory.peak"),
        failcnt: get(&events, "max"),
    };
    s.memory.swap = MemoryEntry {
        limit: num(d, "memory.swap.max"),
        usage: num(d, "memory.swap.current"),
        max: num(d, "memory.swap.peak"),
        failcnt: 0,
    };
    s.memory.raw = keyed(&read(d, "memory.stat").unwrap_or_default());
    s.memory.cache = get(&s.memory.raw, "file");
    s.pids = Pids {
        current: num(d, "pids.current"),
        limit: num(d, "pids.max"),
    };
    s.blkio = parse_io_stat(&read(d, "io.stat").unwrap_or_default());
    // Pressure files exist where the kernel has PSI turned on.
    let psi = |f: &str| read(d, f).map(|t| parse_psi(&t));
    s.cpu.psi = psi("cpu.pressure");
    s.memory.psi = psi("memory.pressure");
    s.blkio.psi = psi("io.pressure");
    for size in hugepage_sizes() {
        let ev = keyed(&read(d, &format!("hugetlb.{size}.events")).unwrap_or_default());
        s.hugetlb.insert(
            size.clone(),
            Hugetlb {
                usage: num(d, &format!("hugetlb.{size}.current")),
                max: 0,
                failcnt: get(&ev, "max"),
            },
        );
    }
    s
}

/// The container's resource usage now. Files a kernel or host lacks read as zero.
pub fn stats(paths: &CgroupPaths) -> Stats {
    match (&paths.unified, paths.v2) {
        (Some(d), true) => v2_stats(d),
        _ => v1_stats(paths),
    }
}

/// How many times the OOM killer has killed in the container's cgroup (v1
/// memory.oom_control, v2 memory.events), for `events` to report each new one.
pub fn oom_kills(paths: &CgroupPaths) -> u64 {
    let (dir, file) = match (&paths.unified, paths.v2) {
        (Some(d), true) => (d.as_path(), "memory.events"),
        _ => match paths.v1_dir("memory") {
            Some(d) => (d, "memory.oom_control"),
            None => return 0,
        },
    };
    read(dir, file)
        .map(|t| keyed(&t).get("oom_kill").copied().unwrap_or(0))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_files_to_stats() {
        let tmp = tempfile::tempdir().unwrap();
        let mk = |ctrl: &str, files: &[(&str, &str)]| {
            let d = tmp.path().join(ctrl).join("c");
            std::fs::create_dir_all(&d).unwrap();
            for (f, v) in files {
                std::fs::write(d.join(f), v).unwrap();
            }
        };
        mk(
            "cpu,cpuacct",
            &[
                ("cpuacct.usage", "5000\n"),
                ("cpuacct.usage_percpu", "3000 2000 \n"),
                ("cpuacct.usage_sys", "1000\n"),
                ("cpuacct.usage_user", "4000\n"),
                (
                    "cpu.stat",
                    "nr_periods 4\nnr_throttled 1\nthrottled_time 77\n",
                ),
            ],
        );
        mk(
            "memory",
            &[
                ("memory.usage_in_bytes", "4096\n"),
                ("memory.limit_in_bytes", "1048576\n"),
                ("memory.max_usage_in_bytes", "8192\n"),
                ("memory.failcnt", "2\n"),
                ("memory.stat", "cache 123\nrss 456\n"),
                (
                    "memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
                ),
            ],
        );
        mk("pids", &[("pids.current", "2\n"), ("pids.max", "max\n")]);
        mk(
            "cpuset",
            &[
                ("cpuset.cpus", "0-2,5\n"),
                ("cpuset.mems", "0\n"),
                ("cpuset.sched_load_balance", "1\n"),
                ("cpuset.sched_relax_domain_level", "-1\n"),
            ],
        );
        mk(
            "blkio",
            &[(
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 512\n8:0 Write 1024\nTotal 1536\n",
            )],
        );
        let layout = crate::Layout::fake_v1(&[
            ("cpu,cpuacct", &tmp.path().join("cpu,cpuacct")),
            ("memory", &tmp.path().join("memory")),
            ("pids", &tmp.path().join("pids")),
            ("blkio", &tmp.path().join("blkio")),
            ("cpuset", &tmp.path().join("cpuset")),
        ]);
        let paths = crate::plan(&layout, "/c").unwrap();
        let s = stats(&paths);
        assert_eq!(s.cpu.usage.total, 5000);
        assert_eq!(s.cpu.usage.percpu, [3000, 2000]);
        assert_eq!((s.cpu.usage.kernel, s.cpu.usage.user), (1000, 4000));
        assert_eq!(s.cpu.throttling.throttled_time, 77);
        assert_eq!(s.memory.usage.usage, 4096);
        assert_eq!(s.memory.usage.limit, 1048576);
        assert_eq!(s.memory.usage.failcnt, 2);
        assert_eq!(s.memory.cache, 123);
        assert_eq!(s.memory.raw["rss"], 456);
        assert_eq!((s.pids.current, s.pids.limit), (2, 0), "max reads as 0");
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
        assert_eq!(s.blkio.io_service_bytes_recursive[1].value, 1024);
        assert_eq!(oom_kills(&paths), 3);
        assert_eq!(s.cpuset.cpus, [0, 1, 2, 5]);
        assert_eq!(s.cpuset.mems, [0]);
        assert_eq!(s.cpuset.sched_load_balance, 1);
        assert_eq!(s.cpuset.sched_relax_domain_level, -1);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["memory"]["usage"]["limit"], 1048576);
        assert_eq!(v["cpu"]["throttling"]["throttledPeriods"], 1);
        assert!(
            v["pids"].get("limit").is_none(),
            "omitted when zero, as runc"
        );
    }

    #[test]
    fn pressure_files() {
        let p = parse_psi(
            "some avg10=1.50 avg60=0.25 avg300=0.00 total=12345\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        );
        assert_eq!(
            p.some,
            PsiData {
                avg10: 1.5,
                avg60: 0.25,
                avg300: 0.0,
                total: 12345
            }
        );
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["some"]["total"], 12345);
        assert!(
            v.get("full").is_none(),
            "all-zero full is left out, as runc"
        );
    }

    #[test]
    fn v2_io_stat() {
        let b = parse_io_stat("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!(
            b.io_service_bytes_recursive,
            [
                BlkioEntry {
                    major: 8,
                    minor: 0,
                    op: "Read".into(),
                    value: 10
                },
                BlkioEntry {
                    major: 8,
                    minor: 0,
                    op: "Write".into(),
                    value: 20
                }
            ]
        );
        assert_eq!(b.io_serviced_recursive[1].value, 2);
    }
}

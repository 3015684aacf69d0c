//! `linux.resources` -> cgroup files, for v1 and v2, translated as runc translates them.
//!
//! [`prepare`] checks every value and works out every write (reading what the choice of
//! file or order depends on) before [`apply`] writes anything, so that a bad config
//! applies nothing. What runc ignores on a hierarchy is ignored here too: on v1 the kernel
//! memory limits (deprecated by the kernel) and `useHierarchy`; on v2 also `network`,
//! `swappiness`, `disableOOMKiller`, the realtime CPU values and `leafWeight`, which v2
//! has no file for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use crate::devices::{self, Emulator};
use crate::{bpf, io_err, open_for_write, write_file, write_value, CgroupPaths, Error, Result};

/// One cgroup file write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The controller whose directory has the file ("unified": a key of `unified`).
    pub controller: &'static str,
    pub file: String,
    pub value: String,
    /// The kernel may lack this file (an older kernel, no swap accounting): then skipped.
    pub optional: bool,
    /// EINVAL is expected while a partner value written later is still the old one (CFS
    /// period and burst against the quota, RT period against the runtime): then tried
    /// again after the next write.
    pub retry: bool,
}

/// Everything [`apply`] does, worked out before the first write.
#[derive(Debug, Default)]
pub struct Prepared {
    pub writes: Vec<Write>,
    /// v2 only: the device rules' state, for a BPF program (None: devices unchanged).
    devices_v2: Option<Emulator>,
}

#[derive(Default)]
struct Writes(Vec<Write>);

impl Writes {
    fn push(&mut self, controller: &'static str, file: &str, value: impl ToString) {
        self.add(controller, file, value, false, false);
    }
    fn add(&mut self, c: &'static str, file: &str, v: impl ToString, optional: bool, retry: bool) {
        self.0.push(Write {
            controller: c,
            file: file.to_string(),
            value: v.to_string(),
            optional,
            retry,
        });
    }
}

fn invalid(msg: String) -> Error {
    Error::Invalid(msg)
}

/// runc's conversion of cpu.shares [2, 262144] to cpu.weight [1, 10000]: a curve through
/// (2, 1), (1024, 100) and (262144, 10000), so the default shares give the default weight.
pub fn shares_to_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        1..=2 => 1,
        262_144.. => 10_000,
        _ => {
            let l = (shares as f64).log2();
            let exp = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            10f64.powf(exp).ceil() as u64
        }
    }
}

/// runc's conversion of blkio.weight [10, 1000] to io.weight [1, 10000], linear.
pub fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w) - 10) * 9999 / 990
}

/// The spec's swap is memory+swap (v1's memsw); v2's memory.swap.max is swap alone.
/// Returns the v2 value (-1 = max, 0 = unset) as runc computes it.
pub(crate) fn swap_v2(swap: i64, memory: i64) -> Result<i64> {
    Ok(match (swap, memory) {
        // Unlimited memory and no swap given: unlimited swap too, as on v1.
        (0, -1) => -1,
        (-1 | 0, _) => swap,
        (_, -1) => swap,
        (_, 0) => {
            return Err(invalid(
                "memory.swap cannot be set without memory.limit on cgroup v2".into(),
            ))
        }
        (s, m) if s < m => {
            return Err(invalid(format!(
                "memory.swap {s} is lower than memory.limit {m} (swap counts memory plus swap)"
            )))
        }
        (s, m) => s - m,
    })
}

/// A v2 limit: -1 is "max", 0 is unset (None).
fn v2_limit(v: i64) -> Option<String> {
    match v {
        0 => None,
        -1 => Some("max".into()),
        v => Some(v.to_string()),
    }
}

/// runc's reading of `pids.limit`: 0 is the lowest limit the kernel allows (1), negative
/// is none.
fn pids_value(limit: i64) -> String {
    match limit {
        0 => "1".into(),
        l if l < 0 => "max".into(),
        l => l.to_string(),
    }
}

/// A cpu or memory node list (`0-2,7`) as its numbers, ascending per range; None when it
/// is not one (an empty part included), Some(empty) for blank text. Numbers stop below
/// 65536, far above any kernel's NR_CPUS or MAX_NUMNODES.
pub(crate) fn cpu_list(s: &str) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    if s.trim().is_empty() {
        return Some(out);
    }
    for part in s.split(',').map(str::trim) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let num = |n: &str| match n.bytes().all(|b| b.is_ascii_digit()) {
            true => n.parse::<u16>().ok(),
            false => None,
        };
        let (a, b) = (num(a)?, num(b)?);
        if a > b {
            return None;
        }
        out.extend(a..=b);
    }
    Some(out)
}

/// A name that becomes part of a line or file name: no spaces, no slashes.
fn is_word(s: &str) -> bool {
    !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '/')
}

fn is_page_size(s: &str) -> bool {
    let Some(num) = s.strip_suffix('B') else {
        return false;
    };
    let num = num.trim_end_matches(['K', 'M', 'G', 'T', 'P']);
    !num.is_empty() && num.len() + 2 >= s.len() && num.bytes().all(|b| b.is_ascii_digit())
}

/// The checks that need no cgroup: every value on its own and against its partners.
pub(crate) fn check(r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        for (name, v) in [
            ("limit", m.limit()),
            ("reservation", m.reservation()),
            ("swap", m.swap()),
        ] {
            if let Some(v) = v.filter(|v| *v < -1) {
                return Err(invalid(format!(
                    "memory.{name} {v} is negative (only -1, unlimited, is allowed)"
                )));
            }
        }
        if let (Some(limit), Some(swap)) = (m.limit(), m.swap()) {
            if limit > 0 && swap > 0 && swap < limit {
                return Err(invalid(format!(
                    "memory.swap {swap} is lower than memory.limit {limit} (swap counts memory plus swap)"
                )));
            }
        }
        if let Some(s) = m.swappiness().filter(|s| *s > 100) {
            return Err(invalid(format!("memory.swappiness {s} is above 100")));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|s| *s != 0 && !(2..=262_144).contains(s)) {
            return Err(invalid(format!("cpu.shares {s} is outside [2, 262144]")));
        }
        if let Some(p) = c
            .period()
            .filter(|p| *p != 0 && !(1000..=1_000_000).contains(p))
        {
            return Err(invalid(format!(
                "cpu.period {p} is outside [1000, 1000000] microseconds"
            )));
        }
        if let Some(q) = c.quota().filter(|q| (1..1000).contains(q)) {
            return Err(invalid(format!("cpu.quota {q} is below 1000 microseconds")));
        }
        if let Some(i) = c.idle().filter(|i| *i != 0 && *i != 1) {
            return Err(invalid(format!("cpu.idle {i} is not 0 or 1")));
        }
        if let Some(rt) = c.realtime_runtime().filter(|rt| *rt < -1) {
            return Err(invalid(format!(
                "cpu.realtimeRuntime {rt} is negative (only -1, unlimited, is allowed)"
            )));
        }
        for (name, v) in [("cpus", c.cpus()), ("mems", c.mems())] {
            if let Some(v) = v
                .as_ref()
                .filter(|v| !v.is_empty() && cpu_list(v).is_none())
            {
                return Err(invalid(format!(
                    "cpu.{name} {v:?} is not a list like 0-3,6"
                )));
            }
        }
    }
    if let Some(b) = r.block_io() {
        check_blkio(b)?;
    }
    for h in r.hugepage_limits().iter().flatten() {
        if !is_page_size(h.page_size()) {
            return Err(invalid(format!(
                "hugepageLimits: page size {:?} is not like 2MB",
                h.page_size()
            )));
        }
        if h.limit() < 0 {
            return Err(invalid(format!(
                "hugepageLimits[{}].limit {} is negative",
                h.page_size(),
                h.limit()
            )));
        }
    }
    if let Some(n) = r.network() {
        for p in n.priorities().iter().flatten() {
            if !is_word(p.name()) {
                return Err(invalid(format!(
                    "network.priorities: interface name {:?} is not valid",
                    p.name()
                )));
            }
        }
    }
    for dev in r.rdma().iter().flat_map(|m| m.keys()) {
        if !is_word(dev) {
            return Err(invalid(format!("rdma: device name {dev:?} is not valid")));
        }
    }
    for key in r.unified().iter().flat_map(|m| m.keys()) {
        if !is_word(key) || key == "." || key == ".." {
            return Err(invalid(format!(
                "unified: key {key:?} must be a file name (no slashes)"
            )));
        }
    }
    Ok(())
}

fn check_blkio(b: &LinuxBlockIo) -> Result<()> {
    let weight = |name: &str, w: Option<u16>| match w {
        Some(w) if w != 0 && !(10..=1000).contains(&w) => {
            Err(invalid(format!("blockIO.{name} {w} is outside [10, 1000]")))
        }
        _ => Ok(()),
    };
    let device = |name: &str, major: i64, minor: i64| {
        if major < 0 || minor < 0 || major > i64::from(u32::MAX) || minor > i64::from(u32::MAX) {
            Err(invalid(format!(
                "blockIO.{name}: device {major}:{minor} is not valid"
            )))
        } else {
            Ok(())
        }
    };
    weight("weight", b.weight())?;
    weight("leafWeight", b.leaf_weight())?;
    for d in b.weight_device().iter().flatten() {
        device("weightDevice", d.major(), d.minor())?;
        weight("weightDevice weight", d.weight())?;
        weight("weightDevice leafWeight", d.leaf_weight())?;
    }
    for (name, list) in throttles(b) {
        for d in list {
            device(name, d.major(), d.minor())?;
        }
    }
    Ok(())
}

type Throttle = oci_spec::runtime::LinuxThrottleDevice;

fn list(v: &Option<Vec<Throttle>>) -> &[Throttle] {
    v.as_deref().unwrap_or(&[])
}

/// The four throttle lists with their spec names, in runc's order.
fn throttles(b: &LinuxBlockIo) -> [(&'static str, &[Throttle]); 4] {
    [
        ("throttleReadBpsDevice", list(b.throttle_read_bps_device())),
        (
            "throttleWriteBpsDevice",
            list(b.throttle_write_bps_device()),
        ),
        (
            "throttleReadIOPSDevice",
            list(b.throttle_read_iops_device()),
        ),
        (
            "throttleWriteIOPSDevice",
            list(b.throttle_write_iops_device()),
        ),
    ]
}

/// Reads from the cgroup while preparing.
struct Probe<'a>(&'a CgroupPaths);

impl Probe<'_> {
    fn path(&self, controller: &str, file: &str) -> Option<PathBuf> {
        self.0.controller_dir(controller).map(|d| d.join(file))
    }
    fn exists(&self, controller: &str, file: &str) -> bool {
        self.path(controller, file).is_some_and(|p| p.exists())
    }
    fn read(&self, controller: &str, file: &str) -> Option<String> {
        std::fs::read_to_string(self.path(controller, file)?).ok()
    }
    fn read_u64(&self, controller: &str, file: &str) -> Option<u64> {
        self.read(controller, file)?.trim().parse().ok()
    }
}

fn v1_memory(m: &LinuxMemory, probe: &Probe, w: &mut Writes) {
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    const MEMSW: &str = "memory.memsw.limit_in_bytes";
    // Unlimited memory with no swap given: unlimited swap too (if swap is accounted).
    if limit == -1 && swap == 0 && probe.exists("memory", MEMSW) {
        swap = -1;
    }
    // The kernel keeps memsw >= memory at every step: raise swap first when the new
    // swap is above the current memory limit, else lower memory first.
    let swap_first = limit != 0
        && swap != 0
        && (swap == -1
            || probe
                .read_u64("memory", "memory.limit_in_bytes")
                .is_some_and(|cur| cur < swap as u64));
    if swap_first {
        w.push("memory", MEMSW, swap);
    }
    if limit != 0 {
        w.push("memory", "memory.limit_in_bytes", limit);
    }
    if swap != 0 && !swap_first {
        w.push("memory", MEMSW, swap);
    }
    if let Some(v) = m.reservation().filter(|v| *v != 0) {
        w.push("memory", "memory.soft_limit_in_bytes", v);
    }
    if m.disable_oom_killer() == Some(true) {
        w.push("memory", "memory.oom_control", 1);
    }
    if let Some(v) = m.swappiness() {
        w.push("memory", "memory.swappiness", v);
    }
}

fn v1_cpu(c: &LinuxCpu, w: &mut Writes) {
    let quota = c.quota().unwrap_or(0);
    if let Some(v) = c.shares().filter(|v| *v != 0) {
        w.push("cpu", "cpu.shares", v);
    }
    if let Some(v) = c.period().filter(|v| *v != 0) {
        w.add("cpu", "cpu.cfs_period_us", v, false, quota != 0);
    }
    if let Some(v) = c.burst() {
        w.add("cpu", "cpu.cfs_burst_us", v, true, quota != 0);
    }
    if quota != 0 {
        w.push("cpu", "cpu.cfs_quota_us", quota);
    }
    if let Some(v) = c.idle() {
        w.push("cpu", "cpu.idle", v);
    }
    let runtime = c.realtime_runtime().unwrap_or(0);
    if let Some(v) = c.realtime_period().filter(|v| *v != 0) {
        w.add("cpu", "cpu.rt_period_us", v, false, runtime != 0);
    }
    if runtime != 0 {
        w.push("cpu", "cpu.rt_runtime_us", runtime);
    }
}

fn cpuset(c: &LinuxCpu, w: &mut Writes) {
    for (file, v) in [("cpuset.cpus", c.cpus()), ("cpuset.mems", c.mems())] {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            w.push("cpuset", file, v);
        }
    }
}

fn pids(r: &LinuxResources, w: &mut Writes) {
    if let Some(p) = r.pids() {
        w.push("pids", "pids.max", pids_value(p.limit()));
    }
}

fn v1_blkio(b: &LinuxBlockIo, probe: &Probe, w: &mut Writes) {
    // Kernels whose CFQ is gone have only BFQ's files.
    let (weight, weight_device) = if probe.exists("blkio", "blkio.weight") {
        ("blkio.weight", "blkio.weight_device")
    } else {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    };
    if let Some(v) = b.weight().filter(|v| *v != 0) {
        w.push("blkio", weight, v);
    }
    if let Some(v) = b.leaf_weight().filter(|v| *v != 0) {
        w.push("blkio", "blkio.leaf_weight", v);
    }
    for d in b.weight_device().iter().flatten() {
        let dev = format!("{}:{}", d.major(), d.minor());
        if let Some(v) = d.weight().filter(|v| *v != 0) {
            w.push("blkio", weight_device, format!("{dev} {v}"));
        }
        if let Some(v) = d.leaf_weight().filter(|v| *v != 0) {
            w.push("blkio", "blkio.leaf_weight_device", format!("{dev} {v}"));
        }
    }
    let files = [
        "blkio.throttle.read_bps_device",
        "blkio.throttle.write_bps_device",
        "blkio.throttle.read_iops_device",
        "blkio.throttle.write_iops_device",
    ];
    for ((_, list), file) in throttles(b).into_iter().zip(files) {
        for d in list {
            w.push(
                "blkio",
                file,
                format!("{}:{} {}", d.major(), d.minor(), d.rate()),
            );
        }
    }
}

fn v2_io(b: &LinuxBlockIo, probe: &Probe, w: &mut Writes) {
    // With BFQ, its own weight file takes blkio's scale as is; else io.weight, converted.
    let bfq = probe.read("io", "io.bfq.weight");
    if let Some(v) = b.weight().filter(|v| *v != 0) {
        match bfq {
            Some(_) => w.push("io", "io.bfq.weight", v),
            None => w.push("io", "io.weight", blkio_to_io_weight(v)),
        }
    }
    // Per-device BFQ weights (5.4+) show as "default N" lines rather than a bare number.
    if bfq.is_some_and(|t| t.trim().parse::<u64>().is_err()) {
        for d in b.weight_device().iter().flatten() {
            if let Some(v) = d.weight().filter(|v| *v != 0) {
                w.push(
                    "io",
                    "io.bfq.weight",
                    format!("{}:{} {v}", d.major(), d.minor()),
                );
            }
        }
    }
    // One io.max line per device with every limit it has.
    let mut lines: Vec<((i64, i64), String)> = Vec::new();
    for ((_, list), key) in throttles(b)
        .into_iter()
        .zip(["rbps", "wbps", "riops", "wiops"])
    {
        for d in list {
            let dev = (d.major(), d.minor());
            let i = match lines.iter().position(|(k, _)| *k == dev) {
                Some(i) => i,
                None => {
                    lines.push((dev, format!("{}:{}", dev.0, dev.1)));
                    lines.len() - 1
                }
            };
            lines[i].1 += &format!(" {key}={}", d.rate());
        }
    }
    for (_, line) in lines {
        w.push("io", "io.max", line);
    }
}

fn v2_memory(m: &LinuxMemory, probe: &Probe, w: &mut Writes) -> Result<()> {
    let (limit, swap, reservation) = (
        m.limit().unwrap_or(0),
        m.swap().unwrap_or(0),
        m.reservation().unwrap_or(0),
    );
    if limit == 0 && swap == 0 && reservation == 0 {
        return Ok(());
    }
    if m.check_before_update() == Some(true) {
        // Best effort, as runc: a cgroup without the file has nothing to check.
        if let Some(usage) = probe.read_u64("memory", "memory.current") {
            // runc's words, which people grep for.
            for (name, v) in [("memory+swap", swap), ("memory", limit)] {
                if v > 0 && v as u64 <= usage {
                    return Err(invalid(format!(
                        "rejecting {name} limit {v} <= usage {usage} (checkBeforeUpdate)"
                    )));
                }
            }
        }
    }
    let s = swap_v2(swap, limit)?;
    // Equal memory and swap means no swap: "0", which an unset 0 would not write.
    let s = v2_limit(s).or_else(|| (swap > 0).then(|| "0".to_string()));
    if let Some(s) = s {
        // Without swap accounting, "max" and "0" are what the cgroup has anyway.
        let optional = s == "max" || s == "0";
        w.add("memory", "memory.swap.max", s, optional, false);
    }
    if let Some(v) = v2_limit(limit) {
        w.push("memory", "memory.max", v);
    }
    if let Some(v) = v2_limit(reservation) {
        w.push("memory", "memory.low", v);
    }
    Ok(())
}

fn v2_cpu(c: &LinuxCpu, w: &mut Writes) {
    let quota = c.quota().unwrap_or(0);
    let period = c.period().unwrap_or(0);
    if let Some(v) = c.idle() {
        w.push("cpu", "cpu.idle", v);
    }
    if let Some(v) = c.shares().filter(|v| *v != 0) {
        w.push("cpu", "cpu.weight", shares_to_weight(v));
    }
    if let Some(v) = c.burst() {
        w.add("cpu", "cpu.max.burst", v, false, quota != 0);
    }
    if quota != 0 || period != 0 {
        let q = if quota > 0 {
            quota.to_string()
        } else {
            "max".into()
        };
        // The kernel's default period, since cpu.max wants both.
        let p = if period == 0 { 100_000 } else { period };
        w.push("cpu", "cpu.max", format!("{q} {p}"));
    }
}

fn hugetlb(r: &LinuxResources, suffix: &str, w: &mut Writes) {
    for h in r.hugepage_limits().iter().flatten() {
        let prefix = format!("hugetlb.{}", h.page_size());
        w.push("hugetlb", &format!("{prefix}.{suffix}"), h.limit());
        // Reservations (5.7+) get the same limit, so that none can overrun it.
        w.add(
            "hugetlb",
            &format!("{prefix}.rsvd.{suffix}"),
            h.limit(),
            true,
            false,
        );
    }
}

fn rdma(r: &LinuxResources, w: &mut Writes) {
    let Some(map) = r.rdma() else { return };
    let sorted: BTreeMap<_, _> = map.iter().collect();
    for (dev, l) in sorted {
        let mut line = dev.clone();
        if let Some(n) = l.hca_handles() {
            line += &format!(" hca_handle={n}");
        }
        if let Some(n) = l.hca_objects() {
            line += &format!(" hca_object={n}");
        }
        if line != *dev {
            w.push("rdma", "rdma.max", line);
        }
    }
}

fn network(r: &LinuxResources, w: &mut Writes) {
    let Some(n) = r.network() else { return };
    if let Some(id) = n.class_id().filter(|id| *id != 0) {
        w.push("net_cls", "net_cls.classid", id);
    }
    for p in n.priorities().iter().flatten() {
        w.push(
            "net_prio",
            "net_prio.ifpriomap",
            format!("{} {}", p.name(), p.priority()),
        );
    }
}

/// `unified` keys, written last so that they win over the translated values (as in
/// runc), one write per line of the value.
fn unified(
    map: &std::collections::HashMap<String, String>,
    paths: &CgroupPaths,
    w: &mut Writes,
) -> Result<()> {
    let dir = paths
        .unified
        .as_deref()
        .ok_or_else(|| invalid("unified: the container has no cgroup2 directory".into()))?;
    let sorted: BTreeMap<_, _> = map.iter().collect();
    for (key, value) in sorted {
        if !dir.join(key).exists() {
            let Some((controller, _)) = key.split_once('.') else {
                return Err(invalid(format!(
                    "unified: {key:?} is not of the form CONTROLLER.PARAMETER"
                )));
            };
            let enabled = std::fs::read_to_string(dir.join("cgroup.controllers"))
                .unwrap_or_default()
                .split_whitespace()
                .any(|c| c == controller);
            return Err(invalid(if enabled || controller == "cgroup" {
                format!("unified: the cgroup has no file {key:?}")
            } else {
                format!(
                    "unified: {key:?} cannot be set: controller {controller:?} is not available"
                )
            }));
        }
        for line in value.lines() {
            w.push("unified", key, line);
        }
    }
    Ok(())
}

/// Checks `r` against the container's cgroup and works out every write, touching nothing.
pub fn prepare(paths: &CgroupPaths, r: &LinuxResources) -> Result<Prepared> {
    check(r)?;
    let probe = Probe(paths);
    let mut w = Writes::default();
    let mut devices_v2 = None;
    let device_rules = r
        .devices()
        .as_ref()
        .map(|l| devices::parse(l))
        .transpose()?;
    // Checked as a whole (a deny cannot cut a hole in a wildcard allow) on v1 too.
    let device_state = device_rules
        .as_deref()
        .map(Emulator::from_rules)
        .transpose()?;
    if paths.v2 {
        pids(r, &mut w);
        if let Some(m) = r.memory() {
            v2_memory(m, &probe, &mut w)?;
        }
        if let Some(b) = r.block_io() {
            v2_io(b, &probe, &mut w);
        }
        if let Some(c) = r.cpu() {
            v2_cpu(c, &mut w);
            cpuset(c, &mut w);
        }
        if device_state.is_some() && paths.unified.is_none() {
            return Err(invalid(
                "devices: the container has no cgroup2 directory".into(),
            ));
        }
        devices_v2 = device_state;
        hugetlb(r, "max", &mut w);
        rdma(r, &mut w);
        if let Some(u) = r.unified() {
            unified(u, paths, &mut w)?;
        }
    } else {
        if r.unified().is_some() {
            // runc's words; scripts match "invalid configuration".
            return Err(invalid(
                "invalid configuration: cannot use unified on cgroup v1".into(),
            ));
        }
        if let Some(c) = r.cpu() {
            cpuset(c, &mut w);
        }
        // In the listed order, as the kernel's v1 list applies them (and as the spec
        // asks: runtime-tools reads devices.list back in that order). Device rules are
        // written once, at create: `update` leaves them alone, as runc's does.
        for rule in device_rules.iter().flatten() {
            let file = if rule.allow() {
                "devices.allow"
            } else {
                "devices.deny"
            };
            w.push("devices", file, rule.v1_line());
        }
        if let Some(m) = r.memory() {
            v1_memory(m, &probe, &mut w);
        }
        if let Some(c) = r.cpu() {
            v1_cpu(c, &mut w);
        }
        pids(r, &mut w);
        if let Some(b) = r.block_io() {
            v1_blkio(b, &probe, &mut w);
        }
        hugetlb(r, "limit_in_bytes", &mut w);
        network(r, &mut w);
        rdma(r, &mut w);
    }
    // Every file must be there before the first write; a missing optional one is dropped.
    let mut writes = Vec::with_capacity(w.0.len());
    for wr in w.0 {
        let dir = if wr.controller == "unified" {
            paths.unified.as_deref()
        } else {
            paths.controller_dir(wr.controller)
        };
        let Some(dir) = dir else {
            let left_out = |h: &str| paths.left_out.iter().any(|l| l.split(',').any(|c| c == h));
            if left_out(wr.controller) || (paths.v2 && left_out("unified")) {
                return Err(invalid(format!(
                    "cannot set {}: rootless, and the {} cgroup could not be made (no \
                     permission): a rootless container needs no limits, or a delegated \
                     cgroup as its cgroupsPath",
                    wr.file, wr.controller
                )));
            }
            return Err(invalid(format!(
                "cannot set {}: the {} controller is not mounted on this host",
                wr.file, wr.controller
            )));
        };
        if !dir.join(&wr.file).exists() {
            if wr.optional {
                continue;
            }
            return Err(invalid(format!(
                "cannot set {}: {} has no such file (controller not enabled, or not in this kernel)",
                wr.file,
                dir.display()
            )));
        }
        writes.push(wr);
    }
    Ok(Prepared { writes, devices_v2 })
}

/// Checks `r` against the container's cgroup as [`apply`] would, writing nothing.
pub fn validate(paths: &CgroupPaths, r: &LinuxResources) -> Result<()> {
    prepare(paths, r).map(|_| ())
}

fn dir_of<'a>(paths: &'a CgroupPaths, controller: &str) -> &'a Path {
    let dir = if controller == "unified" {
        paths.unified.as_deref()
    } else {
        paths.controller_dir(controller)
    };
    dir.expect("checked by prepare")
}

/// Applies `r` to the container's cgroup. Everything is checked first (see [`prepare`]);
/// on v2 the device program is loaded before the first write and attached after the last.
pub fn apply(paths: &CgroupPaths, r: &LinuxResources) -> Result<()> {
    let p = prepare(paths, r)?;
    let v2_dir = paths.unified.as_deref();
    let program = match (&p.devices_v2, v2_dir) {
        (Some(e), Some(dir)) if !e.allows_all() => Some(bpf::load(&e.program(), dir)?),
        _ => None,
    };
    // Consecutive writes to one file (device rules, one per write) share one open.
    let mut open: Option<(PathBuf, std::fs::File)> = None;
    let mut write = |wr: &Write| -> Result<()> {
        let path = dir_of(paths, wr.controller).join(&wr.file);
        if open.as_ref().is_none_or(|(p, _)| *p != path) {
            open = Some((path.clone(), open_for_write(&path)?));
        }
        let (_, f) = open.as_mut().expect("opened above");
        write_value(f, &path, &wr.value)
    };
    let mut pending: Vec<&Write> = Vec::new();
    for wr in &p.writes {
        match write(wr) {
            Err(Error::Io { source, .. })
                if wr.retry && source.kind() == std::io::ErrorKind::InvalidInput =>
            {
                pending.push(wr);
                continue;
            }
            Err(Error::Io { source, .. })
                if wr.optional && source.kind() == std::io::ErrorKind::NotFound => {}
            r => r?,
        }
        if !wr.retry {
            for again in pending.drain(..) {
                write(again)?;
            }
        }
    }
    for again in pending {
        write(again)?;
    }
    if let (Some(_), Some(dir)) = (&p.devices_v2, v2_dir) {
        let replaced = bpf::replace(dir, program.as_ref());
        // With nothing to enforce, a host without bpf for us (a user namespace) is fine.
        if program.is_some() {
            replaced?;
        }
    }
    Ok(())
}

/// A new v1 cpuset cgroup starts with no cpus and mems: copy them from the parent, walking
/// up to the first ancestor that has them.
pub(crate) fn v1_inherit_cpuset(dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let mine = dir.join(file);
        if std::fs::read_to_string(&mine)
            .map(|s| !s.trim().is_empty())
            .unwrap_or(true)
        {
            continue;
        }
        let mut chain = vec![dir.to_path_buf()];
        let mut cur = dir.parent();
        while let Some(p) = cur {
            match std::fs::read_to_string(p.join(file)) {
                Ok(v) if !v.trim().is_empty() => {
                    for d in chain.iter().rev() {
                        write_file(&d.join(file), v.trim())?;
                    }
                    break;
                }
                Ok(_) => chain.push(p.to_path_buf()),
                Err(_) => break,
            }
            cur = p.parent();
        }
    }
    Ok(())
}

/// v2: a controller is usable in a cgroup only if every ancestor's subtree_control has it.
pub(crate) fn v2_enable_controllers(leaf: &Path) -> Result<()> {
    let mut chain = Vec::new();
    let mut cur = leaf.parent();
    while let Some(p) = cur {
        if !p.join("cgroup.subtree_control").exists() {
            break;
        }
        chain.push(p.to_path_buf());
        cur = p.parent();
    }
    for dir in chain.iter().rev() {
        let available =
            std::fs::read_to_string(dir.join("cgroup.controllers")).map_err(io_err("read", dir))?;
        let wanted: Vec<String> = available
            .split_whitespace()
            .map(|c| format!("+{c}"))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        // Enable all at once; if one is refused (e.g. cpu with rt tasks), fall back one by one.
        if write_file(&dir.join("cgroup.subtree_control"), &wanted.join(" ")).is_err() {
            for c in &wanted {
                let _ = write_file(&dir.join("cgroup.subtree_control"), c);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    /// A fake cgroupfs: one directory per `(controller, files)`, each file with its
    /// content; v2 when the controller is "" (the unified directory).
    struct Fake {
        _tmp: tempfile::TempDir,
        paths: CgroupPaths,
    }

    fn fake(dirs: &[(&str, &[(&str, &str)])]) -> Fake {
        let tmp = tempfile::tempdir().unwrap();
        let mut paths = CgroupPaths::default();
        for (controller, files) in dirs {
            let dir = tmp.path().join(if controller.is_empty() {
                "unified"
            } else {
                controller
            });
            std::fs::create_dir_all(&dir).unwrap();
            for (f, content) in *files {
                std::fs::write(dir.join(f), content).unwrap();
            }
            if controller.is_empty() {
                paths.unified = Some(dir);
                paths.v2 = true;
            } else {
                paths.v1.push((controller.to_string(), dir));
            }
        }
        Fake { _tmp: tmp, paths }
    }

    fn writes(f: &Fake, json: &str) -> Vec<(String, String)> {
        prepare(&f.paths, &res(json))
            .unwrap()
            .writes
            .into_iter()
            .map(|w| (w.file, w.value))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn err(f: &Fake, json: &str) -> String {
        match prepare(&f.paths, &res(json)) {
            Err(e @ Error::Invalid(_)) => e.to_string(),
            other => panic!("{json}: expected Invalid, got {other:?}"),
        }
    }

    const V1_MEMORY: &[(&str, &str)] = &[
        ("memory.limit_in_bytes", "9223372036854771712"),
        ("memory.memsw.limit_in_bytes", "9223372036854771712"),
        ("memory.soft_limit_in_bytes", ""),
        ("memory.swappiness", ""),
        ("memory.oom_control", ""),
        ("memory.kmem.limit_in_bytes", ""),
        ("memory.use_hierarchy", ""),
    ];

    #[test]
    fn cpu_lists() {
        assert_eq!(cpu_list(" 0-2 , 7 "), Some(vec![0, 1, 2, 7]));
        assert_eq!(cpu_list("\n"), Some(vec![]));
        for bad in ["1,,2", "1,", "1 - 3", "+1", "3-1", "a", "65536"] {
            assert_eq!(cpu_list(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn v1_memory() {
        let f = fake(&[("memory", V1_MEMORY)]);
        assert_eq!(
            writes(
                &f,
                r#"{"memory":{"limit":1048576,"reservation":524288,"swappiness":10,
                    "disableOOMKiller":true,"kernel":1,"kernelTCP":1,"useHierarchy":true}}"#
            ),
            pairs(&[
                ("memory.limit_in_bytes", "1048576"),
                ("memory.soft_limit_in_bytes", "524288"),
                ("memory.oom_control", "1"),
                ("memory.swappiness", "10"),
            ]),
            "kernel memory and useHierarchy are ignored, as runc does"
        );
        // Unlimited memory takes swap along.
        assert_eq!(
            writes(&f, r#"{"memory":{"limit":-1}}"#),
            pairs(&[
                ("memory.memsw.limit_in_bytes", "-1"),
                ("memory.limit_in_bytes", "-1")
            ])
        );
    }

    #[test]
    fn v1_swap_order_follows_the_current_limit() {
        let both = r#"{"memory":{"limit":400000000,"swap":800000000}}"#;
        // Current limit unlimited (above the new swap): memory comes down first.
        let f = fake(&[("memory", V1_MEMORY)]);
        assert_eq!(
            writes(&f, both),
            pairs(&[
                ("memory.limit_in_bytes", "400000000"),
                ("memory.memsw.limit_in_bytes", "800000000")
            ])
        );
        // Current limit below the new swap: swap goes up first.
        let f = fake(&[(
            "memory",
            &[
                ("memory.limit_in_bytes", "200000000\n"),
                ("memory.memsw.limit_in_bytes", "200000000\n"),
            ],
        )]);
        assert_eq!(
            writes(&f, both),
            pairs(&[
                ("memory.memsw.limit_in_bytes", "800000000"),
                ("memory.limit_in_bytes", "400000000")
            ])
        );
    }

    const V1_CPU: &[(&str, &str)] = &[
        ("cpu.shares", ""),
        ("cpu.cfs_period_us", ""),
        ("cpu.cfs_quota_us", ""),
        ("cpu.cfs_burst_us", ""),
        ("cpu.idle", ""),
        ("cpu.rt_period_us", ""),
        ("cpu.rt_runtime_us", ""),
    ];

    #[test]
    fn v1_cpu_and_cpuset() {
        let f = fake(&[
            ("cpu", V1_CPU),
            ("cpuset", &[("cpuset.cpus", ""), ("cpuset.mems", "")]),
        ]);
        let p = prepare(
            &f.paths,
            &res(
                r#"{"cpu":{"shares":512,"quota":50000,"period":100000,"burst":1000,"idle":1,
                "realtimePeriod":1000000,"realtimeRuntime":950000,"cpus":"0-1","mems":"0"}}"#,
            ),
        )
        .unwrap();
        let got: Vec<(&str, &str, bool)> = p
            .writes
            .iter()
            .map(|w| (w.file.as_str(), w.value.as_str(), w.retry))
            .collect();
        assert_eq!(
            got,
            [
                ("cpuset.cpus", "0-1", false),
                ("cpuset.mems", "0", false),
                ("cpu.shares", "512", false),
                ("cpu.cfs_period_us", "100000", true),
                ("cpu.cfs_burst_us", "1000", true),
                ("cpu.cfs_quota_us", "50000", false),
                ("cpu.idle", "1", false),
                ("cpu.rt_period_us", "1000000", true),
                ("cpu.rt_runtime_us", "950000", false),
            ]
        );
        // Without the partner value nothing waits for it.
        let p = prepare(&f.paths, &res(r#"{"cpu":{"period":50000}}"#)).unwrap();
        assert!(!p.writes[0].retry);
        // A kernel without cpu.cfs_burst_us: the burst is dropped, as runc does.
        let f = fake(&[("cpu", &V1_CPU[..3])]);
        assert_eq!(
            writes(&f, r#"{"cpu":{"burst":1000,"quota":20000}}"#),
            pairs(&[("cpu.cfs_quota_us", "20000")])
        );
    }

    #[test]
    fn pids_limit() {
        let f = fake(&[("pids", &[("pids.max", "")])]);
        assert_eq!(
            writes(&f, r#"{"pids":{"limit":42}}"#),
            pairs(&[("pids.max", "42")])
        );
        assert_eq!(
            writes(&f, r#"{"pids":{"limit":-1}}"#),
            pairs(&[("pids.max", "max")])
        );
        assert_eq!(
            writes(&f, r#"{"pids":{"limit":0}}"#),
            pairs(&[("pids.max", "1")]),
            "0 is the lowest limit, as in runc"
        );
    }

    const BLKIO: &str = r#"{"blockIO":{"weight":500,"leafWeight":300,
        "weightDevice":[{"major":8,"minor":0,"weight":600,"leafWeight":200}],
        "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
        "throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":2097152},{"major":8,"minor":16,"rate":1}],
        "throttleReadIOPSDevice":[{"major":8,"minor":0,"rate":100}],
        "throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":200}]}}"#;

    #[test]
    fn v1_blkio() {
        let throttle = [
            ("blkio.throttle.read_bps_device", "8:0 1048576"),
            ("blkio.throttle.write_bps_device", "8:0 2097152"),
            ("blkio.throttle.write_bps_device", "8:16 1"),
            ("blkio.throttle.read_iops_device", "8:0 100"),
            ("blkio.throttle.write_iops_device", "8:16 200"),
        ];
        let files = |weight: &'static str, device: &'static str| {
            let mut v = vec![
                (weight, ""),
                (device, ""),
                ("blkio.leaf_weight", ""),
                ("blkio.leaf_weight_device", ""),
            ];
            v.extend(throttle.iter().map(|(f, _)| (*f, "")));
            v
        };
        for (weight, device) in [
            ("blkio.weight", "blkio.weight_device"),
            ("blkio.bfq.weight", "blkio.bfq.weight_device"),
        ] {
            let f = fake(&[("blkio", &files(weight, device))]);
            let mut expect = vec![
                (weight, "500"),
                ("blkio.leaf_weight", "300"),
                (device, "8:0 600"),
                ("blkio.leaf_weight_device", "8:0 200"),
            ];
            expect.extend(throttle);
            assert_eq!(writes(&f, BLKIO), pairs(&expect), "{weight}");
        }
    }

    #[test]
    fn v1_hugetlb_network_rdma() {
        let f = fake(&[
            (
                "hugetlb",
                &[
                    ("hugetlb.2MB.limit_in_bytes", ""),
                    ("hugetlb.2MB.rsvd.limit_in_bytes", ""),
                    ("hugetlb.1GB.limit_in_bytes", ""),
                ],
            ),
            (
                "net_cls,net_prio",
                &[("net_cls.classid", ""), ("net_prio.ifpriomap", "")],
            ),
            ("rdma", &[("rdma.max", "")]),
        ]);
        assert_eq!(
            writes(
                &f,
                r#"{"hugepageLimits":[{"pageSize":"2MB","limit":209715200},{"pageSize":"1GB","limit":0}],
                    "network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5},{"name":"lo","priority":1}]},
                    "rdma":{"mlx5_1":{"hcaHandles":3},"mlx4_0":{"hcaHandles":2,"hcaObjects":2000}}}"#
            ),
            pairs(&[
                ("hugetlb.2MB.limit_in_bytes", "209715200"),
                ("hugetlb.2MB.rsvd.limit_in_bytes", "209715200"),
                ("hugetlb.1GB.limit_in_bytes", "0"),
                ("net_cls.classid", "1048577"),
                ("net_prio.ifpriomap", "eth0 5"),
                ("net_prio.ifpriomap", "lo 1"),
                ("rdma.max", "mlx4_0 hca_handle=2 hca_object=2000"),
                ("rdma.max", "mlx5_1 hca_handle=3"),
            ])
        );
    }

    #[test]
    fn v1_devices_are_written_in_the_listed_order() {
        let f = fake(&[(
            "devices",
            &[
                ("devices.list", "a *:* rwm\n"),
                ("devices.allow", ""),
                ("devices.deny", ""),
            ],
        )]);
        let list = r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":229,"access":"rwm"},
            {"allow":true,"type":"b","major":8,"minor":20,"access":"rw"},{"allow":true,"type":"c","access":"m"},
            {"allow":true,"type":"c","major":136,"access":"rwm"}]}"#;
        assert_eq!(
            writes(&f, list),
            pairs(&[
                ("devices.deny", "a *:* rwm"),
                ("devices.allow", "c 10:229 rwm"),
                ("devices.allow", "b 8:20 rw"),
                ("devices.allow", "c *:* m"),
                ("devices.allow", "c 136:* rwm"),
            ])
        );
    }

    #[test]
    fn v1_refuses_unified_and_missing_parts() {
        let f = fake(&[("memory", V1_MEMORY)]);
        let e = err(&f, r#"{"unified":{"memory.high":"1000"}}"#);
        assert!(e.contains("cannot use unified on cgroup v1"), "{e}");
        let e = err(&f, r#"{"unified":{}}"#);
        assert!(
            e.contains("invalid configuration"),
            "even empty, as runc: {e}"
        );
        let e = err(&f, r#"{"cpu":{"shares":100}}"#);
        assert!(e.contains("cpu controller is not mounted"), "{e}");
        let e = err(
            &f,
            r#"{"memory":{"limit":1,"swap":2}, "blockIO":{"weight":100}}"#,
        );
        assert!(e.contains("blkio.bfq.weight") || e.contains("blkio"), "{e}");
        std::fs::remove_file(f.paths.v1[0].1.join("memory.memsw.limit_in_bytes")).unwrap();
        let e = err(&f, r#"{"memory":{"limit":1000000,"swap":2000000}}"#);
        assert!(
            e.contains("memory.memsw.limit_in_bytes") && e.contains("no such file"),
            "{e}"
        );
    }

    const V2: &[(&str, &str)] = &[
        (
            "cgroup.controllers",
            "cpuset cpu io memory hugetlb pids rdma misc",
        ),
        ("memory.max", ""),
        ("memory.swap.max", ""),
        ("memory.low", ""),
        ("memory.current", "5000000\n"),
        ("memory.high", ""),
        ("cpu.weight", ""),
        ("cpu.max", ""),
        ("cpu.max.burst", ""),
        ("cpu.idle", ""),
        ("cpuset.cpus", ""),
        ("cpuset.mems", ""),
        ("io.weight", ""),
        ("io.max", ""),
        ("pids.max", ""),
        ("hugetlb.2MB.max", ""),
        ("hugetlb.2MB.rsvd.max", ""),
        ("rdma.max", ""),
    ];

    #[test]
    fn v2_memory() {
        let f = fake(&[("", V2)]);
        assert_eq!(
            writes(
                &f,
                r#"{"memory":{"limit":1048576,"swap":3145728,"reservation":-1,"swappiness":5,"disableOOMKiller":true,"kernel":1}}"#
            ),
            pairs(&[
                ("memory.swap.max", "2097152"),
                ("memory.max", "1048576"),
                ("memory.low", "max"),
            ])
        );
        assert_eq!(
            writes(&f, r#"{"memory":{"limit":1048576,"swap":1048576}}"#),
            pairs(&[("memory.swap.max", "0"), ("memory.max", "1048576")]),
            "swap equal to memory: no swap"
        );
        assert_eq!(
            writes(&f, r#"{"memory":{"limit":-1}}"#),
            pairs(&[("memory.swap.max", "max"), ("memory.max", "max")])
        );
        // Without swap accounting "max" is dropped, a real swap limit is an error.
        let f = fake(&[("", &V2[..2])]);
        assert_eq!(
            writes(&f, r#"{"memory":{"limit":-1}}"#),
            pairs(&[("memory.max", "max")])
        );
        let e = err(&f, r#"{"memory":{"limit":1000,"swap":3000}}"#);
        assert!(e.contains("memory.swap.max"), "{e}");
    }

    #[test]
    fn v2_memory_check_before_update() {
        let f = fake(&[("", V2)]);
        let e = err(
            &f,
            r#"{"memory":{"limit":4000000,"checkBeforeUpdate":true}}"#,
        );
        assert!(
            e.contains("rejecting memory limit 4000000 <= usage 5000000"),
            "{e}"
        );
        assert_eq!(
            writes(
                &f,
                r#"{"memory":{"limit":6000000,"checkBeforeUpdate":true}}"#
            ),
            pairs(&[("memory.max", "6000000")])
        );
        assert_eq!(
            writes(&f, r#"{"memory":{"limit":4000000}}"#),
            pairs(&[("memory.max", "4000000")]),
            "checked only when asked"
        );
    }

    #[test]
    fn v2_cpu_pids_cpuset() {
        let f = fake(&[("", V2)]);
        let p = prepare(
            &f.paths,
            &res(
                r#"{"cpu":{"shares":1024,"quota":50000,"burst":10000,"idle":0,"cpus":"1","mems":"0",
                "realtimePeriod":1000000,"realtimeRuntime":950000},"pids":{"limit":64}}"#,
            ),
        )
        .unwrap();
        let got: Vec<(&str, &str, bool)> = p
            .writes
            .iter()
            .map(|w| (w.file.as_str(), w.value.as_str(), w.retry))
            .collect();
        assert_eq!(
            got,
            [
                ("pids.max", "64", false),
                ("cpu.idle", "0", false),
                ("cpu.weight", "100", false),
                ("cpu.max.burst", "10000", true),
                ("cpu.max", "50000 100000", false),
                ("cpuset.cpus", "1", false),
                ("cpuset.mems", "0", false),
            ],
            "realtime values are ignored on v2, as runc does"
        );
        assert_eq!(
            writes(&f, r#"{"cpu":{"quota":-1,"period":50000}}"#),
            pairs(&[("cpu.max", "max 50000")])
        );
    }

    #[test]
    fn v2_io() {
        let f = fake(&[("", V2)]);
        assert_eq!(
            writes(&f, BLKIO),
            pairs(&[
                ("io.weight", "4950"),
                ("io.max", "8:0 rbps=1048576 wbps=2097152 riops=100"),
                ("io.max", "8:16 wbps=1 wiops=200"),
            ]),
            "no BFQ: io.weight converted, device weights have no file"
        );
        let mut files = V2.to_vec();
        files.push(("io.bfq.weight", "100\n"));
        let f = fake(&[("", &files)]);
        assert_eq!(
            writes(
                &f,
                r#"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":600}]}}"#
            ),
            pairs(&[("io.bfq.weight", "500")]),
            "BFQ without per-device weights"
        );
        files.pop();
        files.push(("io.bfq.weight", "default 100\n"));
        let f = fake(&[("", &files)]);
        assert_eq!(
            writes(
                &f,
                r#"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":600}]}}"#
            ),
            pairs(&[("io.bfq.weight", "500"), ("io.bfq.weight", "8:0 600")])
        );
    }

    #[test]
    fn v2_hugetlb_rdma_and_what_v2_lacks() {
        let f = fake(&[("", V2)]);
        assert_eq!(
            writes(
                &f,
                r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
                    "rdma":{"mlx4_0":{"hcaObjects":10}},
                    "network":{"classID":1,"priorities":[{"name":"eth0","priority":1}]}}"#
            ),
            pairs(&[
                ("hugetlb.2MB.max", "4194304"),
                ("hugetlb.2MB.rsvd.max", "4194304"),
                ("rdma.max", "mlx4_0 hca_object=10"),
            ]),
            "network has no v2 file and is ignored, as runc does"
        );
    }

    #[test]
    fn v2_unified() {
        let f = fake(&[("", V2)]);
        assert_eq!(
            writes(
                &f,
                r#"{"memory":{"limit":1000000},"unified":{"memory.max":"2000000","memory.high":"1500000","io.max":"8:0 rbps=1\n8:16 wbps=2"}}"#
            ),
            pairs(&[
                ("memory.max", "1000000"),
                ("io.max", "8:0 rbps=1"),
                ("io.max", "8:16 wbps=2"),
                ("memory.high", "1500000"),
                ("memory.max", "2000000"),
            ]),
            "unified comes last and wins"
        );
        for (json, what) in [
            (r#"{"unified":{"../memory.max":"1"}}"#, "no slashes"),
            (r#"{"unified":{"..":"1"}}"#, "no slashes"),
            (r#"{"unified":{"memory.bogus":"1"}}"#, "no file"),
            (r#"{"unified":{"freezer.state":"1"}}"#, "not available"),
            (r#"{"unified":{"nodot":"1"}}"#, "CONTROLLER.PARAMETER"),
        ] {
            let e = err(&f, json);
            assert!(e.contains("unified") && e.contains(what), "{json}: {e}");
        }
    }

    #[test]
    fn v2_devices_make_a_program_and_no_write() {
        let f = fake(&[("", V2)]);
        let p = prepare(
            &f.paths,
            &res(r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]}"#),
        )
        .unwrap();
        assert!(p.writes.is_empty());
        let e = p.devices_v2.expect("devices state");
        assert!(!e.allows_all());
        assert_eq!(e.program().len(), 6 + 5 + 2);
        let e = err(
            &f,
            r#"{"devices":[{"allow":true,"type":"c","access":"m"},{"allow":false,"type":"c","major":1,"minor":3,"access":"m"}]}"#,
        );
        assert!(e.contains("devices"), "{e}");
    }

    #[test]
    fn conversions() {
        for (shares, weight) in [
            (0, 0),
            (1, 1),
            (2, 1),
            (3, 2),
            (512, 59),
            (1024, 100),
            (262_143, 10_000),
            (262_144, 10_000),
            (300_000, 10_000),
        ] {
            assert_eq!(shares_to_weight(shares), weight, "shares {shares}");
        }
        for (blkio, io) in [(0, 0), (10, 1), (500, 4950), (1000, 10_000)] {
            assert_eq!(blkio_to_io_weight(blkio), io, "blkio weight {blkio}");
        }
        for (swap, mem, v2) in [
            (0, -1, -1),
            (-1, 1000, -1),
            (0, 1000, 0),
            (3000, -1, 3000),
            (3000, 1000, 2000),
            (1000, 1000, 0),
        ] {
            assert_eq!(swap_v2(swap, mem).unwrap(), v2, "swap {swap} memory {mem}");
        }
        assert!(swap_v2(3000, 0).is_err());
        assert!(swap_v2(500, 1000).is_err());
    }

    #[test]
    fn bad_values_are_refused_before_writing() {
        let v1 = fake(&[
            ("memory", V1_MEMORY),
            ("cpu", V1_CPU),
            ("blkio", &[("blkio.weight", "")]),
        ]);
        let v2 = fake(&[("", V2)]);
        for (json, field) in [
            (r#"{"memory":{"limit":-5}}"#, "memory.limit"),
            (r#"{"memory":{"reservation":-2}}"#, "memory.reservation"),
            (
                r#"{"memory":{"limit":2000000,"swap":1000000}}"#,
                "memory.swap",
            ),
            (r#"{"memory":{"swappiness":101}}"#, "memory.swappiness"),
            (r#"{"cpu":{"shares":1}}"#, "cpu.shares"),
            (r#"{"cpu":{"period":10}}"#, "cpu.period"),
            (r#"{"cpu":{"quota":10}}"#, "cpu.quota"),
            (r#"{"cpu":{"idle":2}}"#, "cpu.idle"),
            (r#"{"cpu":{"realtimeRuntime":-2}}"#, "cpu.realtimeRuntime"),
            (r#"{"cpu":{"cpus":"0-a"}}"#, "cpu.cpus"),
            (r#"{"cpu":{"mems":"0 1"}}"#, "cpu.mems"),
            (r#"{"blockIO":{"weight":5}}"#, "blockIO.weight"),
            (r#"{"blockIO":{"leafWeight":1001}}"#, "blockIO.leafWeight"),
            (
                r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":2}]}}"#,
                "weightDevice",
            ),
            (
                r#"{"blockIO":{"throttleReadBpsDevice":[{"major":-1,"minor":0,"rate":1}]}}"#,
                "throttleReadBpsDevice",
            ),
            (
                r#"{"hugepageLimits":[{"pageSize":"../2MB","limit":1}]}"#,
                "hugepageLimits",
            ),
            (
                r#"{"hugepageLimits":[{"pageSize":"2MB","limit":-1}]}"#,
                "hugepageLimits",
            ),
            (
                r#"{"network":{"priorities":[{"name":"eth 0","priority":1}]}}"#,
                "network.priorities",
            ),
            (r#"{"rdma":{"":{"hcaHandles":1}}}"#, "rdma"),
            (r#"{"unified":{"a/b":"1"}}"#, "unified"),
            (r#"{"devices":[{"allow":true,"type":"p"}]}"#, "devices[0]"),
            (r#"{"devices":[{"allow":true,"access":""}]}"#, "devices[0]"),
        ] {
            for f in [&v1, &v2] {
                let before = snapshot(f);
                let r = apply(&f.paths, &res(json));
                let e = match r {
                    Err(e @ Error::Invalid(_)) => e.to_string(),
                    other => panic!("{json}: expected Invalid, got {other:?}"),
                };
                assert!(e.contains(field), "{json}: {e}");
                assert_eq!(snapshot(f), before, "{json} wrote something");
            }
        }
        // A later resource's error stops the earlier ones too.
        let before = snapshot(&v1);
        assert!(apply(
            &v1.paths,
            &res(r#"{"memory":{"limit":1000000},"cpu":{"idle":3}}"#)
        )
        .is_err());
        assert_eq!(snapshot(&v1), before);
    }

    fn snapshot(f: &Fake) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        for dir in f.paths.leaves() {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                out.push((e.path(), std::fs::read_to_string(e.path()).unwrap()));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn apply_writes_the_files() {
        let f = fake(&[
            ("memory", &[("memory.limit_in_bytes", "")]),
            ("pids", &[("pids.max", "")]),
            ("hugetlb", &[("hugetlb.2MB.limit_in_bytes", "")]),
        ]);
        apply(
            &f.paths,
            &res(r#"{"memory":{"limit":1048576},"pids":{"limit":7},"hugepageLimits":[{"pageSize":"2MB","limit":2097152}]}"#),
        )
        .unwrap();
        let read =
            |c: usize, file: &str| std::fs::read_to_string(f.paths.v1[c].1.join(file)).unwrap();
        assert_eq!(read(0, "memory.limit_in_bytes"), "1048576");
        assert_eq!(read(1, "pids.max"), "7");
        assert_eq!(read(2, "hugetlb.2MB.limit_in_bytes"), "2097152");
        assert!(!f.paths.v1[2]
            .1
            .join("hugetlb.2MB.rsvd.limit_in_bytes")
            .exists());
    }
}

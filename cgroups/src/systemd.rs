//! The systemd driver (`--systemd-cgroup`), with runc's behaviour: the container's cgroup
//! is a transient unit, a `<prefix>-<name>.scope` in a slice, that systemd creates with the
//! container's init in it (a scope cannot start empty, so this happens after clone). Its
//! resources go to systemd as unit properties where systemd has one, and everything is
//! then written to cgroupfs as without systemd (systemd cannot express most of the spec,
//! and a daemon-reload rewrites only what it knows). Learnt from runc's
//! `libcontainer/cgroups/systemd`, its docs/systemd.md and systemd.resource-control(5).

use std::path::Path;
use std::time::Duration;

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::dbus::{Bus, Call, CallError, Value};
use crate::{devices, gvariant, layout, resources, CgroupPaths, Error, Layout, Result};

const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// systemd's "infinity" for limits and USEC_INFINITY.
const INFINITY: u64 = u64::MAX;
/// How long systemd may take for a job, as runc waits.
const JOB_TIMEOUT: Duration = Duration::from_secs(30);
/// The kernel's CFS period when the spec gives none.
const DEFAULT_PERIOD: u64 = 100_000;

/// A container's systemd unit.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    /// `<prefix>-<name>.scope`, or `<name>` itself when it ends in `.slice`.
    pub name: String,
    /// The slice a scope goes in (or a slice wants).
    pub slice: String,
    /// Extra unit properties from the spec's annotations ([`annotation_properties`]),
    /// needed only by the `create` that starts the unit.
    #[serde(skip)]
    pub properties: Vec<(String, Value)>,
}

/// A slice's cgroup path: systemd nests `a-b.slice` as `/a.slice/a-b.slice`; `-.slice` is
/// the root.
pub fn expand_slice(slice: &str) -> Result<String> {
    let bad = || Error::Invalid(format!("invalid slice name: {slice}"));
    let base = slice.strip_suffix(".slice").ok_or_else(bad)?;
    if base.is_empty() || slice.contains('/') {
        return Err(bad());
    }
    if base == "-" {
        return Ok("/".into());
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for part in base.split('-') {
        if part.is_empty() {
            return Err(bad());
        }
        path.push_str(&format!("/{prefix}{part}.slice"));
        prefix.push_str(part);
        prefix.push('-');
    }
    Ok(path)
}

impl Unit {
    /// The unit for `linux.cgroupsPath` as runc reads it with --systemd-cgroup:
    /// `slice:prefix:name`, an empty slice meaning `system.slice`; absent or empty,
    /// `:hull:<id>` (runc's is `:runc:<id>`).
    pub fn parse(cgroups_path: Option<&str>, id: &str) -> Result<Unit> {
        let (slice, prefix, name) = match cgroups_path.filter(|p| !p.is_empty()) {
            None => ("", "hull", id),
            Some(p) => match p.split(':').collect::<Vec<_>>()[..] {
                [s, pre, n] => (s, pre, n),
                _ => {
                    return Err(Error::Invalid(format!(
                        "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got {p:?} instead"
                    )))
                }
            },
        };
        let slice = if slice.is_empty() {
            "system.slice"
        } else {
            slice
        };
        expand_slice(slice)?;
        let name = if name.ends_with(".slice") {
            expand_slice(name)?;
            name.to_string()
        } else {
            if name.contains('/') {
                return Err(Error::Invalid(format!("invalid unit name: {name}")));
            }
            format!("{prefix}-{name}.scope")
        };
        Ok(Unit {
            name,
            slice: slice.to_string(),
            properties: Vec::new(),
        })
    }

    pub fn is_slice(&self) -> bool {
        self.name.ends_with(".slice")
    }

    /// The unit's cgroup below a hierarchy's root, e.g. `/system.slice/hull-x.scope`.
    /// A slice's place follows from its own name (runc joins it to the parent's path,
    /// which agrees whenever the names do).
    pub fn cgroup(&self) -> Result<String> {
        if self.is_slice() {
            return expand_slice(&self.name);
        }
        let slice = expand_slice(&self.slice)?;
        Ok(format!("{}/{}", slice.trim_end_matches('/'), self.name))
    }
}

/// The paths of `unit` in every hierarchy (systemd makes them from the mount's top, not
/// from the caller's cgroup). Nothing is touched.
pub fn plan_unit(layout: &Layout, unit: Unit) -> Result<CgroupPaths> {
    let rel = unit.cgroup()?;
    let mut paths = CgroupPaths {
        v2: layout.is_v2(),
        ..Default::default()
    };
    for h in &layout.v1 {
        paths
            .v1
            .push((h.name.clone(), layout::join_inside(&h.mount, "", &rel)));
    }
    paths.unified = layout
        .unified
        .as_ref()
        .map(|m| layout::join_inside(m, "", &rel));
    // Nothing is hull's to make but the leaves of hierarchies systemd leaves alone
    // (v1 net_cls, perf_event...): `remove` takes every leaf anyway.
    paths.systemd = Some(unit);
    Ok(paths)
}

/// The container's cgroup as a systemd unit, for `cgroups_path` and container `id`, with
/// the unit properties `annotations` ask for (checked first, systemd or not).
pub fn plan_systemd(
    layout: &Layout,
    cgroups_path: Option<&str>,
    id: &str,
    annotations: Option<&std::collections::HashMap<String, String>>,
) -> Result<CgroupPaths> {
    let properties = match annotations {
        Some(a) => annotation_properties(a)?,
        None => Vec::new(),
    };
    // sd_booted(3)'s test, as runc's.
    if !Path::new("/run/systemd/system").is_dir() {
        return Err(Error::Invalid(
            "systemd not running on this host, cannot use systemd cgroups manager".into(),
        ));
    }
    let unit = Unit {
        properties,
        ..Unit::parse(cgroups_path, id)?
    };
    plan_unit(layout, unit)
}

/// `0-2,7` as the bitmask systemd takes for AllowedCPUs/AllowedMemoryNodes: bit N is
/// bit N%8 of byte N/8, no trailing zero bytes.
pub fn list_to_bits(list: &str) -> Result<Vec<u8>> {
    let numbers = resources::cpu_list(list).filter(|n| !n.is_empty());
    let numbers = numbers.ok_or_else(|| {
        Error::Invalid(format!(
            "cpu list {list:?}: not a list of numbers and ranges"
        ))
    })?;
    let mut bits: Vec<u8> = Vec::new();
    for n in numbers.into_iter().map(usize::from) {
        if bits.len() <= n / 8 {
            bits.resize(n / 8 + 1, 0);
        }
        bits[n / 8] |= 1 << (n % 8);
    }
    Ok(bits)
}

fn limit(v: i64) -> u64 {
    if v < 0 {
        INFINITY
    } else {
        v as u64
    }
}

type Props = Vec<(String, Value)>;

fn prop(props: &mut Props, name: &str, v: Value) {
    props.push((name.to_string(), v));
}

/// CPUQuotaPerSecUSec (and the period from systemd 242), as runc: systemd keeps the quota
/// in whole percents of a CPU, so it is rounded up to 10 ms per second; returns the quota
/// cgroupfs should get for the same value.
fn cpu_quota(props: &mut Props, quota: i64, period: u64, version: u32) -> i64 {
    if period != 0 && version >= 242 {
        prop(props, "CPUQuotaPeriodUSec", Value::U64(period));
    }
    if quota == 0 && period == 0 {
        return quota;
    }
    let mut per_sec = INFINITY;
    let mut quota = quota;
    if quota > 0 {
        let period = if period == 0 { DEFAULT_PERIOD } else { period };
        per_sec = quota as u64 * 1_000_000 / period;
        if !per_sec.is_multiple_of(10_000) {
            per_sec = (per_sec / 10_000 + 1) * 10_000;
            quota = (per_sec * period / 1_000_000) as i64;
        }
    }
    prop(props, "CPUQuotaPerSecUSec", Value::U64(per_sec));
    quota
}

fn unified_number(key: &str, v: &str) -> Result<u64> {
    match v {
        "max" => Ok(INFINITY),
        v => v
            .parse()
            .map_err(|_| Error::Invalid(format!("unified {key}: {v:?} is not a number"))),
    }
}

/// The unit properties for `unified` entries systemd knows (runc's list); the rest is
/// for cgroupfs only.
fn unified_properties(
    props: &mut Props,
    u: &std::collections::HashMap<String, String>,
    version: u32,
) -> Result<()> {
    let mut keys: Vec<&String> = u.keys().collect();
    keys.sort();
    for key in keys {
        let v = u[key].trim();
        let name = match key.as_str() {
            "memory.high" => "MemoryHigh",
            "memory.low" => "MemoryLow",
            "memory.min" => "MemoryMin",
            "memory.max" => "MemoryMax",
            "memory.swap.max" => "MemorySwapMax",
            "pids.max" => {
                // systemd refuses TasksMax=0.
                let n = unified_number(key, v)?.max(1);
                prop(props, "TasksMax", Value::U64(n));
                continue;
            }
            "cpu.weight" => "CPUWeight",
            "cpu.max" => {
                let mut f = v.split_whitespace();
                let quota = match f.next() {
                    Some("max") | None => 0,
                    Some(q) => q.parse().map_err(|_| {
                        Error::Invalid(format!("unified cpu.max: {v:?} is not QUOTA [PERIOD]"))
                    })?,
                };
                let period = match f.next() {
                    Some(p) => unified_number(key, p)?,
                    None => DEFAULT_PERIOD,
                };
                cpu_quota(props, quota, period, version);
                continue;
            }
            "cpuset.cpus" | "cpuset.mems" if version >= 244 => {
                let name = match key.as_str() {
                    "cpuset.cpus" => "AllowedCPUs",
                    _ => "AllowedMemoryNodes",
                };
                prop(props, name, Value::bytes(&list_to_bits(v)?));
                continue;
            }
            _ => continue,
        };
        prop(props, name, Value::U64(unified_number(key, v)?));
    }
    Ok(())
}

/// The properties systemd can express for `r` (runc's table for v1 and v2, systemd
/// `version` permitting; IOWeight on v2 as crun), and `r` as cgroupfs must then get it.
pub fn resource_properties(
    v2: bool,
    r: &LinuxResources,
    version: u32,
) -> Result<(Props, LinuxResources)> {
    let mut props = Props::new();
    let mut r = r.clone();
    if let Some(m) = r.memory() {
        let (lim, swap, reservation) = (
            m.limit().unwrap_or(0),
            m.swap().unwrap_or(0),
            m.reservation().unwrap_or(0),
        );
        if lim != 0 {
            let name = if v2 { "MemoryMax" } else { "MemoryLimit" };
            prop(&mut props, name, Value::U64(limit(lim)));
        }
        if v2 && reservation != 0 {
            prop(&mut props, "MemoryLow", Value::U64(limit(reservation)));
        }
        if v2 {
            match resources::swap_v2(swap, lim)? {
                0 if swap > 0 => prop(&mut props, "MemorySwapMax", Value::U64(0)),
                0 => {}
                s => prop(&mut props, "MemorySwapMax", Value::U64(limit(s))),
            }
        }
    }
    if let Some(mut c) = r.cpu().clone() {
        if let Some(shares) = c.shares().filter(|s| *s != 0) {
            match v2 {
                true => prop(
                    &mut props,
                    "CPUWeight",
                    Value::U64(resources::shares_to_weight(shares)),
                ),
                false => prop(&mut props, "CPUShares", Value::U64(shares)),
            }
        }
        let quota = c.quota().unwrap_or(0);
        let rounded = cpu_quota(&mut props, quota, c.period().unwrap_or(0), version);
        if rounded != quota {
            c.set_quota(Some(rounded));
            r.set_cpu(Some(c.clone()));
        }
        if version >= 244 {
            for (name, list) in [("AllowedCPUs", c.cpus()), ("AllowedMemoryNodes", c.mems())] {
                if let Some(list) = list.as_deref().filter(|l| !l.trim().is_empty()) {
                    prop(&mut props, name, Value::bytes(&list_to_bits(list)?));
                }
            }
        }
    }
    match r.pids().map(|p| p.limit()) {
        None => {}
        Some(0) => prop(&mut props, "TasksMax", Value::U64(1)),
        Some(l) => prop(&mut props, "TasksMax", Value::U64(limit(l))),
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        match (v2, w) {
            (_, 0) => {}
            (true, w) => prop(
                &mut props,
                "IOWeight",
                Value::U64(resources::blkio_to_io_weight(w)),
            ),
            (false, w) => prop(&mut props, "BlockIOWeight", Value::U64(w.into())),
        }
    }
    if let (true, Some(u)) = (v2, r.unified()) {
        unified_properties(&mut props, u, version)?;
    }
    Ok((props, r))
}

/// DevicePolicy and DeviceAllow for the device rules of `r` (none when it has none, as for
/// `update`), and the rules systemd cannot express, to warn about.
fn device_properties(v2: bool, r: &LinuxResources, version: u32) -> Result<(Props, Vec<String>)> {
    let Some(list) = r.devices() else {
        return Ok((Props::new(), Vec::new()));
    };
    let state = devices::Emulator::from_rules(&devices::parse(list)?)?;
    let (policy, allow, unexpressed) = state.systemd_allow(v2, version);
    let entries = |allow: Vec<(String, String)>| {
        let pairs = allow
            .into_iter()
            .map(|(path, access)| Value::Struct(vec![Value::Str(path), Value::Str(access)]));
        Value::Array("(ss)".into(), pairs.collect())
    };
    let mut props = Props::new();
    // An empty DeviceAllow first clears what an existing unit allows already.
    prop(&mut props, "DeviceAllow", entries(Vec::new()));
    prop(&mut props, "DevicePolicy", Value::Str(policy.into()));
    if !allow.is_empty() {
        prop(&mut props, "DeviceAllow", entries(allow));
    }
    let warnings = unexpressed
        .into_iter()
        .map(|rule| format!("systemd cannot express the device rule {rule:?}: only the cgroup's own rules grant it"))
        .collect();
    Ok((props, warnings))
}

/// Unit properties from runc's `org.systemd.property.<Name>` annotations, values in
/// GVariant text (`uint64 5`, `'text'`). A name ending in a lower-case letter and `Sec`
/// (`TimeoutStopSec`) is taken in seconds and sent as `...USec`, as runc does. Checked
/// before anything is made.
pub fn annotation_properties(
    annotations: &std::collections::HashMap<String, String>,
) -> Result<Vec<(String, Value)>> {
    const PREFIX: &str = "org.systemd.property.";
    let mut keys: Vec<&String> = annotations
        .keys()
        .filter(|k| k.starts_with(PREFIX))
        .collect();
    keys.sort();
    let mut props = Props::new();
    for key in keys {
        let text = &annotations[key];
        let name = &key[PREFIX.len()..];
        if name.len() < 3 || !name.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(Error::Invalid(format!(
                "annotation {key}: a systemd property name is three or more latin letters"
            )));
        }
        let bad = |e: String| Error::Invalid(format!("annotation {key}={text:?}: {e}"));
        let mut value = gvariant::parse(text).map_err(bad)?;
        let mut name = name.to_string();
        if let Some(base) = name
            .strip_suffix("Sec")
            .filter(|b| b.ends_with(|c: char| c.is_ascii_lowercase()))
        {
            name = format!("{base}USec");
            value = gvariant::seconds_to_usec(&value).map_err(bad)?;
        }
        props.push((name, value));
    }
    Ok(props)
}

/// The unit's own properties: where it goes, the init, delegation, accounting (always
/// on, as runc, so stats work without limits), and no default dependencies (a container
/// must not be stopped with the basic system, nor wait for it).
fn unit_properties(unit: &Unit, v2: bool, pid: i32) -> Props {
    let mut props = Props::new();
    prop(
        &mut props,
        "Description",
        Value::Str(format!("hull container {}", unit.name)),
    );
    if unit.is_slice() {
        prop(&mut props, "Wants", Value::strings(&[&unit.slice]));
    } else {
        prop(&mut props, "Slice", Value::Str(unit.slice.clone()));
        prop(&mut props, "Delegate", Value::Bool(true));
        prop(
            &mut props,
            "PIDs",
            Value::Array("u".into(), vec![Value::U32(pid as u32)]),
        );
    }
    let io = if v2 {
        "IOAccounting"
    } else {
        "BlockIOAccounting"
    };
    for name in ["MemoryAccounting", "CPUAccounting", io, "TasksAccounting"] {
        prop(&mut props, name, Value::Bool(true));
    }
    prop(&mut props, "DefaultDependencies", Value::Bool(false));
    props
}

fn manager_call<'a>(member: &'a str, args: &'a [Value]) -> Call<'a> {
    Call {
        path: MANAGER_PATH,
        interface: MANAGER,
        member,
        args,
    }
}

fn failed(what: String, e: CallError) -> Error {
    Error::Systemd {
        op: what,
        name: e.name,
        message: e.message,
    }
}

/// systemd's version number ("252.38-1~deb12u1" -> 252); 0 when it will not say, which
/// leaves out the properties that need a known version.
fn version(bus: &mut Bus) -> u32 {
    let args = [Value::Str(MANAGER.into()), Value::Str("Version".into())];
    let call = Call {
        path: MANAGER_PATH,
        interface: "org.freedesktop.DBus.Properties",
        member: "Get",
        args: &args,
    };
    let Ok(Ok(reply)) = bus.call(&call) else {
        return 0;
    };
    let mut d = reply.body();
    let text = match d.sig().as_deref() {
        Ok("s") => d.str().unwrap_or_default(),
        _ => return 0,
    };
    parse_version(&text)
}

fn parse_version(text: &str) -> u32 {
    let digits: String = text
        .trim_start_matches(['"', 'v'])
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().unwrap_or(0)
}

fn reset_failed(bus: &mut Bus, name: &str) {
    let args = [Value::Str(name.into())];
    let _ = bus.call(&manager_call("ResetFailedUnit", &args));
}

/// Starts the container's unit with `pid` (its init, already cloned) in it, waits until
/// systemd has made the cgroup, moves `pid` into the hierarchies systemd does not manage,
/// and applies `r` through cgroupfs. The annotations' properties go last, so that they
/// win. The unit name must be in the state already: `remove` stops it whatever happened
/// here. Returns warnings to log.
pub fn start_unit(paths: &CgroupPaths, pid: i32, r: &LinuxResources) -> Result<Vec<String>> {
    let unit = paths
        .systemd
        .as_ref()
        .ok_or_else(|| Error::Invalid("start_unit: not a systemd cgroup".into()))?;
    resources::check(r)?;
    let mut bus = Bus::connect()?;
    let ver = version(&mut bus);
    let (res_props, r) = resource_properties(paths.v2, r, ver)?;
    let (device_props, warnings) = device_properties(paths.v2, &r, ver)?;
    let mut props = unit_properties(unit, paths.v2, pid);
    props.extend(res_props);
    props.extend(device_props);
    props.extend(unit.properties.iter().cloned());
    let args = [
        Value::Str(unit.name.clone()),
        Value::Str("replace".into()),
        Value::Props(props),
        Value::Aux,
    ];
    let call = manager_call("StartTransientUnit", &args);
    let what = || format!("start systemd unit {}", unit.name);
    let reply = match bus.call(&call)? {
        // A failed unit of that name lingers until reset: reset it and try once more.
        Err(e) if e.name == "org.freedesktop.systemd1.UnitExists" => {
            reset_failed(&mut bus, &unit.name);
            bus.call(&call)?.map_err(|e| failed(what(), e))?
        }
        r => r.map_err(|e| failed(what(), e))?,
    };
    let job = reply
        .first_string()
        .ok_or_else(|| Error::Invalid(format!("{}: no job in systemd's reply", what())))?;
    let result = bus.wait_job(&job, JOB_TIMEOUT)?;
    if result != "done" {
        reset_failed(&mut bus, &unit.name);
        return Err(Error::Invalid(format!("{}: job {result}", what())));
    }
    crate::create(paths)?;
    join(paths, &unit.cgroup()?, pid)?;
    resources::apply(paths, &r)?;
    Ok(warnings)
}

/// Moves `pid` into each directory of `paths` it is not in yet: systemd placed it in the
/// hierarchies it manages only (none for a slice unit).
fn join(paths: &CgroupPaths, unit_cgroup: &str, pid: i32) -> Result<()> {
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let placed = |hierarchy: &str| {
        own.lines().any(|l| {
            let mut f = l.splitn(3, ':');
            f.next();
            f.next() == Some(hierarchy) && f.next() == Some(unit_cgroup)
        })
    };
    let dirs = paths
        .v1
        .iter()
        .map(|(n, d)| (n.as_str(), d))
        .chain(paths.unified.iter().map(|d| ("", d)));
    for (name, dir) in dirs {
        if !placed(name) {
            crate::write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
    }
    Ok(())
}

/// Stops the unit and forgets it if it failed. A unit already gone is fine (systemd
/// stops a scope by itself once its last process is gone).
pub(crate) fn stop_unit(unit: &Unit) -> Result<()> {
    let mut bus = Bus::connect()?;
    let args = [Value::Str(unit.name.clone()), Value::Str("replace".into())];
    match bus.call(&manager_call("StopUnit", &args))? {
        Ok(reply) => {
            if let Some(job) = reply.first_string() {
                // Any result will do, as for runc: the cgroup is checked by its removal.
                bus.wait_job(&job, JOB_TIMEOUT)?;
            }
        }
        Err(e) if e.name == "org.freedesktop.systemd1.NoSuchUnit" => {}
        Err(e) => return Err(failed(format!("stop systemd unit {}", unit.name), e)),
    }
    reset_failed(&mut bus, &unit.name);
    Ok(())
}

/// `update` of a systemd container: the unit's properties first (so a daemon-reload
/// keeps the new values), then cgroupfs.
pub(crate) fn set_properties(paths: &CgroupPaths, unit: &Unit, r: &LinuxResources) -> Result<()> {
    resources::check(r)?;
    let mut bus = Bus::connect()?;
    let ver = version(&mut bus);
    let (props, r) = resource_properties(paths.v2, r, ver)?;
    if !props.is_empty() {
        let args = [
            Value::Str(unit.name.clone()),
            Value::Bool(true),
            Value::Props(props),
        ];
        bus.call(&manager_call("SetUnitProperties", &args))?
            .map_err(|e| failed(format!("set properties of systemd unit {}", unit.name), e))?;
    }
    resources::apply(paths, &r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn unit(path: Option<&str>) -> Result<Unit> {
        Unit::parse(path, "abc")
    }

    #[test]
    fn cgroups_path_as_runc_reads_it() {
        let u = unit(Some("system.slice:hull:abc")).unwrap();
        assert_eq!(
            (u.name.as_str(), u.slice.as_str()),
            ("hull-abc.scope", "system.slice")
        );
        assert_eq!(u.cgroup().unwrap(), "/system.slice/hull-abc.scope");
        // Empty slice: system.slice; absent or empty path: `:hull:<id>`.
        assert_eq!(unit(Some(":docker:x")).unwrap().slice, "system.slice");
        assert_eq!(unit(Some(":docker:x")).unwrap().name, "docker-x.scope");
        assert_eq!(unit(None).unwrap(), unit(Some(":hull:abc")).unwrap());
        assert_eq!(unit(Some("")).unwrap().name, "hull-abc.scope");
        // Nested slices, the root slice, and a slice as the unit.
        let u = unit(Some("machine-pod1.slice:crio:c1")).unwrap();
        assert_eq!(
            u.cgroup().unwrap(),
            "/machine.slice/machine-pod1.slice/crio-c1.scope"
        );
        assert_eq!(
            unit(Some("-.slice:p:n")).unwrap().cgroup().unwrap(),
            "/p-n.scope"
        );
        let u = unit(Some("machine.slice:ignored:machine-pod2.slice")).unwrap();
        assert!(u.is_slice());
        assert_eq!(u.name, "machine-pod2.slice");
        assert_eq!(u.cgroup().unwrap(), "/machine.slice/machine-pod2.slice");
        // Errors runc gives too.
        for bad in [
            "/hull/abc",
            "a:b",
            "a:b:c:d",
            "system:hull:x",
            "a--b.slice:p:n",
            "x/y.slice:p:n",
            "-a.slice:p:n",
        ] {
            assert!(unit(Some(bad)).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn expands_slices() {
        assert_eq!(expand_slice("-.slice").unwrap(), "/");
        assert_eq!(expand_slice("a.slice").unwrap(), "/a.slice");
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            "/a.slice/a-b.slice/a-b-c.slice"
        );
        assert!(expand_slice(".slice").is_err());
        assert!(expand_slice("a-.slice").is_err());
        assert!(expand_slice("a.scope").is_err());
    }

    #[test]
    fn paths_from_the_top_of_each_hierarchy() {
        let u = unit(Some("system.slice:hull:abc")).unwrap();
        let v2 = Layout::fake_v2(Path::new("/sys/fs/cgroup"), "/user.slice/x.scope");
        let p = plan_unit(&v2, u.clone()).unwrap();
        assert!(p.v2);
        assert_eq!(
            p.unified,
            Some(PathBuf::from("/sys/fs/cgroup/system.slice/hull-abc.scope"))
        );
        assert_eq!(p.systemd.as_ref(), Some(&u));
        let v1 = Layout::fake_v1(&[
            ("memory", Path::new("/sys/fs/cgroup/memory")),
            ("name=systemd", Path::new("/sys/fs/cgroup/systemd")),
        ]);
        let p = plan_unit(&v1, u).unwrap();
        assert_eq!(
            p.v1_dir("memory"),
            Some(Path::new(
                "/sys/fs/cgroup/memory/system.slice/hull-abc.scope"
            ))
        );
        assert!(p.owned.is_empty(), "systemd's directories are not hull's");
    }

    #[test]
    fn cpu_lists_as_bitmasks() {
        assert_eq!(list_to_bits("0").unwrap(), [1]);
        assert_eq!(list_to_bits("0-2,7").unwrap(), [0b1000_0111]);
        assert_eq!(list_to_bits("8").unwrap(), [0, 1]);
        assert_eq!(list_to_bits(" 1 , 9-10 ").unwrap(), [2, 6]);
        for bad in ["", "a", "3-1", "1-", "99999999"] {
            assert!(list_to_bits(bad).is_err(), "{bad:?}");
        }
    }

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn names(p: &Props) -> Vec<(&str, &Value)> {
        p.iter().map(|(n, v)| (n.as_str(), v)).collect()
    }

    #[test]
    fn v2_properties_as_runc_maps_them() {
        let r = res(
            r#"{"memory":{"limit":104857600,"swap":209715200,"reservation":52428800},
                "cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0-1","mems":"0"},
                "pids":{"limit":42},"blockIO":{"weight":500},
                "unified":{"memory.high":"max","pids.max":"0","io.max":"8:0 rbps=1"}}"#,
        );
        let (p, out) = resource_properties(true, &r, 252).unwrap();
        use Value::*;
        assert_eq!(
            names(&p),
            [
                ("MemoryMax", &U64(104857600)),
                ("MemoryLow", &U64(52428800)),
                ("MemorySwapMax", &U64(104857600)),
                ("CPUWeight", &U64(100)),
                ("CPUQuotaPeriodUSec", &U64(100000)),
                ("CPUQuotaPerSecUSec", &U64(500000)),
                ("AllowedCPUs", &Value::bytes(&[3])),
                ("AllowedMemoryNodes", &Value::bytes(&[1])),
                ("TasksMax", &U64(42)),
                ("IOWeight", &U64(4950)),
                ("MemoryHigh", &U64(u64::MAX)),
                ("TasksMax", &U64(1)),
            ]
        );
        assert_eq!(out, r, "nothing to round");
        // Old systemd: no period, no cpuset masks.
        let (p, _) = resource_properties(true, &r, 241).unwrap();
        assert!(!p
            .iter()
            .any(|(n, _)| n == "CPUQuotaPeriodUSec" || n == "AllowedCPUs"));
    }

    #[test]
    fn v1_properties_as_runc_maps_them() {
        let r = res(
            r#"{"memory":{"limit":-1,"reservation":1},"cpu":{"shares":512},
                "pids":{"limit":-1},"blockIO":{"weight":300}}"#,
        );
        let (p, _) = resource_properties(false, &r, 252).unwrap();
        use Value::*;
        assert_eq!(
            names(&p),
            [
                ("MemoryLimit", &U64(u64::MAX)),
                ("CPUShares", &U64(512)),
                ("TasksMax", &U64(u64::MAX)),
                ("BlockIOWeight", &U64(300)),
            ]
        );
    }

    /// DeviceAllow entries as (path, access), after the clearing empty one.
    fn device_allow(p: &Props) -> (String, Vec<(String, String)>) {
        let policy = match &p[1] {
            (n, Value::Str(s)) if n == "DevicePolicy" => s.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            p[0],
            ("DeviceAllow".into(), Value::Array("(ss)".into(), vec![]))
        );
        let mut out = Vec::new();
        if let Some((_, Value::Array(_, items))) = p.get(2) {
            for item in items {
                match item {
                    Value::Struct(f) => match &f[..] {
                        [Value::Str(a), Value::Str(b)] => out.push((a.clone(), b.clone())),
                        _ => panic!("{f:?}"),
                    },
                    _ => panic!("{item:?}"),
                }
            }
        }
        (policy, out)
    }

    #[test]
    fn device_rules_as_systemd_takes_them() {
        let allow_list = res(r#"{"devices":[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rw"},
                {"allow":true,"type":"c","major":136,"access":"rwm"},
                {"allow":true,"type":"b","access":"m"},
                {"allow":true,"type":"b","major":8,"minor":0,"access":"r"},
                {"allow":true,"type":"c","minor":5,"access":"r"}]}"#);
        let (p, warnings) = device_properties(true, &allow_list, 252).unwrap();
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            device_allow(&p),
            (
                "strict".into(),
                vec![
                    pair("block-*", "m"),
                    pair("/dev/char/1:3", "rw"),
                    pair("/dev/block/8:0", "r"),
                    pair("char-136", "rwm"),
                ]
            )
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("c *:5 r"), "{warnings:?}");

        // A deny list: strict and empty on v1 (safe across a reload), auto on v2 (hull's
        // program enforces it). Allow-all: auto.
        let deny_list =
            res(r#"{"devices":[{"allow":true},{"allow":false,"type":"c","major":1,"minor":5}]}"#);
        assert_eq!(
            device_allow(&device_properties(false, &deny_list, 252).unwrap().0),
            ("strict".into(), vec![])
        );
        assert_eq!(
            device_allow(&device_properties(true, &deny_list, 252).unwrap().0),
            ("auto".into(), vec![])
        );
        let all = res(r#"{"devices":[{"allow":true,"access":"rwm"}]}"#);
        assert_eq!(
            device_allow(&device_properties(false, &all, 252).unwrap().0),
            ("auto".into(), vec![])
        );
        // No rules (update): no properties.
        assert!(device_properties(true, &res("{}"), 252)
            .unwrap()
            .0
            .is_empty());
    }

    #[test]
    fn annotations_become_properties() {
        let a = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<std::collections::HashMap<_, _>>()
        };
        let p = annotation_properties(&a(&[
            ("org.systemd.property.TimeoutStopSec", "5"),
            ("org.systemd.property.TimeoutStopUSec", "uint64 123"),
            ("org.systemd.property.CollectMode", "'inactive-or-failed'"),
            ("org.systemd.property.CPUSec", "uint64 1"),
            ("io.other", "x"),
        ]))
        .unwrap();
        use Value::*;
        assert_eq!(
            names(&p),
            [
                // "CPUSec": no lower-case letter before Sec, so it stays as it is.
                ("CPUSec", &U64(1)),
                ("CollectMode", &Str("inactive-or-failed".into())),
                ("TimeoutStopUSec", &U64(5_000_000)),
                ("TimeoutStopUSec", &U64(123)),
            ]
        );
        for bad in [
            ("org.systemd.property.Ab", "1"),
            ("org.systemd.property.A-b", "1"),
            ("org.systemd.property.TimeoutStopSec", "'x'"),
            ("org.systemd.property.Foo", "nope"),
        ] {
            let e = annotation_properties(&a(&[bad])).unwrap_err().to_string();
            assert!(e.contains(bad.0), "{e}");
        }
    }

    #[test]
    fn cpu_quota_rounds_up_to_whole_percents() {
        // 12345 us per 100 ms is 12.345% of a CPU: systemd keeps 13%, so cgroupfs gets 13000.
        let r = res(r#"{"cpu":{"quota":12345,"period":100000}}"#);
        let (p, out) = resource_properties(true, &r, 252).unwrap();
        assert!(p.contains(&("CPUQuotaPerSecUSec".into(), Value::U64(130000))));
        assert_eq!(out.cpu().as_ref().unwrap().quota(), Some(13000));
        // No quota but a period: unlimited.
        let r = res(r#"{"cpu":{"quota":-1,"period":50000}}"#);
        let (p, _) = resource_properties(true, &r, 252).unwrap();
        assert!(p.contains(&("CPUQuotaPerSecUSec".into(), Value::U64(u64::MAX))));
    }

    #[test]
    fn unit_properties_for_scopes_and_slices() {
        let scope = unit(Some("system.slice:hull:abc")).unwrap();
        let p = unit_properties(&scope, true, 42);
        let names: Vec<&str> = p.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Description",
                "Slice",
                "Delegate",
                "PIDs",
                "MemoryAccounting",
                "CPUAccounting",
                "IOAccounting",
                "TasksAccounting",
                "DefaultDependencies"
            ]
        );
        assert!(p.contains(&(
            "PIDs".into(),
            Value::Array("u".into(), vec![Value::U32(42)])
        )));
        assert!(p.contains(&("DefaultDependencies".into(), Value::Bool(false))));
        let slice = unit(Some("machine.slice:x:machine-a.slice")).unwrap();
        let p = unit_properties(&slice, false, 42);
        assert!(p.contains(&("Wants".into(), Value::strings(&["machine.slice"]))));
        assert!(p.contains(&("BlockIOAccounting".into(), Value::Bool(true))));
        assert!(!p.iter().any(|(n, _)| n == "PIDs" || n == "Slice"));
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("252.38-1~deb12u1"), 252);
        assert_eq!(parse_version("\"v245.4-1.fc32\""), 245);
        assert_eq!(parse_version("unknown"), 0);
    }
}

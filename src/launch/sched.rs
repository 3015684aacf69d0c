//! Process attributes applied with one syscall each: personality, I/O priority, scheduler,
//! NUMA memory policy and CPU affinity. Translated from config.json in the plan (pure), set
//! by the child.

use nix::errno::Errno;
use oci_spec::runtime::{
    IOPriorityClass, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain,
    LinuxSchedulerFlag, LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType,
    Scheduler,
};

use crate::error::{Error, Result};

/// `struct sched_attr` (size 56).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs {
    pub personality: Option<u64>,
    pub ioprio: Option<u32>,
    pub scheduler: Option<SchedAttr>,
    /// (mode | flags, node mask words, maxnode)
    pub mempolicy: Option<(i32, Vec<u64>, u64)>,
    pub cpus_initial: Option<Vec<usize>>,
    pub cpus_final: Option<Vec<usize>>,
    /// The cgroup limits the CPUs: SCHED_DEADLINE is refused there (EPERM), which runc
    /// explains.
    pub cpuset_cpus: bool,
}

/// "0-3,7" -> [0, 1, 2, 3, 7]; `what` names the field in errors.
pub fn parse_list(s: &str, what: &str) -> Result<Vec<usize>> {
    let bad = || Error::msg(format!("{what}: {s:?} is not a list like 0-3,7"));
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.parse::<usize>().map_err(|_| bad())?,
                b.parse::<usize>().map_err(|_| bad())?,
            ),
            None => {
                let n = part.parse::<usize>().map_err(|_| bad())?;
                (n, n)
            }
        };
        if a > b || b >= 65536 {
            return Err(bad());
        }
        out.extend(a..=b);
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

fn personality(p: &LinuxPersonality) -> Result<u64> {
    let mut v: u64 = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    for f in p.flags().iter().flatten() {
        v |= match f.as_str() {
            "UNAME26" => 0x0020000,
            "ADDR_NO_RANDOMIZE" => 0x0040000,
            "FDPIC_FUNCPTRS" => 0x0080000,
            "MMAP_PAGE_ZERO" => 0x0100000,
            "ADDR_COMPAT_LAYOUT" => 0x0200000,
            "READ_IMPLIES_EXEC" => 0x0400000,
            "ADDR_LIMIT_32BIT" => 0x0800000,
            "SHORT_INODE" => 0x1000000,
            "WHOLE_SECONDS" => 0x2000000,
            "STICKY_TIMEOUTS" => 0x4000000,
            "ADDR_LIMIT_3GB" => 0x8000000,
            other => {
                return Err(Error::msg(format!(
                    "linux.personality.flags: unknown flag {other:?}"
                )))
            }
        };
    }
    Ok(v)
}

fn scheduler(s: &Scheduler) -> Result<SchedAttr> {
    use LinuxSchedulerPolicy::*;
    let policy = match s.policy() {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        SchedIso => 4,
        SchedIdle => 5,
        SchedDeadline => 6,
    };
    let mut flags = 0;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(Error::msg(format!(
            "process.scheduler.nice {nice} is outside [-20, 19]"
        )));
    }
    let priority = s.priority().unwrap_or(0);
    if (policy == 1 || policy == 2) && !(1..=99).contains(&priority) {
        return Err(Error::msg(format!(
            "process.scheduler.priority {priority} must be in [1, 99] for a real-time policy"
        )));
    }
    Ok(SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice,
        priority: priority.max(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        util_min: 0,
        util_max: 0,
    })
}

fn mempolicy(m: &LinuxMemoryPolicy) -> Result<(i32, Vec<u64>, u64)> {
    use MemoryPolicyModeType::*;
    let mode = match m.mode() {
        MpolDefault => 0,
        MpolPreferred => 1,
        MpolBind => 2,
        MpolInterleave => 3,
        MpolLocal => 4,
        MpolPreferredMany => 5,
        MpolWeightedInterleave => 6,
    };
    let mut flags = 0;
    for f in m.flags().iter().flatten() {
        flags |= match f {
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
        };
    }
    let nodes = match m.nodes().as_deref().filter(|n| !n.is_empty()) {
        Some(n) => parse_list(n, "linux.memoryPolicy.nodes")
            .map_err(|e| Error::msg(format!("invalid memory policy nodes {n:?}: {e}")))?,
        None => vec![],
    };
    // runc's rules and words: DEFAULT and LOCAL take no node, PREFERRED any number, the
    // others at least one.
    let mut distinct = nodes.clone();
    distinct.dedup();
    match (mode, distinct.len()) {
        (0 | 4, n) if n != 0 => {
            return Err(Error::msg(format!(
                "invalid memory policy: memory policy mode requires 0 nodes but got {n}"
            )))
        }
        (2 | 3 | 5 | 6, 0) => {
            return Err(Error::msg(
                "invalid memory policy: memory policy mode requires at least one node but got 0",
            ))
        }
        _ => {}
    }
    let max = nodes.iter().max().map_or(0, |m| m + 1);
    let mut mask = vec![0u64; max.div_ceil(64).max(1)];
    for n in &nodes {
        mask[n / 64] |= 1 << (n % 64);
    }
    // set_mempolicy reads maxnode - 1 bits.
    Ok((mode | flags, mask, max as u64 + 1))
}

pub fn build(spec: &oci_spec::runtime::Spec) -> Result<Attrs> {
    let process = spec.process().as_ref();
    let linux = spec.linux().as_ref();
    let ioprio = match process.and_then(|p| p.io_priority().as_ref()) {
        None => None,
        Some(io) => {
            let class = match io.class() {
                IOPriorityClass::IoprioClassRt => 1,
                IOPriorityClass::IoprioClassBe => 2,
                IOPriorityClass::IoprioClassIdle => 3,
            };
            let prio = io.priority();
            if !(0..=7).contains(&prio) {
                return Err(Error::msg(format!(
                    "process.ioPriority.priority {prio} is outside [0, 7]"
                )));
            }
            Some((class << 13) | prio as u32)
        }
    };
    let affinity = process.and_then(|p| p.exec_cpu_affinity().as_ref());
    Ok(Attrs {
        personality: linux
            .and_then(|l| l.personality().as_ref())
            .map(personality)
            .transpose()?,
        ioprio,
        scheduler: process
            .and_then(|p| p.scheduler().as_ref())
            .map(scheduler)
            .transpose()?,
        mempolicy: linux
            .and_then(|l| l.memory_policy().as_ref())
            .map(mempolicy)
            .transpose()?,
        cpus_initial: affinity
            .and_then(|a| a.initial().as_deref())
            .map(|s| parse_list(s, "process.execCPUAffinity.initial"))
            .transpose()?,
        cpus_final: affinity
            .and_then(|a| a.cpu_affinity_final().as_deref())
            .map(|s| parse_list(s, "process.execCPUAffinity.final"))
            .transpose()?,
        cpuset_cpus: linux
            .and_then(|l| l.resources().as_ref())
            .and_then(|r| r.cpu().as_ref())
            .and_then(|c| c.cpus().as_deref())
            .is_some_and(|c| !c.is_empty()),
    })
}

pub fn set_affinity(cpus: &[usize]) -> std::result::Result<(), Errno> {
    let mut set = nix::sched::CpuSet::new();
    for c in cpus {
        set.set(*c)?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
}

/// Every CPU (the kernel keeps those of our cpuset): the runtime's own affinity, say from
/// `taskset`, must not outlive the cgroup join. A failure is only a warning, as in runc.
pub fn reset_affinity() {
    // 65536 CPUs, the most the kernel has.
    static ALL: [u64; 1024] = [u64::MAX; 1024];
    // SAFETY: a valid buffer and its length.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sched_setaffinity,
            0,
            std::mem::size_of_val(&ALL),
            ALL.as_ptr(),
        )
    };
    if r < 0 {
        crate::logging::warn(&format!(
            "resetting the CPU affinity: {}",
            crate::error::errno_text(Errno::last())
        ));
    }
}

/// The first 64 CPUs the process may use, as runc's nsexec logs them ("affinity: 0x3").
pub fn log_affinity() {
    if !crate::logging::debug_enabled() {
        return;
    }
    let Ok(set) = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) else {
        return;
    };
    let mask = (0..64)
        .filter(|&i| set.is_set(i).unwrap_or(false))
        .fold(0u64, |m, i| m | 1 << i);
    crate::logging::debug(&format!(
        "nsexec[{}]: affinity: {mask:#x}",
        std::process::id()
    ));
}

/// Applies everything but the affinity (which has its own moments).
pub fn apply(a: &Attrs) -> std::result::Result<(), (&'static str, Errno)> {
    // SAFETY: plain syscalls with valid arguments.
    unsafe {
        if let Some(p) = a.personality {
            Errno::result(libc::personality(p as libc::c_ulong))
                .map_err(|e| ("set personality", e))?;
        }
        if let Some(v) = a.ioprio {
            Errno::result(libc::syscall(
                libc::SYS_ioprio_set,
                1, /* IOPRIO_WHO_PROCESS */
                0,
                v,
            ))
            .map_err(|e| ("set I/O priority", e))?;
        }
        if let Some(s) = &a.scheduler {
            Errno::result(libc::syscall(
                libc::SYS_sched_setattr,
                0,
                s as *const SchedAttr,
                0,
            ))
            .map_err(|e| match e {
                Errno::EPERM if a.cpuset_cpus => (
                    "process scheduler can't be used together with AllowedCPUs",
                    e,
                ),
                e => ("set scheduler", e),
            })?;
        }
        if let Some((mode, mask, maxnode)) = &a.mempolicy {
            let ptr = if mask.iter().all(|w| *w == 0) {
                std::ptr::null()
            } else {
                mask.as_ptr()
            };
            Errno::result(libc::syscall(libc::SYS_set_mempolicy, *mode, ptr, *maxnode))
                .map_err(|e| ("set memory policy", e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(v: serde_json::Value) -> Result<Attrs> {
        let mut base = serde_json::json!({"ociVersion": "1.0.2", "root": {"path": "r"}, "process": {"args": ["x"], "cwd": "/", "user": {"uid": 0, "gid": 0}}, "linux": {}});
        for (k, val) in v["process"].as_object().into_iter().flatten() {
            base["process"][k] = val.clone();
        }
        for (k, val) in v["linux"].as_object().into_iter().flatten() {
            base["linux"][k] = val.clone();
        }
        build(&serde_json::from_value(base).unwrap())
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("0-3,7", "x").unwrap(), [0, 1, 2, 3, 7]);
        assert_eq!(parse_list("5", "x").unwrap(), [5]);
        for bad in ["", "3-1", "a", "1,,x", "99999"] {
            assert!(
                parse_list(bad, "field.x")
                    .unwrap_err()
                    .to_string()
                    .contains("field.x"),
                "{bad}"
            );
        }
    }

    #[test]
    fn translations() {
        let a = attrs(serde_json::json!({
            "process": {"ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 4},
                        "scheduler": {"policy": "SCHED_BATCH", "nice": 5, "flags": ["SCHED_RESET_ON_FORK"]},
                        "execCPUAffinity": {"initial": "0", "final": "0-1"}},
            "linux": {"personality": {"domain": "LINUX32", "flags": ["ADDR_NO_RANDOMIZE"]},
                      "memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0,2", "flags": ["MPOL_F_STATIC_NODES"]}}
        }))
        .unwrap();
        assert_eq!(a.ioprio, Some((3 << 13) | 4));
        let s = a.scheduler.unwrap();
        assert_eq!((s.policy, s.nice, s.flags, s.size), (3, 5, 1, 56));
        assert_eq!(a.personality, Some(0x0008 | 0x0040000));
        assert_eq!(a.mempolicy, Some((2 | 1 << 15, vec![0b101], 4)));
        assert_eq!(a.cpus_initial.as_deref(), Some(&[0][..]));
        assert_eq!(a.cpus_final.as_deref(), Some(&[0, 1][..]));
    }

    #[test]
    fn bad_values_name_the_field() {
        let e = attrs(serde_json::json!({"process": {"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 9}}})).unwrap_err();
        assert!(e.to_string().contains("process.ioPriority.priority"), "{e}");
        let e = attrs(
            serde_json::json!({"process": {"scheduler": {"policy": "SCHED_FIFO", "priority": 0}}}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("process.scheduler.priority"), "{e}");
        let e = attrs(
            serde_json::json!({"linux": {"personality": {"domain": "LINUX", "flags": ["NOPE"]}}}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("linux.personality.flags"), "{e}");
        let e = attrs(serde_json::json!({"linux": {"memoryPolicy": {"mode": "MPOL_BIND"}}}))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("requires at least one node but got 0"),
            "{e}"
        );
        let e = attrs(serde_json::json!({"linux": {"memoryPolicy": {"mode": "MPOL_DEFAULT", "nodes": "0-7"}}}))
            .unwrap_err();
        assert!(e.to_string().contains("requires 0 nodes but got 8"), "{e}");
        let e = attrs(serde_json::json!({"linux": {"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0-9876543210"}}}))
            .unwrap_err();
        assert!(e.to_string().contains("invalid memory policy nodes"), "{e}");
        attrs(serde_json::json!({"linux": {"memoryPolicy": {"mode": "MPOL_PREFERRED"}}})).unwrap();
    }
}

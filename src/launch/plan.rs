//! The Plan: everything the cloned child will do, computed in the runtime before clone, as
//! plain data. The child applies it step by step and decides nothing; building it touches
//! nothing but reads (the rootfs's /etc/passwd), so it is unit-tested without root.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};

use caps::{Capability, CapsHashSet};
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use oci_spec::runtime::{
    LinuxDeviceType, LinuxIdMapping, LinuxNamespaceType, PosixRlimitType, Spec,
};

use crate::error::{quote, shown, Context, Error, Result};
use crate::rootfs::options::{self, MountOptions};

/// Key permission bits (linux/keyctl.h's KEY_USR_SEARCH, KEY_OTH_SEARCH).
const KEY_USR_SEARCH: u32 = 0x0008_0000;
const KEY_OTH_SEARCH: u32 = 0x0000_0008;

#[derive(Debug, Clone)]
pub enum MountKind {
    /// Bind a host path (absolute, resolved against the bundle).
    Bind {
        source: PathBuf,
        /// None: the source did not exist when planned. It may be made by an earlier
        /// mount (a path inside the rootfs), so it is looked up in the container's mount
        /// namespace when its turn comes, as runc does.
        source_is_dir: Option<bool>,
    },
    /// A new filesystem instance (`type`, `source`).
    Fs { fstype: String, source: String },
    /// `type: cgroup`: the container's cgroup hierarchies, by mount or by bind.
    Cgroup,
}

#[derive(Debug, Clone)]
pub struct MountPlan {
    /// Destination inside the container (absolute).
    pub dest: String,
    pub kind: MountKind,
    pub opts: MountOptions,
    pub idmap: Option<IdMap>,
}

/// An idmapped bind mount: whose ids it shows, and whether sub-mounts are shifted too
/// (`ridmap`).
#[derive(Debug, Clone)]
pub struct IdMap {
    pub userns: IdMapUserns,
    pub recursive: bool,
}

#[derive(Debug, Clone)]
pub enum IdMapUserns {
    /// uid_map and gid_map text: the mount's own, else the new user namespace's.
    Maps(String, String),
    /// A joined user namespace.
    Path(PathBuf),
}

#[derive(Debug, Clone)]
pub struct DevicePlan {
    pub path: String,
    /// S_IFCHR, S_IFBLK or S_IFIFO.
    pub kind: u32,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone)]
pub struct NsJoin {
    pub flag: CloneFlags,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Default)]
pub struct CapsPlan {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
}

#[derive(Debug, Clone)]
pub struct ProcessPlan {
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    /// Where to look for args[0] when it has no '/': the PATH of `env`.
    pub path_dirs: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: u32,
    pub rlimits: Vec<(u32, u64, u64)>,
    pub no_new_privs: bool,
    /// None: the process keeps the capabilities it has (no `capabilities` in the config).
    pub caps: Option<CapsPlan>,
    pub oom_score_adj: Option<i32>,
    /// personality, ioPriority, scheduler, memoryPolicy, execCPUAffinity.
    pub attrs: super::sched::Attrs,
    pub apparmor_profile: Option<String>,
    pub selinux_label: Option<String>,
    /// Set by the caller: `Plan::build` for the init, `exec` for its processes.
    pub session_keyring: Option<SessionKeyring>,
    /// `process.terminal`: the child makes a pty and sends its master out.
    pub terminal: bool,
    pub console_size: Option<crate::terminal::Size>,
}

/// Who writes the id maps of a new user namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapWriter {
    /// The runtime, as root.
    Root,
    /// An unprivileged runtime mapping only its own uid and gid: the kernel allows that
    /// once setgroups is denied.
    OwnIds,
    /// Any other map when not root: the setuid helpers newuidmap and newgidmap, within
    /// the caller's ranges of /etc/subuid and /etc/subgid (as runc, podman).
    Helpers,
}

impl MapWriter {
    fn decide(rootless: bool, uid_map: &str, gid_map: &str) -> MapWriter {
        // One line, the caller's own id, size 1.
        let own = |map: &str, id: u32| {
            let lines: Vec<Vec<&str>> = map
                .lines()
                .map(|l| l.split_whitespace().collect())
                .collect();
            lines.len() == 1
                && lines[0].get(1) == Some(&id.to_string().as_str())
                && lines[0].get(2) == Some(&"1")
        };
        match rootless {
            false => MapWriter::Root,
            true if own(uid_map, nix::unistd::geteuid().as_raw())
                && own(gid_map, nix::unistd::getegid().as_raw()) =>
            {
                MapWriter::OwnIds
            }
            true => MapWriter::Helpers,
        }
    }
}

/// The container's own session keyring (runc's `_ses.<id>`), joined before execve so that
/// no key of the caller's session is within the container's reach. `--no-new-keyring`:
/// none, the caller's is inherited.
#[derive(Debug, Clone)]
pub struct SessionKeyring {
    pub name: CString,
    /// Permission bits the init adds to the new keyring so that `exec` processes (same
    /// uid) can search it, and join it by name: "other" in a user namespace, else "user".
    /// None for `exec`, which joins the keyring as the init left it.
    pub add_perm: Option<u32>,
}

impl SessionKeyring {
    pub fn name_for(id: &str) -> Result<CString> {
        cstring(&format!("_ses.{id}"), "the session keyring's name")
    }
}

/// The container's seccomp filter, compiled, and where a NOTIFY listener goes.
#[derive(Debug, Clone, Default)]
pub struct SeccompPlan {
    pub program: Option<hull_seccomp::Program>,
    pub listener: Option<SeccompListener>,
}

/// `linux.seccomp.listenerPath` and `listenerMetadata`.
#[derive(Debug, Clone)]
pub struct SeccompListener {
    pub path: PathBuf,
    pub metadata: String,
}

impl SeccompPlan {
    /// Compiles `linux.seccomp` of `spec` (for the init and for exec alike).
    pub fn build(spec: &Spec) -> Result<SeccompPlan> {
        let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
            return Ok(SeccompPlan::default());
        };
        let program = hull_seccomp::compile(s)?;
        if !program.unknown_syscalls.is_empty() {
            crate::logging::debug(&format!(
                "seccomp: syscalls unknown on this architecture skipped: {}",
                program.unknown_syscalls.join(", ")
            ));
        }
        let listener = match (program.needs_listener(), s.listener_path()) {
            (false, _) => None,
            (true, None) => {
                return Err(Error::msg(
                    "linux.seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath",
                ))
            }
            (true, Some(path)) => Some(SeccompListener {
                path: path.clone(),
                metadata: s.listener_metadata().clone().unwrap_or_default(),
            }),
        };
        Ok(SeccompPlan {
            program: Some(program),
            listener,
        })
    }
}

/// An `exec`: the process, and what of the container it enters.
#[derive(Debug, Clone)]
pub struct ExecPlan {
    pub process: ProcessPlan,
    pub seccomp: SeccompPlan,
    /// The init's namespaces that differ from ours, joined at once through its pidfd.
    /// The pid namespace is joined by the parent (it only applies to children).
    pub join: CloneFlags,
    pub join_pid: bool,
    /// A caller without CAP_SYS_ADMIN (rootless) cannot join the container's pid
    /// namespace itself: a first child joins every namespace, the user namespace first,
    /// and clones the exec process as our child (runc's nsexec does the same).
    pub through_userns: bool,
    /// The container has no mount namespace of its own: chroot into the init's root.
    pub chroot: bool,
    pub cgroup: hull_cgroups::CgroupPaths,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub rootfs: PathBuf,
    /// New namespaces made by clone (user, pid, mount, uts, ipc, net).
    pub clone_flags: CloneFlags,
    /// Made by the child with unshare after it is in its cgroup (cgroup) / for execve (time).
    pub unshare_cgroup: bool,
    pub unshare_time: bool,
    /// `monotonic S N` / `boottime S N` lines for /proc/self/timens_offsets.
    pub time_offsets: String,
    /// Existing namespaces to join, in the order they must be joined.
    pub join: Vec<NsJoin>,
    /// A first child joins `join`, then makes `clone_flags` (the user namespace first)
    /// with unshare and clones the init: see `two_stage` in `Plan::build`.
    pub two_stage: bool,
    pub pid_ns_path: Option<PathBuf>,
    pub uid_map: Option<String>,
    pub gid_map: Option<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub mounts: Vec<MountPlan>,
    /// /dev is set up by us (not bound from the host): make devices and the /dev symlinks.
    pub setup_dev: bool,
    /// A read-only /dev filesystem is mounted writable, for the nodes, console and
    /// masks, and remounted with these flags (MS_RDONLY among them) at the end, as runc.
    pub dev_readonly: Option<MsFlags>,
    pub devices: Vec<DevicePlan>,
    /// The container has a user namespace (new or joined): mknod is not allowed (the
    /// host's device nodes are bound instead), and host paths are out of the child's reach
    /// (the runtime opens bind sources for it).
    pub in_user_ns: bool,
    /// Made by a caller that is not root (runc's rootless euid): the id maps are written
    /// by an unprivileged parent (the child stays dumpable until then; how: `map_writer`),
    /// and the child opens bind sources itself (its root is the caller, with the
    /// caller's access).
    pub rootless_euid: bool,
    /// Who writes the id maps (with `uid_map`).
    pub map_writer: MapWriter,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    /// `linux.mountLabel`: the SELinux `context=` of the filesystems hull mounts (tmpfs,
    /// devpts, the masks' tmpfs ...), as runc gives it, whether or not SELinux is on.
    pub mount_label: Option<String>,
    /// The mount label also goes on /dev/mqueue as an xattr: only where SELinux is on.
    pub label_mqueue: bool,
    pub root_propagation: MsFlags,
    pub root_propagation_set: bool,
    pub readonly_root: bool,
    pub no_pivot: bool,
    pub sysctl: Vec<(String, String)>,
    pub cgroup: hull_cgroups::CgroupPaths,
    pub process: ProcessPlan,
    pub seccomp: SeccompPlan,
}

/// Paths once each, compared cleaned ("/a/./b/" is "/a/b"), the first spelling kept: a
/// path masked twice would be mounted over twice (runc skips repeats too).
fn first_of_each_path(paths: &[String]) -> Vec<String> {
    let clean = |p: &str| {
        let mut parts: Vec<&str> = Vec::new();
        for c in p.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        parts.join("/")
    };
    let mut seen = std::collections::HashSet::new();
    paths
        .iter()
        .filter(|p| seen.insert(clean(p)))
        .cloned()
        .collect()
}

/// The environment as runc hands it to execve: one entry per name, the last value winning
/// at the last position, and an empty HOME left out (it is filled in from passwd).
fn dedup_env(env: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = env
        .iter()
        .rev()
        .filter(|kv| seen.insert(kv.split('=').next().unwrap_or_default()))
        .filter(|kv| kv.as_str() != "HOME=")
        .cloned()
        .collect();
    out.reverse();
    out
}

impl ProcessPlan {
    /// The process of `spec` (the container's, or an exec's put in its place), with HOME
    /// from the rootfs's `passwd` when the env lacks it.
    pub fn build(spec: &Spec, passwd: Option<&str>) -> Result<ProcessPlan> {
        let process = spec
            .process()
            .as_ref()
            .ok_or_else(|| Error::msg("process must be set in config.json"))?;
        let user = process.user();
        let mut env = dedup_env(process.env().as_deref().unwrap_or_default());
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            let home = passwd
                .and_then(|p| crate::user::home_of(p, user.uid()))
                .filter(|h| !h.contains('\0'))
                .unwrap_or_else(|| "/".into());
            env.push(format!("HOME={home}"));
        }
        let path_var = env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH);
        let path_dirs = path_var
            .split(':')
            .map(|d| {
                if d.is_empty() {
                    ".".to_string()
                } else {
                    d.to_string()
                }
            })
            .collect();
        let args = process.args().as_deref().unwrap_or_default();
        if args.is_empty() {
            // The child execs args[0]: checked here too, whoever built the spec.
            return Err(Error::msg("process.args must not be empty"));
        }
        let caps = process.capabilities().as_ref().map(|c| {
            let last = last_cap();
            CapsPlan {
                bounding: cap_set(c.bounding(), last),
                effective: cap_set(c.effective(), last),
                permitted: cap_set(c.permitted(), last),
                inheritable: cap_set(c.inheritable(), last),
                ambient: cap_set(c.ambient(), last),
            }
        });
        let plan = ProcessPlan {
            args: args
                .iter()
                .enumerate()
                .map(|(i, a)| cstring(a, &format!("process.args[{i}]")))
                .collect::<Result<_>>()?,
            env: env
                .iter()
                .enumerate()
                .map(|(i, e)| cstring(e, &format!("process.env[{i}]")))
                .collect::<Result<_>>()?,
            path_dirs,
            cwd: process.cwd().to_string_lossy().into_owned(),
            uid: user.uid(),
            gid: user.gid(),
            additional_gids: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask().unwrap_or(0o022),
            rlimits: process
                .rlimits()
                .iter()
                .flatten()
                .map(|r| (rlimit_resource(r.typ()), r.soft(), r.hard()))
                .collect(),
            no_new_privs: process.no_new_privileges().unwrap_or(false),
            caps,
            oom_score_adj: process.oom_score_adj(),
            attrs: super::sched::build(spec)?,
            apparmor_profile: process.apparmor_profile().clone().filter(|p| !p.is_empty()),
            selinux_label: process.selinux_label().clone().filter(|p| !p.is_empty()),
            session_keyring: None,
            terminal: process.terminal().unwrap_or(false),
            console_size: process
                .console_size()
                .as_ref()
                .map(|b| (b.height() as u16, b.width() as u16)),
        };
        // Decided on the host, where securityfs and selinuxfs are: the child, past
        // pivot_root, sees the container's fresh /sys and would drop the label silently.
        if let Some(profile) = &plan.apparmor_profile {
            if !crate::lsm::apparmor_enabled() {
                return Err(Error::msg(format!(
                    "unable to apply apparmor profile {profile:?}: AppArmor is not enabled on the host"
                )));
            }
        }
        if plan.selinux_label.is_some() && !crate::lsm::selinux_enabled() {
            return Err(Error::msg(
                "selinux label is specified in config, but selinux is disabled or not supported",
            ));
        }
        // runc's rule: an unprivileged runtime cannot grant groups (setgroups is denied,
        // or the groups would not be the ones asked for).
        if !plan.additional_gids.is_empty() && !nix::unistd::geteuid().is_root() {
            return Err(Error::msg(
                "cannot set any additional groups in a rootless container",
            ));
        }
        for (i, (res, soft, hard)) in plan.rlimits.iter().enumerate() {
            if soft > hard {
                return Err(Error::msg(format!(
                    "process.rlimits[{i}] (resource {res}): soft {soft} is above hard {hard}"
                )));
            }
        }

        Ok(plan)
    }
}

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::msg(format!("{what} contains a NUL byte")))
}

fn ns_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The order joins happen in: user first (it grants the rights for the rest), mount last
/// but one (it changes what paths mean), time last (it only matters for execve).
fn join_rank(f: CloneFlags) -> u8 {
    [
        CloneFlags::CLONE_NEWUSER,
        CloneFlags::CLONE_NEWIPC,
        CloneFlags::CLONE_NEWUTS,
        CloneFlags::CLONE_NEWNET,
        CloneFlags::CLONE_NEWCGROUP,
        CloneFlags::CLONE_NEWNS,
    ]
    .iter()
    .position(|x| *x == f)
    .unwrap_or(6) as u8
}

fn id_map(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

fn rlimit_resource(t: PosixRlimitType) -> u32 {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

fn cap_set(set: &Option<oci_spec::runtime::Capabilities>, last: u8) -> CapsHashSet {
    let mut out = CapsHashSet::new();
    for c in set.iter().flatten() {
        // Names come from oci-spec's closed enum, so every one is known to `caps`; those
        // the running kernel lacks are skipped, as runc does.
        if let Ok(cap) = format!("CAP_{c}").parse::<Capability>() {
            if cap.index() <= last {
                out.insert(cap);
            }
        }
    }
    out
}

/// The default device nodes every container gets (runc's list).
fn default_devices() -> Vec<DevicePlan> {
    [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ]
    .iter()
    .map(|(p, ma, mi)| DevicePlan {
        path: p.to_string(),
        kind: libc::S_IFCHR,
        major: *ma,
        minor: *mi,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// Only sysctls that belong to a namespace the container has of its own may be set: the
/// rest would change the host (runc's rule and messages).
fn check_sysctl(key: &str, has_ns: &dyn Fn(CloneFlags) -> bool) -> Result<()> {
    let k = key.replace('/', ".");
    // A key is a path under /proc/sys: plain names only, nothing that walks elsewhere.
    let plain = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-:@+".contains(&b))
    };
    if !k.split('.').all(plain) {
        return Err(Error::msg(format!(
            "linux.sysctl: invalid sysctl key {key:?}"
        )));
    }
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let need = if IPC.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
        CloneFlags::CLONE_NEWIPC
    } else if k.starts_with("net.") {
        CloneFlags::CLONE_NEWNET
    } else if k == "kernel.hostname" || k == "kernel.domainname" {
        CloneFlags::CLONE_NEWUTS
    } else {
        return Err(Error::msg(format!(
            "linux.sysctl: sysctl {key:?} is not in a separate kernel namespace"
        )));
    };
    if !has_ns(need) {
        return Err(Error::msg(format!(
            "linux.sysctl: sysctl {key:?} is not allowed in the host's namespace"
        )));
    }
    Ok(())
}

pub struct PlanInput<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub cgroup: hull_cgroups::CgroupPaths,
    pub no_pivot: bool,
    /// The container's id, for its session keyring; None with `--no-new-keyring`.
    pub keyring_id: Option<&'a str>,
    /// The rootfs's /etc/passwd, for HOME.
    pub passwd: Option<String>,
}

impl Plan {
    pub fn build(input: PlanInput<'_>) -> Result<Plan> {
        let spec = input.spec;
        let linux = spec.linux().clone().unwrap_or_default();
        let mut clone_flags = CloneFlags::empty();
        let mut join = Vec::new();
        let mut pid_ns_path = None;
        let (mut unshare_cgroup, mut unshare_time) = (false, false);
        for ns in linux.namespaces().as_deref().unwrap_or_default() {
            let flag = ns_flag(ns.typ());
            match (ns.path(), ns.typ()) {
                (Some(p), LinuxNamespaceType::Pid) => pid_ns_path = Some(p.clone()),
                (Some(p), _) => join.push(NsJoin {
                    flag,
                    path: p.clone(),
                }),
                (None, LinuxNamespaceType::Cgroup) => unshare_cgroup = true,
                (None, LinuxNamespaceType::Time) => unshare_time = true,
                (None, _) => clone_flags |= flag,
            }
        }
        join.sort_by_key(|j| join_rank(j.flag));
        let new_user = clone_flags.contains(CloneFlags::CLONE_NEWUSER);
        let joins_user = join.iter().any(|j| j.flag == CloneFlags::CLONE_NEWUSER);
        // Joined namespaces must be entered before a new user namespace is made (from
        // inside it the host's are out of reach), and new namespaces must be made after a
        // joined user namespace is entered (to be owned by it): a second clone does it.
        let two_stage = joins_user || (new_user && !join.is_empty());
        let user_ns = new_user || joins_user;

        let mut time_offsets = String::new();
        for (clock, off) in linux.time_offsets().iter().flatten() {
            if clock != "monotonic" && clock != "boottime" {
                return Err(Error::msg(format!(
                    "linux.timeOffsets: unknown clock {clock:?}"
                )));
            }
            time_offsets.push_str(&format!(
                "{clock} {} {}\n",
                off.secs().unwrap_or(0),
                off.nanosecs().unwrap_or(0)
            ));
        }

        let uid_map = new_user.then(|| id_map(linux.uid_mappings().as_deref().unwrap_or_default()));
        let gid_map = new_user.then(|| id_map(linux.gid_mappings().as_deref().unwrap_or_default()));

        // Mounts.
        let mut mounts = Vec::new();
        let mut setup_dev = true;
        let mut dev_readonly = None;
        for (i, m) in spec.mounts().iter().flatten().enumerate() {
            let mut dest = m.destination().to_string_lossy().into_owned();
            // A destination written as a host path inside the rootfs means that path in
            // the container (runc strips the rootfs lexically too).
            if let Ok(rel) = Path::new(&dest).strip_prefix(input.rootfs) {
                dest = rel.to_string_lossy().into_owned();
            }
            if !dest.starts_with('/') {
                dest.insert(0, '/');
            }
            // How messages name the mount: escaped and short, whatever the path holds.
            let at = format!("mounts[{i}] ({})", shown(&dest));
            let opts = options::parse(m.options().as_deref().unwrap_or_default());
            let typ = m.typ().clone().unwrap_or_default();
            let is_bind = opts.flags.contains(MsFlags::MS_BIND) || typ == "bind";
            let kind = if is_bind {
                let src = m
                    .source()
                    .clone()
                    .ok_or_else(|| Error::msg(format!("{at}: a bind mount needs a source")))?;
                let source = if src.is_absolute() {
                    src
                } else {
                    input.bundle.join(src)
                };
                let source_is_dir = match std::fs::metadata(&source) {
                    Ok(meta) => Some(meta.is_dir()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(e).context(|| format!("{at}: source {}", quote(&source))),
                };
                if dest.trim_end_matches('/') == "/dev" {
                    setup_dev = false;
                }
                MountKind::Bind {
                    source,
                    source_is_dir,
                }
            } else if typ == "cgroup" || typ == "cgroup2" {
                MountKind::Cgroup
            } else {
                if typ.is_empty() {
                    return Err(Error::msg(format!(
                        "{at}: type is required for a non-bind mount"
                    )));
                }
                let source = m
                    .source()
                    .as_ref()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| typ.clone());
                MountKind::Fs {
                    fstype: typ,
                    source,
                }
            };
            // As runc: mappings on a mount make it idmapped even without `idmap`; without
            // mappings, `idmap` takes the user namespace's (a joined one by its path).
            let (u, g) = (m.uid_mappings().as_deref(), m.gid_mappings().as_deref());
            let both = || {
                Error::msg(format!(
                    "{at}: id-mapped mounts must have both uid and gid mappings specified"
                ))
            };
            let idmap = if u.is_some() || g.is_some() {
                let (u, g) = (u.unwrap_or_default(), g.unwrap_or_default());
                if u.is_empty() || g.is_empty() {
                    return Err(both());
                }
                Some(IdMapUserns::Maps(id_map(u), id_map(g)))
            } else if opts.idmap.is_none() {
                None
            } else if let Some(j) = join.iter().find(|j| j.flag == CloneFlags::CLONE_NEWUSER) {
                Some(IdMapUserns::Path(j.path.clone()))
            } else if new_user {
                Some(IdMapUserns::Maps(
                    uid_map.clone().unwrap_or_default(),
                    gid_map.clone().unwrap_or_default(),
                ))
            } else {
                return Err(both());
            }
            .map(|userns| IdMap {
                userns,
                recursive: opts.idmap == Some(true),
            });
            if opts.tmpcopyup && !matches!(&kind, MountKind::Fs { fstype, .. } if fstype == "tmpfs")
            {
                return Err(Error::msg(format!(
                    "{at}: tmpcopyup is only for tmpfs mounts"
                )));
            }
            if idmap.is_some() && !matches!(kind, MountKind::Bind { .. }) {
                return Err(Error::msg(format!(
                    "{at}: id-mapped mounts are only supported for bind-mounts"
                )));
            }
            let mut opts = opts;
            if matches!(kind, MountKind::Fs { .. })
                && dev_readonly.is_none()
                && Path::new(&dest) == Path::new("/dev")
                && opts.flags.contains(MsFlags::MS_RDONLY)
            {
                dev_readonly = Some(opts.flags);
                opts.flags.remove(MsFlags::MS_RDONLY);
            }
            mounts.push(MountPlan {
                dest,
                kind,
                opts,
                idmap,
            });
        }

        let mut devices = default_devices();
        for (i, d) in linux.devices().iter().flatten().enumerate() {
            let kind = match d.typ() {
                LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
                LinuxDeviceType::B => libc::S_IFBLK,
                LinuxDeviceType::P => libc::S_IFIFO,
                LinuxDeviceType::A => {
                    return Err(Error::msg(format!(
                        "linux.devices[{i}]: type a is not a device"
                    )))
                }
            };
            let path = d.path().to_string_lossy().into_owned();
            if !path.starts_with("/dev/") {
                return Err(Error::msg(format!(
                    "linux.devices[{i}]: path {path:?} is not under /dev"
                )));
            }
            let dev = DevicePlan {
                path,
                kind,
                major: d.major() as u64,
                minor: d.minor() as u64,
                mode: d.file_mode().unwrap_or(0o666) & 0o7777,
                uid: d.uid().unwrap_or(0),
                gid: d.gid().unwrap_or(0),
            };
            devices.retain(|x| x.path != dev.path);
            devices.push(dev);
        }

        let (root_propagation, root_propagation_set) = match linux.rootfs_propagation().as_deref() {
            None | Some("") => (MsFlags::MS_SLAVE | MsFlags::MS_REC, false),
            Some(p) => {
                let o = options::parse(&[p.to_string()]);
                match o.propagation.first() {
                    Some(f) if o.data.is_empty() => (*f, true),
                    _ => {
                        return Err(Error::msg(format!(
                            "linux.rootfsPropagation {p:?} is not a propagation mode"
                        )))
                    }
                }
            }
        };

        let sysctl: Vec<(String, String)> = linux
            .sysctl()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect();
        let has_ns =
            |flag: CloneFlags| clone_flags.contains(flag) || join.iter().any(|j| j.flag == flag);
        for (key, _) in &sysctl {
            check_sysctl(key, &has_ns)?;
        }

        let mount_label = linux.mount_label().clone().filter(|l| !l.is_empty());
        let rootless_euid = !nix::unistd::geteuid().is_root();
        if rootless_euid && mounts.iter().any(|m| m.idmap.is_some()) {
            return Err(Error::msg(
                "id-mapped mounts are not supported for rootless containers",
            ));
        }
        let mut process_plan = ProcessPlan::build(spec, input.passwd.as_deref())?;
        if let Some(id) = input.keyring_id {
            process_plan.session_keyring = Some(SessionKeyring {
                name: SessionKeyring::name_for(id)?,
                add_perm: Some(if user_ns {
                    KEY_OTH_SEARCH
                } else {
                    KEY_USR_SEARCH
                }),
            });
        }

        let seccomp = SeccompPlan::build(spec)?;
        let map_writer = MapWriter::decide(
            rootless_euid,
            uid_map.as_deref().unwrap_or_default(),
            gid_map.as_deref().unwrap_or_default(),
        );

        Ok(Plan {
            rootfs: input.rootfs.to_path_buf(),
            clone_flags,
            unshare_cgroup,
            unshare_time,
            time_offsets,
            join,
            two_stage,
            pid_ns_path,
            uid_map,
            gid_map,
            hostname: spec.hostname().clone(),
            domainname: spec.domainname().clone(),
            mounts,
            setup_dev,
            dev_readonly,
            devices,
            in_user_ns: user_ns,
            rootless_euid,
            map_writer,
            masked_paths: first_of_each_path(linux.masked_paths().as_deref().unwrap_or_default()),
            readonly_paths: linux.readonly_paths().clone().unwrap_or_default(),
            label_mqueue: mount_label.is_some() && crate::lsm::selinux_enabled(),
            mount_label,
            root_propagation,
            root_propagation_set,
            readonly_root: spec
                .root()
                .as_ref()
                .and_then(|r| r.readonly())
                .unwrap_or(false),
            no_pivot: input.no_pivot,
            sysctl,
            cgroup: input.cgroup,
            process: process_plan,
            seccomp,
        })
    }

    pub fn has_new_mount_ns(&self) -> bool {
        self.clone_flags.contains(CloneFlags::CLONE_NEWNS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: serde_json::Value) -> Spec {
        serde_json::from_value(v).unwrap()
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs", "readonly": true},
            "hostname": "h",
            "process": {"args": ["sh", "-c", "echo hi"], "cwd": "/", "user": {"uid": 1000, "gid": 1000, "additionalGids": [5]},
                        "env": ["PATH=/bin:/usr/bin", "TERM=xterm"],
                        "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"]},
                        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}]},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
                {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind", "ro"]}
            ],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "cgroup"}, {"type": "network", "path": "/proc/1/ns/net"}, {"type": "uts"}, {"type": "ipc"}],
                      "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}],
                      "sysctl": {"net.ipv4.ip_forward": "1", "kernel.msgmax": "8192"},
                      "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]}
        })
    }

    fn build(v: serde_json::Value) -> Result<Plan> {
        let s = spec(v);
        Plan::build(PlanInput {
            spec: &s,
            bundle: Path::new("/bundle"),
            rootfs: Path::new("/bundle/rootfs"),
            cgroup: Default::default(),
            no_pivot: false,
            keyring_id: Some("c1"),
            passwd: Some("u:x:1000:1000::/home/u:/bin/sh\n".into()),
        })
    }

    #[test]
    fn a_destination_inside_the_rootfs_path_is_taken_inside_the_container() {
        let mut v = base();
        v["mounts"] = serde_json::json!([
            {"destination": "/bundle/rootfs/mnt/x", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/bundle/rootfsx", "type": "tmpfs", "source": "tmpfs"}
        ]);
        let p = build(v).unwrap();
        assert_eq!(p.mounts[0].dest, "/mnt/x");
        assert_eq!(
            p.mounts[1].dest, "/bundle/rootfsx",
            "components, not a string prefix"
        );
    }

    #[test]
    fn namespaces_split_into_clone_unshare_and_join() {
        let p = build(base()).unwrap();
        assert_eq!(
            p.clone_flags,
            CloneFlags::CLONE_NEWPID
                | CloneFlags::CLONE_NEWNS
                | CloneFlags::CLONE_NEWUTS
                | CloneFlags::CLONE_NEWIPC
        );
        assert!(p.unshare_cgroup);
        assert_eq!(p.join.len(), 1);
        assert_eq!(p.join[0].flag, CloneFlags::CLONE_NEWNET);
        assert!(!p.in_user_ns);
    }

    #[test]
    fn a_path_repeated_in_another_spelling_is_masked_once() {
        let paths: Vec<String> = ["/proc/kcore", "/proc//kcore/", "/proc/./x/../kcore", "/sys"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(super::first_of_each_path(&paths), ["/proc/kcore", "/sys"]);
    }

    #[test]
    fn env_keeps_the_last_value_of_each_name_and_no_empty_home() {
        let env =
            |v: &[&str]| super::dedup_env(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            env(&["ONE=two", "ONE=", "PATH=/bin"]),
            ["ONE=", "PATH=/bin"]
        );
        assert_eq!(env(&["A=1", "B=2", "A=3"]), ["B=2", "A=3"]);
        assert_eq!(env(&["HOME=/x", "HOME="]), Vec::<String>::new());
        assert_eq!(env(&["HOME=", "HOME=/x"]), ["HOME=/x"]);
    }

    #[test]
    fn process_env_home_caps_rlimits() {
        let p = build(base()).unwrap();
        let env: Vec<_> = p
            .process
            .env
            .iter()
            .map(|e| e.to_str().unwrap().to_string())
            .collect();
        assert_eq!(env, ["PATH=/bin:/usr/bin", "TERM=xterm", "HOME=/home/u"]);
        assert_eq!(p.process.path_dirs, ["/bin", "/usr/bin"]);
        let caps = p.process.caps.unwrap();
        assert!(caps.bounding.contains(&Capability::CAP_CHOWN));
        assert_eq!(caps.effective.len(), 1);
        assert!(caps.ambient.is_empty());
        assert_eq!(p.process.rlimits, [(libc::RLIMIT_NOFILE, 1024, 2048)]);
        assert_eq!(p.process.additional_gids, [5]);
        assert!(p.readonly_root);
    }

    #[test]
    fn mounts_devices_sysctl() {
        let p = build(base()).unwrap();
        assert_eq!(p.mounts.len(), 3);
        assert!(
            matches!(&p.mounts[2].kind, MountKind::Bind { source, source_is_dir: Some(true) } if source == Path::new("/tmp"))
        );
        assert!(p.mounts[2]
            .opts
            .flags
            .contains(MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REC));
        assert!(p.setup_dev);
        assert!(p
            .devices
            .iter()
            .any(|d| d.path == "/dev/fuse" && d.major == 10 && d.minor == 229));
        assert!(p.devices.iter().any(|d| d.path == "/dev/null"));
        // Sorted, so the child's order is stable.
        assert_eq!(p.sysctl[0].0, "kernel.msgmax");
        assert_eq!(p.root_propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
    }

    #[test]
    fn bad_inputs_name_the_field() {
        let mut v = base();
        v["mounts"][2]["source"] = serde_json::json!("/etc/passwd/x");
        assert!(build(v)
            .unwrap_err()
            .to_string()
            .contains("mounts[2] (/data)"));
        // A missing source may be made by an earlier mount: looked up at its turn.
        let mut v = base();
        v["mounts"][2]["source"] = serde_json::json!("/no/such/dir");
        assert!(matches!(
            build(v).unwrap().mounts[2].kind,
            MountKind::Bind {
                source_is_dir: None,
                ..
            }
        ));
        let mut v = base();
        v["process"]["rlimits"][0]["soft"] = serde_json::json!(4096);
        assert!(build(v)
            .unwrap_err()
            .to_string()
            .contains("process.rlimits[0]"));
        let mut v = base();
        v["linux"]["rootfsPropagation"] = serde_json::json!("sideways");
        assert!(build(v)
            .unwrap_err()
            .to_string()
            .contains("rootfsPropagation"));
        let mut v = base();
        v["linux"]["devices"][0]["path"] = serde_json::json!("/etc/passwd");
        assert!(build(v)
            .unwrap_err()
            .to_string()
            .contains("linux.devices[0]"));
        let mut v = base();
        v["mounts"][0]["options"] = serde_json::json!(["tmpcopyup"]);
        assert!(build(v)
            .unwrap_err()
            .to_string()
            .contains("mounts[0] (/proc): tmpcopyup is only for tmpfs"));
        let mut v = base();
        v["linux"]["sysctl"] = serde_json::json!({"kernel.core_pattern": "|/x"});
        assert!(build(v)
            .unwrap_err()
            .to_string()
            .contains("not in a separate kernel namespace"));
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
        assert!(build(v)
            .unwrap_err()
            .to_string()
            .contains("is not allowed in the host's namespace"));
    }

    #[test]
    fn messages_quote_paths_on_one_line() {
        // A newline in a destination made a two-line error.
        let mut v = base();
        v["mounts"][2]["destination"] = serde_json::json!("/da\nta");
        v["mounts"][2]["source"] = serde_json::json!("/etc/passwd/su\nch");
        let e = build(v).unwrap_err().to_string();
        assert_eq!(
            e,
            "mounts[2] (/da\\nta): source \"/etc/passwd/su\\nch\": not a directory"
        );
        let mut v = base();
        v["process"]["args"] = serde_json::json!([]);
        assert!(build(v).unwrap_err().to_string().contains("process.args"));
    }

    #[test]
    fn user_namespace_maps() {
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "user"}, {"type": "mount"}]);
        v["linux"]["sysctl"] = serde_json::json!({});
        v["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        let p = build(v).unwrap();
        assert_eq!(p.uid_map.as_deref(), Some("0 100000 65536\n"));
        assert!(p.in_user_ns);
    }
}

//! cgroup management for hull: one interface over cgroup v1 (and hybrid hosts) and v2.
//!
//! The runtime records a [`CgroupPaths`] in the container's state *before* any directory is
//! made, so that `delete` can undo a `create` that was killed half-way; every operation
//! here is idempotent for that reason.
//!
//! Where the parts come from:
//! - `resources`: `linux.resources` to cgroup files, following runc's translation (which
//!   file, which order, the v1 -> v2 conversions, what each hierarchy ignores), learnt
//!   from its source and the runtime spec; every value is checked before the first write.
//! - `devices`: the device list's meaning (runc's v1 emulator semantics), the v1 rule
//!   writes and the v2 eBPF program; `bpf`: the bpf(2) calls that load and attach it.
//! - `layout`, `stats`: /proc/self/mountinfo and cgroupfs as the kernel documents them.
//! - `systemd`: the `--systemd-cgroup` driver (a transient unit per container) as runc
//!   behaves, over `dbus`, a small synchronous D-Bus client written from the D-Bus
//!   specification (zbus, the usual crate, runs an executor thread, and hull must stay
//!   single-threaded around clone). `gvariant`: GLib's GVariant text, for runc's
//!   `org.systemd.property.*` annotations (runc parses them with godbus).
//!
//! Written directly against cgroupfs rather than through `cgroups-rs`: hull needs exact
//! control over which directories it creates (to remove exactly those), the order of writes
//! (memory before swap, CFS period/quota retries), hybrid hosts (v1 controllers plus a
//! cgroup2 mount) and v2's `subtree_control` delegation. cgroups-rs (0.5) writes v1 device
//! rules only, with no eBPF device program for v2, has no `unified` or checkBeforeUpdate
//! handling, and always links zbus for its systemd manager, which the static binary
//! does not want.

mod bpf;
pub mod dbus;
mod devices;
mod gvariant;
mod layout;
mod resources;
pub mod stats;
pub mod systemd;

use std::io::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub use layout::{unescape_mountinfo, Layout};
pub use resources::{
    apply, blkio_to_io_weight, prepare, shares_to_weight, validate, Prepared, Write,
};
pub use systemd::{plan_systemd, start_unit};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cgroup: {0}")]
    Invalid(String),
    /// systemd answered a call with an error (`name` is the D-Bus error name).
    #[error("{op}: {message}")]
    Systemd {
        op: String,
        name: String,
        message: String,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Where a container's cgroup lives in every hierarchy, and which directories hull made
/// for it (so `remove` deletes those and no pre-existing parent).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupPaths {
    /// v1: controller hierarchy name (`memory`, `cpu`, `name=systemd`...) -> directory.
    #[serde(default)]
    pub v1: Vec<(String, PathBuf)>,
    /// The cgroup2 directory (the only one on v2 hosts; also joined on hybrid hosts).
    #[serde(default)]
    pub unified: Option<PathBuf>,
    /// True when the unified hierarchy is the one with the controllers (pure v2).
    #[serde(default)]
    pub v2: bool,
    /// Directories that did not exist when the path was planned, deepest last.
    #[serde(default)]
    pub owned: Vec<PathBuf>,
    /// With `--systemd-cgroup`: the unit whose cgroup this is (systemd makes and removes
    /// it; hull starts and stops the unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<systemd::Unit>,
    /// Hierarchies a rootless container goes without ([`leave_out_unwritable`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
}

impl CgroupPaths {
    /// Every leaf directory, v1 first.
    pub fn leaves(&self) -> impl Iterator<Item = &Path> {
        self.v1
            .iter()
            .map(|(_, p)| p.as_path())
            .chain(self.unified.as_deref())
    }

    pub fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.v1
            .iter()
            .find(|(name, _)| name.split(',').any(|c| c == controller))
            .map(|(_, p)| p.as_path())
    }

    /// The directory that holds the resource files of `controller`.
    pub fn controller_dir(&self, controller: &str) -> Option<&Path> {
        if self.v2 {
            self.unified.as_deref()
        } else {
            self.v1_dir(controller)
        }
    }

    /// True when the cgroup can only exist once the init does: systemd makes a scope's
    /// cgroup when it starts the unit with the init in it ([`start_unit`]), so the init
    /// cannot be cloned into it, and nothing is created or applied before.
    pub fn made_with_init(&self) -> bool {
        self.systemd.is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.v1.is_empty() && self.unified.is_none()
    }

    /// The cgroup an `exec` process joins when no sub-cgroup is asked for: the container's,
    /// or on cgroup v2 the init's own when the container's can hold no process (a domain
    /// controller enabled below it: the "no internal processes" rule) or is gone (an init
    /// with a writable cgroupfs may move itself), as runc falls back.
    pub fn for_exec(&self, init_pid: i32) -> CgroupPaths {
        let usable = |dir: &Path| {
            std::fs::read_to_string(dir.join("cgroup.subtree_control"))
                .is_ok_and(|c| c.trim().is_empty())
        };
        let init_dir = || -> Option<PathBuf> {
            let own = std::fs::read_to_string(format!("/proc/{init_pid}/cgroup")).ok()?;
            let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?;
            let mount = layout::Layout::detect().ok()?.unified?;
            Some(layout::join_inside(&mount, "/", rel))
        };
        let mut out = self.clone();
        out.owned.clear();
        if let Some(dir) = self.unified.as_deref().filter(|d| self.v2 && !usable(d)) {
            out.unified = Some(init_dir().unwrap_or_else(|| dir.to_path_buf()));
        }
        out
    }

    /// Existing sub-cgroups for an `exec --cgroup` process: each `spec` is `PATH` (every
    /// hierarchy) or `CTRL[,CTRL]:PATH` (v1 hierarchies with those controllers), PATH
    /// relative to the container's cgroup, as runc takes them.
    pub fn sub(&self, specs: &[String]) -> Result<CgroupPaths> {
        let mut out = CgroupPaths {
            v2: self.v2,
            ..self.clone()
        };
        out.owned.clear();
        for spec in specs {
            let (ctrls, path) = match spec.split_once(':') {
                Some((c, p)) => (Some(c), p),
                None => (None, spec.as_str()),
            };
            // "/" is the container's cgroup itself, asked for explicitly.
            let rel = path.trim_start_matches('/');
            if rel.split('/').any(|c| c == "..") {
                return Err(Error::Invalid(format!("bad sub cgroup path: {path}")));
            }
            let mut matched = false;
            match ctrls {
                None => {
                    for (_, dir) in &mut out.v1 {
                        *dir = dir.join(rel);
                    }
                    if let Some(d) = &mut out.unified {
                        *d = d.join(rel);
                    }
                    matched = true;
                }
                Some(ctrls) => {
                    for c in ctrls.split(',') {
                        if let Some(i) = self
                            .v1
                            .iter()
                            .position(|(name, _)| name.split(',').any(|n| n == c))
                        {
                            out.v1[i].1 = self.v1[i].1.join(rel);
                            matched = true;
                        } else if self.v2 && c.is_empty() {
                            matched = true;
                        }
                    }
                    if self.v2 {
                        if let Some(d) = &self.unified {
                            out.unified = Some(d.join(rel));
                            matched = true;
                        }
                    }
                }
            }
            if !matched {
                return Err(Error::Invalid(format!(
                    "--cgroup {spec:?}: no such controller in the container's cgroups"
                )));
            }
        }
        for dir in out.leaves() {
            if !dir.is_dir() {
                return Err(Error::Invalid(format!(
                    "can't open cgroup {}: no such file or directory",
                    dir.display()
                )));
            }
        }
        Ok(out)
    }
}

/// Plans the paths for `cgroups_path` (absolute, or relative to the caller's own cgroup as
/// runc does) without touching anything.
pub fn plan(layout: &Layout, cgroups_path: &str) -> Result<CgroupPaths> {
    if cgroups_path.split('/').any(|c| c == "..") {
        return Err(Error::Invalid(format!(
            "cgroupsPath {cgroups_path:?} must not contain .."
        )));
    }
    let mut paths = CgroupPaths {
        v2: layout.is_v2(),
        ..Default::default()
    };
    let mut candidates = Vec::new();
    for h in &layout.v1 {
        let dir = h.dir_for(cgroups_path, layout.own_cgroup(&h.name));
        candidates.push((h.mount.clone(), dir.clone()));
        paths.v1.push((h.name.clone(), dir));
    }
    if let Some(mount) = &layout.unified {
        let dir = layout::join_inside(mount, layout.own_cgroup(""), cgroups_path);
        candidates.push((mount.clone(), dir.clone()));
        paths.unified = Some(dir);
    }
    for (mount, leaf) in candidates {
        let mut missing = Vec::new();
        let mut d = leaf.as_path();
        while d != mount && !d.exists() {
            missing.push(d.to_path_buf());
            match d.parent() {
                Some(p) => d = p,
                None => break,
            }
        }
        paths.owned.extend(missing.into_iter().rev());
    }
    Ok(paths)
}

/// Leaves out of `paths` every hierarchy where the caller may not make the container's
/// directory (its nearest existing ancestor is not writable for our effective ids): what
/// a rootless container does without, as runc's rootless cgroupfs manager does. The
/// hierarchies left out are named in `paths.left_out` (`unified` for cgroup2).
pub fn leave_out_unwritable(paths: &mut CgroupPaths) {
    if paths.systemd.is_some() {
        return;
    }
    let writable = |leaf: &Path| {
        let mut d = leaf;
        while !d.exists() {
            match d.parent() {
                Some(p) => d = p,
                None => return false,
            }
        }
        let Ok(c) = std::ffi::CString::new(d.as_os_str().as_encoded_bytes()) else {
            return false;
        };
        // SAFETY: a valid C string.
        unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
    };
    let mut dropped = Vec::new();
    let left_out = &mut paths.left_out;
    paths.v1.retain(|(name, dir)| {
        let keep = writable(dir);
        if !keep {
            left_out.push(name.clone());
            dropped.push(dir.clone());
        }
        keep
    });
    if let Some(dir) = paths.unified.take() {
        if writable(&dir) {
            paths.unified = Some(dir);
        } else {
            paths.left_out.push("unified".into());
            dropped.push(dir);
        }
    }
    paths
        .owned
        .retain(|o| !dropped.iter().any(|leaf| leaf.starts_with(o)));
}

/// Creates every directory of `paths` (missing parents too); on v2 enables the
/// controllers down the tree. Existing directories are fine.
pub fn create(paths: &CgroupPaths) -> Result<()> {
    for (name, dir) in &paths.v1 {
        std::fs::create_dir_all(dir).map_err(io_err("create cgroup", dir))?;
        if name.split(',').any(|c| c == "cpuset") {
            resources::v1_inherit_cpuset(dir)?;
        }
    }
    if let Some(dir) = &paths.unified {
        std::fs::create_dir_all(dir).map_err(io_err("create cgroup", dir))?;
        if paths.v2 {
            resources::v2_enable_controllers(dir)?;
        }
    }
    Ok(())
}

fn open_for_write(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err("open", path))
}

/// One write of `value` to the cgroup file `f` (opened from `path`); cgroupfs takes each
/// write as one value or rule, and the error names both.
fn write_value(f: &mut std::fs::File, path: &Path, value: &str) -> Result<()> {
    f.write_all(value.as_bytes()).map_err(|source| Error::Io {
        op: "write",
        path: path.to_path_buf(),
        source: std::io::Error::new(source.kind(), format!("{value:?}: {source}")),
    })
}

fn write_file(path: &Path, value: &str) -> Result<()> {
    write_value(&mut open_for_write(path)?, path, value)
}

/// A new process's way into the container's cgroup without the cost of moving it: every
/// move of a process by pid takes the kernel's global threadgroup lock for writing, which
/// waits for an RCU grace period (about 5 ms here, most of a container's start). Instead
/// the v2 directory is given to clone3 (CLONE_INTO_CGROUP, only a read lock), and in each
/// v1 hierarchy the process moves its own single thread by writing "0" to `tasks`, which
/// the kernel lets skip the global lock. Opened by the runtime, used by the child.
pub struct Entry {
    /// The cgroup2 directory, for CLONE_INTO_CGROUP.
    pub v2_dir: Option<OwnedFd>,
    /// The `tasks` file of each v1 hierarchy.
    pub v1_tasks: Vec<OwnedFd>,
}

impl Entry {
    pub fn open(paths: &CgroupPaths) -> Result<Entry> {
        let v2_dir = match &paths.unified {
            Some(d) => Some(std::fs::File::open(d).map_err(io_err("open", d))?.into()),
            None => None,
        };
        Ok(Entry {
            v2_dir,
            v1_tasks: paths
                .v1
                .iter()
                .map(|(_, d)| open_for_write(&d.join("tasks")).map(OwnedFd::from))
                .collect::<Result<_>>()?,
        })
    }

    /// In the new (single-threaded) process: joins every v1 hierarchy.
    pub fn join_v1_self(&self) -> std::result::Result<(), i32> {
        for fd in &self.v1_tasks {
            // SAFETY: a write of a static buffer to our fd.
            let r = unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) };
            if r < 0 {
                return Err(std::io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::EIO));
            }
        }
        Ok(())
    }
}

/// Moves `pid` into the container's cgroup in every hierarchy (a process of the runtime's
/// that is not cloned into it, such as CRIU restoring the container's processes).
pub fn add_pid(paths: &CgroupPaths, pid: i32) -> Result<()> {
    for dir in paths.leaves() {
        write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
    }
    Ok(())
}

/// Moves `pid` into the container's cgroup2 directory only (the v1 ones it joined itself).
pub fn add_pid_v2(paths: &CgroupPaths, pid: i32) -> Result<()> {
    match &paths.unified {
        Some(dir) => write_file(&dir.join("cgroup.procs"), &pid.to_string()),
        None => Ok(()),
    }
}

/// The pids in the container's cgroup and its sub-cgroups (the pids controller's view,
/// else any hierarchy).
pub fn pids(paths: &CgroupPaths) -> Result<Vec<i32>> {
    let dir = paths
        .controller_dir("pids")
        .or_else(|| paths.leaves().next())
        .ok_or_else(|| Error::Invalid("container has no cgroup".into()))?;
    let mut out = Vec::new();
    collect_pids(dir, &mut out)?;
    Ok(out)
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let file = dir.join("cgroup.procs");
    match std::fs::read_to_string(&file) {
        Ok(t) => out.extend(t.lines().filter_map(|l| l.trim().parse::<i32>().ok())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("read", &file)(e)),
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect_pids(&e.path(), out)?;
        }
    }
    Ok(())
}

/// Freezes (or thaws) the container's cgroup and waits until the kernel says it is done.
pub fn freeze(paths: &CgroupPaths, frozen: bool) -> Result<()> {
    let (file, value, done_file, done): (PathBuf, &str, PathBuf, &str) = if paths.v2 {
        let dir = paths
            .unified
            .as_deref()
            .ok_or_else(|| Error::Invalid("container has no cgroup2 directory".into()))?;
        let (v, d) = if frozen {
            ("1", "frozen 1")
        } else {
            ("0", "frozen 0")
        };
        (dir.join("cgroup.freeze"), v, dir.join("cgroup.events"), d)
    } else {
        let dir = paths
            .v1_dir("freezer")
            .ok_or_else(|| Error::Invalid("the freezer cgroup controller is not mounted".into()))?;
        let v = if frozen { "FROZEN" } else { "THAWED" };
        (dir.join("freezer.state"), v, dir.join("freezer.state"), v)
    };
    for attempt in 0..1000 {
        // v1 may stay FREEZING while a task is busy in the kernel: write again.
        if attempt % 50 == 0 {
            write_file(&file, value)?;
        }
        let now = std::fs::read_to_string(&done_file).map_err(io_err("read", &done_file))?;
        if now.lines().any(|l| l.trim() == done) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err(Error::Invalid(format!(
        "{}: cgroup did not reach {value}",
        file.display()
    )))
}

/// True if the container's cgroup is frozen (v1 freezer.state or v2 cgroup.freeze).
pub fn is_frozen(paths: &CgroupPaths) -> bool {
    if paths.v2 {
        let Some(dir) = &paths.unified else {
            return false;
        };
        return std::fs::read_to_string(dir.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1");
    }
    paths
        .v1_dir("freezer")
        .and_then(|d| std::fs::read_to_string(d.join("freezer.state")).ok())
        .is_some_and(|s| s.trim() == "FROZEN")
}

fn rmdir_retrying(dir: &Path) -> Result<()> {
    // A cgroup whose last task just exited can be busy for a moment.
    for attempt in 0..50 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 49 => {
                std::thread::sleep(std::time::Duration::from_millis(2 + attempt));
            }
            Err(e) => return Err(io_err("remove cgroup", dir)(e)),
        }
    }
    Ok(())
}

/// A container's cgroup with the sub-cgroups made inside it (a writable cgroup mount lets
/// the container make them), deepest first. Their processes must be gone already.
fn remove_tree(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("read cgroup", dir)(e)),
        Ok(entries) => {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    remove_tree(&e.path())?;
                }
            }
        }
    }
    rmdir_retrying(dir)
}

/// `update`: applies `r`; for a systemd unit, sets the unit's properties first.
pub fn update(paths: &CgroupPaths, r: &LinuxResources) -> Result<()> {
    match &paths.systemd {
        Some(unit) => systemd::set_properties(paths, unit, r),
        None => apply(paths, r),
    }
}

/// Stops the systemd unit if there is one, then removes the leaves and every directory
/// hull made for them, deepest first. Parents that other containers still use are left
/// (ENOTEMPTY/EBUSY). Idempotent.
pub fn remove(paths: &CgroupPaths) -> Result<()> {
    // Whatever systemd says, the directories it may have left are removed (as runc).
    let mut first_err = paths
        .systemd
        .as_ref()
        .and_then(|unit| systemd::stop_unit(unit).err());
    for dir in paths.leaves() {
        if let Err(e) = remove_tree(dir) {
            first_err.get_or_insert(e);
        }
    }
    // The leaves are gone already: only their parents remain to try.
    let mut owned: Vec<&PathBuf> = paths
        .owned
        .iter()
        .filter(|d| !paths.leaves().any(|l| l == d.as_path()))
        .collect();
    owned.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for dir in owned {
        match std::fs::remove_dir(dir) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::ENOTEMPTY | libc::EBUSY)
                ) => {}
            Err(e) => {
                first_err.get_or_insert(io_err("remove cgroup", dir)(e));
            }
        }
    }
    first_err.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_records_missing_parents_only() {
        let tmp = tempfile::tempdir().unwrap();
        let mem = tmp.path().join("memory");
        std::fs::create_dir_all(mem.join("existing")).unwrap();
        let layout = Layout::fake_v1(&[("memory", &mem)]);
        let p = plan(&layout, "/existing/hull/c1").unwrap();
        assert_eq!(
            p.v1,
            vec![("memory".to_string(), mem.join("existing/hull/c1"))]
        );
        assert_eq!(
            p.owned,
            vec![mem.join("existing/hull"), mem.join("existing/hull/c1")]
        );
        create(&p).unwrap();
        assert!(mem.join("existing/hull/c1").is_dir());
        remove(&p).unwrap();
        assert!(!mem.join("existing/hull").exists());
        assert!(
            mem.join("existing").is_dir(),
            "a parent hull did not make stays"
        );
        remove(&p).unwrap();
    }

    #[test]
    fn plan_rejects_dotdot() {
        let layout = Layout::fake_v1(&[]);
        assert!(plan(&layout, "/a/../../etc").is_err());
    }

    #[test]
    fn exec_sub_cgroups() {
        let tmp = tempfile::tempdir().unwrap();
        let (mem, cpu) = (tmp.path().join("memory"), tmp.path().join("cpu,cpuacct"));
        for d in [mem.join("c/sub"), cpu.join("c/other")] {
            std::fs::create_dir_all(d).unwrap();
        }
        let layout = Layout::fake_v1(&[("memory", &mem), ("cpu,cpuacct", &cpu)]);
        let p = plan(&layout, "/c").unwrap();
        let s = p.sub(&["memory:sub".into(), "cpu:/other".into()]).unwrap();
        assert_eq!(s.v1_dir("memory"), Some(mem.join("c/sub").as_path()));
        assert_eq!(s.v1_dir("cpuacct"), Some(cpu.join("c/other").as_path()));
        assert!(s.owned.is_empty(), "exec never removes cgroups");
        assert!(p.sub(&["sub".into()]).is_err(), "cpu has no c/sub");
        assert!(p.sub(&["memory:../x".into()]).is_err());
        assert!(p.sub(&["blkio:sub".into()]).is_err());
    }

    /// The host's layout when real cgroups may be made here (root), else why not.
    fn real_host() -> std::result::Result<Layout, String> {
        // SAFETY: a plain getter.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root".into());
        }
        Layout::detect().map_err(|e| format!("no cgroup layout: {e}"))
    }

    /// A test cgroup at the top of every hierarchy, removed when dropped.
    struct TestCgroup(CgroupPaths);

    impl TestCgroup {
        fn new(layout: &Layout, name: &str) -> TestCgroup {
            let paths = plan(layout, &format!("/hull-test-{name}-{}", std::process::id())).unwrap();
            create(&paths).unwrap();
            TestCgroup(paths)
        }
    }

    impl Drop for TestCgroup {
        fn drop(&mut self) {
            remove(&self.0).unwrap();
        }
    }

    #[test]
    fn real_v1_resources() {
        let layout = match real_host() {
            Ok(l) if !l.is_v2() && !l.v1.is_empty() => l,
            Ok(_) => return eprintln!("skipped: not a v1 or hybrid host"),
            Err(why) => return eprintln!("skipped: {why}"),
        };
        let cg = TestCgroup::new(&layout, "v1");
        let p = &cg.0;
        let disk = std::fs::read_to_string("/sys/block/vda/dev")
            .or_else(|_| std::fs::read_to_string("/sys/block/sda/dev"))
            .ok();
        let mut json = serde_json::json!({
            "memory": {"limit": 104857600, "swap": 209715200, "reservation": 52428800, "swappiness": 20},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 10000},
            "pids": {"limit": 42},
            "devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
                {"allow": true, "type": "c", "major": 136, "access": "rwm"}
            ]
        });
        if let Some(d) = &disk {
            let (major, minor) = d.trim().split_once(':').unwrap();
            json["blockIO"] = serde_json::json!({"throttleReadBpsDevice": [
                {"major": major.parse::<i64>().unwrap(), "minor": minor.parse::<i64>().unwrap(), "rate": 1048576}
            ]});
        }
        let mut r: oci_spec::runtime::LinuxResources = serde_json::from_value(json).unwrap();
        if p.v1_dir("memory")
            .is_some_and(|d| !d.join("memory.memsw.limit_in_bytes").exists())
        {
            if let Some(mut m) = *r.memory() {
                m.set_swap(None);
                r.set_memory(Some(m));
            }
        }
        let mounted: Vec<&str> = ["memory", "cpu", "pids", "devices", "blkio"]
            .into_iter()
            .filter(|c| p.v1_dir(c).is_some())
            .collect();
        if mounted.len() < 5 {
            return eprintln!("skipped: not every v1 controller is mounted ({mounted:?})");
        }
        apply(p, &r).unwrap();
        let read = |c: &str, f: &str| {
            std::fs::read_to_string(p.v1_dir(c).unwrap().join(f))
                .unwrap()
                .trim()
                .to_string()
        };
        assert_eq!(read("memory", "memory.limit_in_bytes"), "104857600");
        assert_eq!(read("memory", "memory.swappiness"), "20");
        assert_eq!(read("cpu", "cpu.shares"), "512");
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(read("pids", "pids.max"), "42");
        assert_eq!(read("devices", "devices.list"), "c 1:3 rw\nc 136:* rwm");
        if let Some(d) = &disk {
            assert_eq!(
                read("blkio", "blkio.throttle.read_bps_device"),
                format!("{} 1048576", d.trim())
            );
        }
        // An update that lowers memory below the old swap and drops a device.
        let r: oci_spec::runtime::LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":52428800},"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"r"}]}"#,
        )
        .unwrap();
        apply(p, &r).unwrap();
        assert_eq!(read("memory", "memory.limit_in_bytes"), "52428800");
        assert_eq!(read("devices", "devices.list"), "c 1:3 r");
    }

    #[test]
    fn real_v2_device_program() {
        let layout = match real_host() {
            Ok(l) if l.unified.is_some() => l,
            Ok(_) => return eprintln!("skipped: no cgroup2 mount"),
            Err(why) => return eprintln!("skipped: {why}"),
        };
        // Only the directory: no controller is enabled anywhere for this test.
        let dir = layout
            .unified
            .unwrap()
            .join(format!("hull-test-bpf-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let cg = TestCgroup(CgroupPaths {
            unified: Some(dir.clone()),
            v2: true,
            owned: vec![dir.clone()],
            ..Default::default()
        });
        let devices = |json: &str| -> oci_spec::runtime::LinuxResources {
            serde_json::from_str(&format!(r#"{{"devices":{json}}}"#)).unwrap()
        };
        // /dev/null (1:3) readable and writable, /dev/zero (1:5) not.
        let list = r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]"#;
        match apply(&cg.0, &devices(list)) {
            Err(Error::Io { op, source, .. }) if op.starts_with("bpf") => {
                return eprintln!("skipped: bpf not usable here: {op}: {source}");
            }
            r => r.unwrap(),
        }
        let first = bpf::query(&dir).unwrap();
        assert_eq!(first.len(), 1, "one program attached");

        // A process in the cgroup gets /dev/null and not /dev/zero.
        let run = |script: &str| {
            use std::os::unix::process::CommandExt;
            let procs = open_for_write(&dir.join("cgroup.procs")).unwrap();
            let fd = procs.as_raw_fd();
            let mut cmd = std::process::Command::new("/bin/sh");
            cmd.args(["-c", &format!("exec 2>&-; {script}")]);
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            cmd.status().unwrap().success()
        };
        assert!(run("echo x > /dev/null && head -c1 /dev/null"));
        assert!(!run("head -c1 /dev/zero"), "/dev/zero is not allowed");

        // An update replaces the program.
        let list = r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":5,"access":"r"}]"#;
        apply(&cg.0, &devices(list)).unwrap();
        let second = bpf::query(&dir).unwrap();
        assert_eq!(second.len(), 1);
        assert_ne!(first, second);
        assert!(run(r#"[ "$(head -c1 /dev/zero | wc -c)" = 1 ]"#));
        assert!(
            !run("echo x > /dev/null"),
            "/dev/null is not allowed any more"
        );

        // Allowing everything leaves no program.
        apply(&cg.0, &devices(r#"[{"allow":true,"access":"rwm"}]"#)).unwrap();
        assert!(bpf::query(&dir).unwrap().is_empty());
    }
}

//! The container's filesystem, made by the child in its new mount namespace: propagation,
//! the rootfs bind, every mount of config.json, /dev, masks and read-only paths, then
//! pivot_root. Every target is resolved inside the rootfs (see `resolve`) and mounted
//! through the resolved fd.

mod copyup;
mod mountinfo;
pub mod options;
pub mod resolve;

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::sys::statvfs::{fstatvfs, FsFlags};

use crate::launch::child::{Step, StepResult};
use crate::launch::plan::{MountKind, MountPlan, Plan};
use resolve::{ensure_in_root, fd_path, open_in_root, Create};

const NONE: Option<&str> = None;

fn split_parent(path: &str) -> (&str, &str) {
    let p = path.trim_end_matches('/');
    match p.rfind('/') {
        Some(i) => (&p[..i], &p[i + 1..]),
        None => ("", p),
    }
}

/// The atime flags (one of the first three, plus nodiratime).
const ATIME_FLAGS: MsFlags = MsFlags::MS_NOATIME
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME)
    .union(MsFlags::MS_NODIRATIME);
/// Flags a user namespace locks on the mounts it inherits (the kernel's MNT_LOCK_*).
const LOCKABLE_FLAGS: MsFlags = MsFlags::MS_RDONLY
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC)
    .union(MsFlags::MS_NOSUID)
    .union(ATIME_FLAGS);

/// The mount's flags as MS_* (statfs knows no strictatime: it is the absence of the others).
fn mount_flags(fd: RawFd) -> MsFlags {
    let Ok(st) = fstatvfs(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut m = MsFlags::empty();
    for (s, ms) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(s) {
            m |= ms;
        }
    }
    if !m.intersects(MsFlags::MS_NOATIME | MsFlags::MS_RELATIME) {
        m |= MsFlags::MS_STRICTATIME;
    }
    m
}

/// `MS_RDONLY|MS_NOEXEC`, as runc names flags in its errors.
fn flag_names(flags: MsFlags) -> String {
    let names: Vec<&str> = flags.iter_names().map(|(name, _)| name).collect();
    names.join("|")
}

/// Remounts the bind mount at `target` with exactly `flags`, the others cleared, as
/// users of `mount --bind -o` expect. Where a user namespace locked flags of the source,
/// retries with those kept, unless the request clears one explicitly (`cleared`) or asks
/// for other atime flags: that mount would silently differ from the request (runc's rule).
fn remount_bind(
    target: &OwnedFd,
    flags: MsFlags,
    cleared: MsFlags,
    what: impl FnOnce() -> String,
) -> StepResult<()> {
    let path = fd_path(target);
    let flags = flags | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    let Err(errno) = mount(NONE, path.as_c_str(), NONE, flags, NONE) else {
        return Ok(());
    };
    let locked = mount_flags(target.as_raw_fd()) & LOCKABLE_FLAGS;
    let refusal = if locked.intersects(cleared) {
        Some(format!(
            "cannot clear locked flags {}",
            flag_names(locked & cleared)
        ))
    } else if flags.intersects(ATIME_FLAGS) && flags & ATIME_FLAGS != locked & ATIME_FLAGS {
        Some(format!(
            "cannot change locked atime flags {}",
            flag_names(locked & ATIME_FLAGS)
        ))
    } else {
        None
    };
    if let Some(why) = refusal {
        return Err(errno).step(|| format!("{}: {why}", what()));
    }
    mount(NONE, path.as_c_str(), NONE, flags | locked, NONE).step(what)
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

pub(crate) fn mount_setattr(
    fd: RawFd,
    set: u64,
    clr: u64,
    userns: Option<RawFd>,
    recursive: bool,
) -> Result<(), Errno> {
    let a = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: userns.map_or(0, |f| f as u64),
    };
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: valid fd, empty path and an attr struct of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            flags,
            &a as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(r).map(|_| ())
}

/// Makes the rootfs a mount of its own and returns an fd on it.
pub fn prepare_root(plan: &Plan) -> StepResult<OwnedFd> {
    // An unbindable / could not be bound onto itself: that mode is applied after pivot.
    let initial = if plan.root_propagation.contains(MsFlags::MS_UNBINDABLE) {
        MsFlags::MS_SLAVE | MsFlags::MS_REC
    } else {
        plan.root_propagation
    };
    mount(NONE, "/", NONE, initial, NONE).step(|| "set propagation of /".into())?;
    // pivot_root refuses a new root whose parent mount is shared; only an rshared
    // propagation leaves any mount shared (rslave, the default, turns them all slave).
    if initial.contains(MsFlags::MS_SHARED) {
        make_parent_mount_private(&plan.rootfs)
            .step(|| "make the rootfs parent mount private".into())?;
    }
    mount(
        Some(&plan.rootfs),
        &plan.rootfs,
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .step(|| format!("bind mount rootfs {}", plan.rootfs.display()))?;
    let fd = nix::fcntl::open(
        &plan.rootfs,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| format!("open rootfs {}", plan.rootfs.display()))?;
    // SAFETY: open returned a new fd.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

fn make_parent_mount_private(rootfs: &std::path::Path) -> Result<(), Errno> {
    let mounts = mountinfo::read()?;
    let parent = mounts
        .iter()
        .filter(|m| rootfs.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.len());
    match parent {
        Some(m) if m.shared => mount(
            NONE,
            m.mount_point.as_str(),
            NONE,
            MsFlags::MS_PRIVATE,
            NONE,
        ),
        _ => Ok(()),
    }
}

/// With `--no-pivot` the old root stays reachable in the container's mount namespace, and
/// a whole procfs or sysfs there lets the container mount a fresh, unmasked one (the
/// kernel only checks that a full one is visible). So, as runc, every whole proc and
/// sysfs outside the rootfs is detached first, or covered where that is not allowed.
fn drop_host_proc_and_sys(rootfs: &std::path::Path) -> Result<(), Errno> {
    for m in mountinfo::read()? {
        if m.root != "/"
            || !matches!(m.fstype.as_str(), "proc" | "sysfs")
            || std::path::Path::new(&m.mount_point).starts_with(rootfs)
        {
            continue;
        }
        let at = m.mount_point.as_str();
        // Keep the unmount from propagating to the host.
        match mount(NONE, at, NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE) {
            // A parent already went: nothing left to hide.
            Err(Errno::ENOENT) => continue,
            r => r?,
        }
        match umount2(at, MntFlags::MNT_DETACH) {
            Err(Errno::EINVAL | Errno::EPERM) => {
                mount(Some("tmpfs"), at, Some("tmpfs"), MsFlags::empty(), NONE)?
            }
            r => r?,
        }
    }
    Ok(())
}

/// Every mount of config.json, in order. `wait_for_parent` runs before the first mount
/// that needs the parent past its `Proceed`: a cgroup mount (the child must be in its
/// cgroup and cgroup namespace by then) or a source the runtime opens (`ask_source`).
pub fn mount_all(
    plan: &Plan,
    root: RawFd,
    wait_for_parent: &mut dyn FnMut() -> StepResult<()>,
    ask_source: &mut dyn FnMut(usize) -> StepResult<OwnedFd>,
) -> StepResult<()> {
    for (i, m) in plan.mounts.iter().enumerate() {
        if matches!(m.kind, MountKind::Cgroup) {
            wait_for_parent()?;
        }
        // In a user namespace the child may not reach a bind's source by path, and an
        // idmapped source must be shifted by the runtime: it opens them inside our mount
        // namespace when their turn comes (so that earlier mounts count, as runc) and
        // passes the fd. Rootless, the child's root is the caller: it opens its own.
        let by_runtime = plan.in_user_ns && !plan.rootless_euid;
        let opened = match &m.kind {
            MountKind::Bind { .. } if m.idmap.is_some() || by_runtime => {
                wait_for_parent()?;
                Some(ask_source(i)?)
            }
            _ => None,
        };
        mount_one(plan, root, m, opened.as_ref())?;
    }
    Ok(())
}

/// A detached copy of bind mount `m`'s source with its id mapping set. Made by the
/// runtime (in the child's mount namespace, when the child's turn comes): shifting a
/// mount needs CAP_SYS_ADMIN over its filesystem's user namespace (the host's), which
/// the child, in the container's user namespace, lacks. The child moves it into place.
pub fn idmapped_tree(m: &MountPlan) -> crate::error::Result<OwnedFd> {
    use crate::launch::plan::IdMapUserns;
    let (Some(idmap), MountKind::Bind { source, .. }) = (&m.idmap, &m.kind) else {
        return Err(crate::error::Error::msg(format!(
            "{} is not an idmapped bind mount",
            m.dest
        )));
    };
    let src = source.display();
    let userns = match &idmap.userns {
        IdMapUserns::Maps(u, g) => crate::namespaces::userns_with_maps(u, g)
            .map_err(|e| sys(format!("failed to create userns for {src} id-mapping"), e))?,
        IdMapUserns::Path(p) => crate::namespaces::open_ns(p).map_err(|e| {
            sys(
                format!("failed to open existing userns for {src} id-mapping"),
                e,
            )
        })?,
    };
    let c = CString::new(source.as_os_str().as_encoded_bytes())
        .map_err(|_| sys(format!("open_tree {src}"), Errno::EINVAL))?;
    let flags = libc::OPEN_TREE_CLONE as i32
        | libc::OPEN_TREE_CLOEXEC as i32
        | if m.opts.flags.contains(MsFlags::MS_REC) {
            libc::AT_RECURSIVE
        } else {
            0
        };
    // SAFETY: a valid C string.
    let tree = Errno::result(unsafe {
        libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags)
    })
    .map_err(|e| sys(format!("open_tree(OPEN_TREE_CLONE) {src}"), e))?;
    // SAFETY: open_tree returned a new fd.
    let tree: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(tree as RawFd) };
    mount_setattr(
        tree.as_raw_fd(),
        options::attr::IDMAP,
        0,
        Some(userns.as_raw_fd()),
        idmap.recursive,
    )
    .map_err(|e| {
        let hint = match e {
            Errno::EINVAL => {
                " (maybe the filesystem used doesn't support idmap mounts on this kernel?)"
            }
            _ => "",
        };
        sys(format!("failed to set MOUNT_ATTR_IDMAP on {src}{hint}"), e)
    })?;
    Ok(tree)
}

fn sys(context: String, errno: Errno) -> crate::error::Error {
    crate::error::Error::Sys { context, errno }
}

fn mount_one(plan: &Plan, root: RawFd, m: &MountPlan, opened: Option<&OwnedFd>) -> StepResult<()> {
    let what = || format!("mount {}", m.dest);
    let extra = m.opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    match &m.kind {
        MountKind::Bind {
            source,
            source_is_dir,
        } => {
            let failed = |why: String| {
                format!(
                    "error mounting {:?} to rootfs at {:?}: {why}",
                    source.display().to_string(),
                    m.dest
                )
            };
            // A source missing when planned may have been made by an earlier mount.
            let is_dir = match source_is_dir {
                Some(d) => *d,
                None => match opened {
                    Some(fd) => fstat(fd.as_raw_fd()),
                    None => nix::sys::stat::stat(source.as_path()),
                }
                .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
                .step(|| failed("stat".into()))?,
            };
            let target = ensure_in_root(
                root,
                &m.dest,
                if is_dir { Create::Dir } else { Create::File },
            )
            .step(what)?;
            let rec = m.opts.flags & MsFlags::MS_REC;
            match (&m.idmap, opened) {
                (Some(_), Some(tree)) => {
                    move_tree(tree, &target).step(|| format!("idmapped mount {}", m.dest))?
                }
                (Some(_), None) => {
                    return Err(Errno::EINVAL).step(|| failed("no idmapped tree for it".into()))
                }
                (None, opened) => {
                    // From the fd the runtime opened, or by path.
                    let from = match opened {
                        Some(fd) => fd_path(fd),
                        None => CString::new(source.as_os_str().as_encoded_bytes())
                            .map_err(|_| Errno::EINVAL)
                            .step(|| failed("a NUL in the path".into()))?,
                    };
                    mount(
                        Some(from.as_c_str()),
                        fd_path(&target).as_c_str(),
                        NONE,
                        MsFlags::MS_BIND | rec,
                        NONE,
                    )
                    .step(|| format!("bind mount {} on {}", source.display(), m.dest))?
                }
            }
            // Options, set or cleared, make a remount; none keep the source's flags.
            if !extra.is_empty() || !m.opts.cleared.is_empty() {
                let t = open_in_root(root, &m.dest, libc::O_PATH).step(what)?;
                remount_bind(&t, extra, m.opts.cleared, || {
                    failed("failed to set user-requested vfs flags on bind-mount".into())
                })?;
            }
        }
        MountKind::Fs { fstype, source } => {
            let kernel_fs = matches!(fstype.as_str(), "proc" | "sysfs" | "devpts" | "mqueue");
            // Refused (or made) before the tmpfs mode probe and mkdir below.
            let special = match kernel_fs {
                true => Some(kernel_fs_target(root, &m.dest, fstype, source)?),
                false => None,
            };
            // A tmpfs over an existing directory takes its mode (runc does so); the
            // options' own mode= comes later and wins.
            let mut data = m.opts.data.join(",");
            if fstype == "tmpfs" {
                if let Ok(fd) = open_in_root(root, &m.dest, libc::O_PATH) {
                    let st = fstat(fd.as_raw_fd()).step(what)?;
                    let mode = format!("mode={:04o}", st.st_mode & 0o7777);
                    data = match data.is_empty() {
                        true => mode,
                        false => format!("{mode},{data}"),
                    };
                }
            }
            if !matches!(fstype.as_str(), "proc" | "sysfs" | "mqueue") {
                data = with_mount_label(data, plan.mount_label.as_deref());
            }
            let target = match special {
                Some(fd) => fd,
                None => ensure_in_root(root, &m.dest, Create::Dir).step(what)?,
            };
            // The image's directory, kept open under the tmpfs about to cover it.
            let copy_from = match m.opts.tmpcopyup {
                true => Some(
                    open_in_root(root, &m.dest, libc::O_RDONLY | libc::O_DIRECTORY)
                        .step(|| format!("open {} for tmpcopyup", m.dest))?,
                ),
                false => None,
            };
            let read_only = copy_from.is_some() && extra.contains(MsFlags::MS_RDONLY);
            let r = mount(
                Some(source.as_str()),
                fd_path(&target).as_c_str(),
                Some(fstype.as_str()),
                if read_only {
                    extra - MsFlags::MS_RDONLY
                } else {
                    extra
                },
                Some(data.as_str()),
            );
            if let (Ok(()), Some(from)) = (&r, &copy_from) {
                let to =
                    open_in_root(root, &m.dest, libc::O_RDONLY | libc::O_DIRECTORY).step(what)?;
                copyup::copy_tree(from.as_raw_fd(), to.as_raw_fd())
                    .step(|| format!("copy {} up into its tmpfs", m.dest))?;
                if read_only {
                    mount(
                        NONE,
                        fd_path(&to).as_c_str(),
                        NONE,
                        MsFlags::MS_REMOUNT | extra,
                        Some(data.as_str()),
                    )
                    .step(|| format!("remount {} read-only", m.dest))?;
                }
            }
            match r {
                // In a user namespace without its own net/ipc namespace the kernel refuses a
                // new sysfs/mqueue: bind the host's instead, as runc does.
                Err(Errno::EPERM)
                    if plan.in_user_ns && (fstype == "sysfs" || fstype == "mqueue") =>
                {
                    let host = if fstype == "sysfs" {
                        "/sys"
                    } else {
                        "/dev/mqueue"
                    };
                    mount(
                        Some(host),
                        fd_path(&target).as_c_str(),
                        NONE,
                        MsFlags::MS_BIND | MsFlags::MS_REC,
                        NONE,
                    )
                    .step(what)?;
                    let t = open_in_root(root, &m.dest, libc::O_PATH).step(what)?;
                    remount_bind(&t, extra, MsFlags::empty(), what)?;
                }
                r => r.step(|| format!("mount {fstype} on {}", m.dest))?,
            }
            if fstype == "mqueue" && plan.label_mqueue {
                if let Some(label) = &plan.mount_label {
                    let t = open_in_root(root, &m.dest, libc::O_PATH).step(what)?;
                    set_selinux_label(&t, label).step(|| format!("label {} {label}", m.dest))?;
                }
            }
        }
        MountKind::Cgroup => mount_cgroup(plan, root, m)?,
    }
    if !m.opts.propagation.is_empty() || m.opts.attr_set != 0 || m.opts.attr_clr != 0 {
        let t = open_in_root(root, &m.dest, libc::O_PATH).step(what)?;
        for p in &m.opts.propagation {
            mount(NONE, fd_path(&t).as_c_str(), NONE, *p, NONE)
                .step(|| format!("set propagation of {}", m.dest))?;
        }
        if m.opts.attr_set != 0 || m.opts.attr_clr != 0 {
            mount_setattr(t.as_raw_fd(), m.opts.attr_set, m.opts.attr_clr, None, true)
                .step(|| format!("set recursive attributes of {}", m.dest))?;
        }
    }
    Ok(())
}

/// Where a kernel filesystem (proc, sysfs, devpts, mqueue, cgroup) is mounted: an ordinary
/// directory, made if missing, never a symlink. A rootfs's `/proc -> /x` would put the real
/// procfs where masks and read-only paths do not reach (runc refuses proc and sysfs so;
/// hull all of them). Checked on the fd the mount then goes through: the path cannot be
/// swapped in between.
fn kernel_fs_target(root: RawFd, dest: &str, fstype: &str, source: &str) -> StepResult<OwnedFd> {
    let what = || format!("mount {fstype} on {dest}");
    let open = || open_in_root(root, dest, libc::O_PATH | libc::O_NOFOLLOW);
    let fd = match open() {
        Err(Errno::ENOENT) => {
            ensure_in_root(root, dest, Create::Dir).step(what)?;
            open().step(what)?
        }
        r => r.step(what)?,
    };
    if !is_dir(&fd) {
        return Err(Errno::ENOTDIR).step(|| {
            format!(
                "error mounting {source:?} to rootfs at {dest:?}: filesystem {fstype:?} must \
                 be mounted on ordinary directory"
            )
        });
    }
    Ok(fd)
}

/// `data` with the SELinux `context=` of `label`, quoted as runc quotes it (a label has
/// commas: `s0:c1,c2`).
fn with_mount_label(data: String, label: Option<&str>) -> String {
    match (label, data.is_empty()) {
        (None, _) => data,
        (Some(l), true) => format!("context=\"{l}\""),
        (Some(l), false) => format!("{data},context=\"{l}\""),
    }
}

/// The SELinux label of the file `fd` (O_PATH) names.
fn set_selinux_label(fd: &OwnedFd, label: &str) -> Result<(), Errno> {
    let path = fd_path(fd);
    // SAFETY: valid C strings and buffer.
    Errno::result(unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"security.selinux".as_ptr(),
            label.as_ptr().cast(),
            label.len(),
            0,
        )
    })
    .map(|_| ())
}

/// Attaches a detached mount tree at `target`.
fn move_tree(tree: &OwnedFd, target: &OwnedFd) -> Result<(), Errno> {
    // SAFETY: valid fds and empty paths.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    Errno::result(r).map(|_| ())
}

/// Where a pure cgroup v2 host mounts its hierarchy (runc takes the same fixed path).
const CGROUP2_MOUNT: &str = "/sys/fs/cgroup";

/// `type: cgroup`. v2: cgroup2, a bind where the kernel refuses it (as runc). v1: a
/// tmpfs with one mount (cgroup namespace) or bind per hierarchy.
fn mount_cgroup(plan: &Plan, root: RawFd, m: &MountPlan) -> StepResult<()> {
    let what = || format!("mount cgroup on {}", m.dest);
    let flags = m.opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let cg = &plan.cgroup;
    // A filesystem of our own first where it shows only the container's cgroups (a cgroup
    // namespace) or it is v2 (as runc: the whole hierarchy then); else, or where the kernel
    // refuses (a user namespace without a cgroup namespace), a bind of `host`.
    let one = |dest: &str,
               fstype: &str,
               data: &str,
               host: Option<&std::path::Path>,
               try_fs: bool|
     -> StepResult<()> {
        let target = match dest == m.dest {
            true => kernel_fs_target(root, dest, "cgroup", "cgroup")?,
            false => ensure_in_root(root, dest, Create::Dir).step(what)?,
        };
        if try_fs || host.is_none() {
            match mount(
                Some(fstype),
                fd_path(&target).as_c_str(),
                Some(fstype),
                flags,
                Some(data),
            ) {
                Ok(()) => return Ok(()),
                Err(e) if host.is_none() => return Err(e).step(what),
                Err(_) => {}
            }
        }
        if let Some(h) = host {
            mount(
                Some(h),
                fd_path(&target).as_c_str(),
                NONE,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                NONE,
            )
            .step(what)?;
            let t = open_in_root(root, dest, libc::O_PATH).step(what)?;
            remount_bind(&t, flags, MsFlags::empty(), what)?;
        }
        Ok(())
    };
    if cg.v2 || cg.v1.is_empty() {
        let host = match plan.unshare_cgroup {
            true => cg.unified.as_deref(),
            false => Some(std::path::Path::new(CGROUP2_MOUNT)),
        };
        return one(&m.dest, "cgroup2", "", host, true);
    }
    let target = kernel_fs_target(root, &m.dest, "cgroup", "cgroup")?;
    let tmpfs_flags = flags & !MsFlags::MS_RDONLY;
    mount(
        Some("tmpfs"),
        fd_path(&target).as_c_str(),
        Some("tmpfs"),
        tmpfs_flags,
        Some("mode=755"),
    )
    .step(what)?;
    for (name, dir) in &cg.v1 {
        let sub = name.strip_prefix("name=").unwrap_or(name);
        let data = if name.starts_with("name=") {
            format!("none,{name}")
        } else {
            name.clone()
        };
        one(
            &format!("{}/{sub}", m.dest),
            "cgroup",
            &data,
            Some(dir),
            plan.unshare_cgroup,
        )?;
        if sub.contains(',') {
            let t = open_in_root(root, &m.dest, libc::O_PATH).step(what)?;
            for part in sub.split(',') {
                let _ = nix::unistd::symlinkat(sub, Some(t.as_raw_fd()), part);
            }
        }
    }
    if let Some(u) = &cg.unified {
        one(
            &format!("{}/unified", m.dest),
            "cgroup2",
            "",
            Some(u),
            plan.unshare_cgroup,
        )?;
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let t = open_in_root(root, &m.dest, libc::O_PATH).step(what)?;
        mount(
            NONE,
            fd_path(&t).as_c_str(),
            NONE,
            MsFlags::MS_REMOUNT | flags,
            Some("mode=755"),
        )
        .step(what)?;
    }
    Ok(())
}

/// Device nodes (mknod, or binds of the host's nodes in a user namespace) and the /dev
/// symlinks.
pub fn setup_dev(plan: &Plan, root: RawFd) -> StepResult<()> {
    if !plan.setup_dev {
        return Ok(());
    }
    for d in &plan.devices {
        let what = || format!("create device {}", d.path);
        let (parent, name) = split_parent(&d.path);
        let pfd = ensure_in_root(root, parent, Create::Dir).step(what)?;
        if plan.in_user_ns {
            let target = ensure_in_root(root, &d.path, Create::File).step(what)?;
            mount(
                Some(d.path.as_str()),
                fd_path(&target).as_c_str(),
                NONE,
                MsFlags::MS_BIND,
                NONE,
            )
            .step(what)?;
            continue;
        }
        let kind = SFlag::from_bits_truncate(d.kind);
        let dev = nix::sys::stat::makedev(d.major, d.minor);
        let mode = Mode::from_bits_truncate(d.mode);
        match nix::sys::stat::mknodat(Some(pfd.as_raw_fd()), name, kind, mode, dev) {
            Err(Errno::EEXIST) => {
                // Whatever the image put there (a symlink to a host path, a file) goes.
                let st = nix::sys::stat::fstatat(
                    Some(pfd.as_raw_fd()),
                    name,
                    nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .step(what)?;
                let same = (st.st_mode & libc::S_IFMT) == d.kind && st.st_rdev == dev;
                if !same {
                    nix::unistd::unlinkat(
                        Some(pfd.as_raw_fd()),
                        name,
                        nix::unistd::UnlinkatFlags::NoRemoveDir,
                    )
                    .step(what)?;
                    nix::sys::stat::mknodat(Some(pfd.as_raw_fd()), name, kind, mode, dev)
                        .step(what)?;
                }
            }
            r => r.step(what)?,
        }
        nix::unistd::fchownat(
            Some(pfd.as_raw_fd()),
            name,
            Some(d.uid.into()),
            Some(d.gid.into()),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .step(what)?;
    }
    let dev = ensure_in_root(root, "/dev", Create::Dir).step(|| "open /dev".into())?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if std::path::Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        match nix::unistd::symlinkat(target, Some(dev.as_raw_fd()), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            r => r.step(|| format!("symlink /dev/{name}"))?,
        }
    }
    // /dev/ptmx must be the devpts instance's ptmx.
    match nix::unistd::unlinkat(
        Some(dev.as_raw_fd()),
        "ptmx",
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    ) {
        Ok(()) | Err(Errno::ENOENT) => {}
        r => r.step(|| "remove /dev/ptmx".into())?,
    }
    nix::unistd::symlinkat("pts/ptmx", Some(dev.as_raw_fd()), "ptmx")
        .step(|| "symlink /dev/ptmx".into())?;
    Ok(())
}

/// The host's /dev/null, opened before anything of the container exists and checked to
/// be the real one (char 1:3): masks are bound from it, never from the container's.
pub fn open_host_devnull() -> StepResult<OwnedFd> {
    let fd = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| "open /dev/null".into())?;
    // SAFETY: open returned a new fd.
    let fd: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
    let st = fstat(fd.as_raw_fd()).step(|| "stat /dev/null".into())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != nix::sys::stat::makedev(1, 3) {
        return Err(Errno::EPERM).step(|| "/dev/null is not the null device (char 1:3)".into());
    }
    Ok(fd)
}

fn is_dir(fd: &OwnedFd) -> bool {
    fstat(fd.as_raw_fd()).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// maskedPaths (empty read-only tmpfs on directories, /dev/null on files) and
/// readonlyPaths. Paths that do not exist are skipped, as the spec says.
pub fn mask_and_protect(plan: &Plan, root: RawFd, devnull: &OwnedFd) -> StepResult<()> {
    // Masked directories share one empty read-only tmpfs (runc's): the first is mounted,
    // the others are binds of it.
    let mut empty_dir: Option<OwnedFd> = None;
    for p in &plan.masked_paths {
        let what = || format!("mask {p}");
        let fd = match open_in_root(root, p, libc::O_PATH | libc::O_NOFOLLOW) {
            Err(Errno::ENOENT) => continue,
            r => r.step(what)?,
        };
        if is_dir(&fd) {
            match &empty_dir {
                Some(first) => mount(
                    Some(fd_path(first).as_c_str()),
                    fd_path(&fd).as_c_str(),
                    NONE,
                    MsFlags::MS_BIND,
                    NONE,
                ),
                None => mount(
                    Some("tmpfs"),
                    fd_path(&fd).as_c_str(),
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    Some(with_mount_label("size=0".into(), plan.mount_label.as_deref()).as_str()),
                ),
            }
            .step(what)?;
            if empty_dir.is_none() {
                empty_dir =
                    Some(open_in_root(root, p, libc::O_PATH | libc::O_NOFOLLOW).step(what)?);
            }
        } else {
            mount(
                Some(fd_path(devnull).as_c_str()),
                fd_path(&fd).as_c_str(),
                NONE,
                MsFlags::MS_BIND,
                NONE,
            )
            .step(what)?;
        }
    }
    for p in &plan.readonly_paths {
        let what = || format!("make {p} read-only");
        let fd = match open_in_root(root, p, libc::O_PATH) {
            Err(Errno::ENOENT) => continue,
            r => r.step(what)?,
        };
        mount(
            Some(fd_path(&fd).as_c_str()),
            fd_path(&fd).as_c_str(),
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            NONE,
        )
        .step(what)?;
        let fd = open_in_root(root, p, libc::O_PATH).step(what)?;
        remount_bind(
            &fd,
            MsFlags::MS_RDONLY | MsFlags::MS_REC,
            MsFlags::empty(),
            what,
        )?;
    }
    Ok(())
}

/// Makes the rootfs `/`: pivot_root (the old root detached), or with `--no-pivot` a move
/// mount and chroot.
pub fn enter_root(plan: &Plan, root: &OwnedFd) -> StepResult<()> {
    let open_dir = |path: &str| -> StepResult<OwnedFd> {
        let fd = nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| format!("open {path}"))?;
        // SAFETY: open returned a new fd.
        Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
    };
    let old_root = open_dir("/")?;
    nix::unistd::fchdir(root.as_raw_fd()).step(|| "chdir to rootfs".into())?;
    if plan.no_pivot {
        drop_host_proc_and_sys(&plan.rootfs)
            .step(|| "hide the host's proc and sysfs mounts".into())?;
        mount(Some("."), "/", NONE, MsFlags::MS_MOVE, NONE).step(|| "move rootfs to /".into())?;
        nix::unistd::chroot(".").step(|| "chroot".into())?;
    } else {
        nix::unistd::pivot_root(".", ".").step(|| "pivot_root".into())?;
        // The old root now sits on top of ".": keep its unmount from propagating, drop it.
        // Through the old root itself: "." would make the container's own mounts slaves
        // too, and a `shared` one would lose its peers.
        nix::unistd::fchdir(old_root.as_raw_fd()).step(|| "chdir to the old root".into())?;
        mount(NONE, ".", NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE)
            .step(|| "make old root slave".into())?;
        umount2(".", MntFlags::MNT_DETACH).step(|| "unmount old root".into())?;
    }
    nix::unistd::chdir("/").step(|| "chdir /".into())?;
    if plan.root_propagation_set {
        mount(NONE, "/", NONE, plan.root_propagation, NONE)
            .step(|| "set rootfsPropagation".into())?;
    }
    if plan.readonly_root {
        remount_bind(
            &open_dir("/")?,
            MsFlags::MS_RDONLY,
            MsFlags::empty(),
            || "remount / read-only".into(),
        )?;
    }
    Ok(())
}

/// Makes a read-only /dev read-only, once its nodes, console and masks are in place
/// (see `Plan::dev_readonly`). Called inside the container's root.
pub fn remount_dev_readonly(plan: &Plan) -> StepResult<()> {
    let Some(flags) = plan.dev_readonly else {
        return Ok(());
    };
    let flags = flags | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    // A file still open for writing makes the remount fail with EBUSY for a moment.
    let mut tries = 5;
    loop {
        match mount(NONE, "/dev", NONE, flags, NONE) {
            Err(Errno::EBUSY) if tries > 1 => {
                tries -= 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            r => return r.step(|| "remount /dev read-only".into()),
        }
    }
}

/// Binds the pty `peer` (ours, just opened) on /dev/console, made as an empty file when
/// missing. Called inside the container's root: a /dev/console the image made a symlink
/// (or anything but a file or device node) is refused, never followed.
pub fn bind_console(peer: &OwnedFd) -> StepResult<()> {
    use nix::fcntl::OFlag;
    let what = || "mount the pty on /dev/console".to_string();
    let open = |flags: OFlag| {
        nix::fcntl::open(
            "/dev/console",
            flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o666),
        )
        // SAFETY: open returned a new fd.
        .map(|fd| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
    };
    if let Err(Errno::ENOENT) = open(OFlag::O_PATH) {
        open(OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY).step(what)?;
    }
    let target = open(OFlag::O_PATH).step(what)?;
    let kind = fstat(target.as_raw_fd()).step(what)?.st_mode & libc::S_IFMT;
    if kind != libc::S_IFREG && kind != libc::S_IFCHR {
        return Err(Errno::ENOTDIR)
            .step(|| "/dev/console must be an ordinary file or device node".into());
    }
    mount(
        Some(fd_path(peer).as_c_str()),
        fd_path(&target).as_c_str(),
        NONE,
        MsFlags::MS_BIND,
        NONE,
    )
    .step(what)
}

/// Creates the process's cwd inside the rootfs if it is missing (runc does too).
pub fn ensure_cwd(root: RawFd, cwd: &str) -> StepResult<()> {
    ensure_in_root(root, cwd, Create::Dir)
        .map(drop)
        .step(|| format!("create cwd {cwd}"))
}

#[cfg(test)]
mod tests {
    use super::with_mount_label;

    /// What goes to mount(2): runc's `context="LABEL"`, quoted (a label has commas).
    #[test]
    fn the_mount_label_is_a_quoted_context_option() {
        let l = Some("system_u:object_r:container_file_t:s0:c1,c2");
        assert_eq!(
            with_mount_label("mode=755,size=65536k".into(), l),
            "mode=755,size=65536k,context=\"system_u:object_r:container_file_t:s0:c1,c2\""
        );
        assert_eq!(
            with_mount_label(String::new(), l),
            "context=\"system_u:object_r:container_file_t:s0:c1,c2\""
        );
        assert_eq!(with_mount_label("size=0".into(), None), "size=0");
    }
}

//! Namespace helpers: clone with namespace flags (fork semantics, no re-exec), setns by
//! path, id maps, and a throwaway user namespace for idmapped mounts.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

/// clone(2) without a new stack: like fork, but the child starts in new namespaces.
/// Returns 0 in the child.
///
/// # Safety
/// The process must be single-threaded (hull is), as for fork.
pub unsafe fn clone_fork(flags: CloneFlags) -> Result<i32, Errno> {
    let r = libc::syscall(
        libc::SYS_clone,
        (flags.bits() | libc::SIGCHLD) as libc::c_ulong,
        0usize,
        0usize,
        0usize,
        0usize,
    );
    Errno::result(r).map(|p| p as i32)
}

pub fn write_id_maps(pid: i32, uid_map: &str, gid_map: &str) -> Result<(), (String, Errno)> {
    for (file, map) in [("uid_map", uid_map), ("gid_map", gid_map)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, map).map_err(|e| {
            (
                format!("write {path} ({:?})", map.trim()),
                Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            )
        })?;
    }
    Ok(())
}

pub fn open_ns(path: &std::path::Path) -> Result<OwnedFd, Errno> {
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: open returned a new fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn setns(fd: &OwnedFd, flag: CloneFlags) -> Result<(), Errno> {
    nix::sched::setns(fd, flag)
}

/// A user namespace with the given maps, for MOUNT_ATTR_IDMAP: a short-lived child
/// unshares it, we write its maps and keep an fd to it.
pub fn userns_with_maps(uid_map: &str, gid_map: &str) -> Result<OwnedFd, Errno> {
    // SAFETY: single-threaded; the child only blocks in read and exits.
    let (r, w) = nix::unistd::pipe()?;
    let pid = unsafe { clone_fork(CloneFlags::CLONE_NEWUSER)? };
    if pid == 0 {
        drop(w);
        let mut b = [0u8; 1];
        let _ = nix::unistd::read(r.as_raw_fd(), &mut b);
        // SAFETY: _exit is always safe.
        unsafe { libc::_exit(0) };
    }
    drop(r);
    // Called from the container's init, whose pid namespace is not the one of /proc: the
    // helper's pid only means something in a procfs of our own pid namespace.
    let result = crate::proc::PrivateProc::open().and_then(|proc| {
        proc.write(&format!("{pid}/uid_map"), uid_map)?;
        proc.write(&format!("{pid}/gid_map"), gid_map)?;
        proc.open_ns(pid, "user")
    });
    drop(w);
    let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
    result
}

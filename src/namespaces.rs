//! Namespace helpers: clone with namespace flags (fork semantics, no re-exec), setns by
//! path, id maps, and a throwaway user namespace for idmapped mounts.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

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

/// `clone_fork` whose child starts in the cgroup2 directory `cgroup` (clone3 with
/// CLONE_INTO_CGROUP), so nobody has to move it there. Returns (pid, placed): on a kernel
/// without CLONE_INTO_CGROUP it falls back to `clone_fork` and says the child is not placed.
///
/// # Safety
/// As `clone_fork`.
pub unsafe fn clone_into_cgroup(flags: CloneFlags, cgroup: RawFd) -> Result<(i32, bool), Errno> {
    #[repr(C)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let args = CloneArgs {
        flags: flags.bits() as u32 as u64 | CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup as u64,
    };
    let r = libc::syscall(
        libc::SYS_clone3,
        &args as *const CloneArgs,
        std::mem::size_of::<CloneArgs>(),
    );
    match Errno::result(r) {
        Ok(pid) => Ok((pid as i32, true)),
        Err(Errno::ENOSYS | Errno::E2BIG) => clone_fork(flags).map(|p| (p, false)),
        Err(e) => Err(e),
    }
}

/// Writes the id maps of `pid`'s user namespace, as `writer` can (see `MapWriter`).
pub fn write_id_maps(
    pid: i32,
    uid_map: &str,
    gid_map: &str,
    writer: crate::launch::plan::MapWriter,
) -> Result<(), (String, Errno)> {
    use crate::launch::plan::MapWriter;
    let errno = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    match writer {
        MapWriter::Helpers => {
            for (helper, map) in [("newuidmap", uid_map), ("newgidmap", gid_map)] {
                run_map_helper(helper, pid, map)?;
            }
            return Ok(());
        }
        MapWriter::OwnIds => {
            let path = format!("/proc/{pid}/setgroups");
            match std::fs::write(&path, "deny") {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err((format!("write {path} (\"deny\")"), errno(e)))
                }
                _ => {}
            }
        }
        MapWriter::Root => {}
    }
    for (file, map) in [("uid_map", uid_map), ("gid_map", gid_map)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, map)
            .map_err(|e| (format!("write {path} ({:?})", map.trim()), errno(e)))?;
    }
    Ok(())
}

/// `newuidmap PID ID HOST SIZE...` (or newgidmap): the setuid helper checks the ranges
/// against /etc/subuid (/etc/subgid) and writes the map.
fn run_map_helper(helper: &str, pid: i32, map: &str) -> Result<(), (String, Errno)> {
    let out = std::process::Command::new(helper)
        .arg(pid.to_string())
        .args(map.split_whitespace())
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err((
            format!(
                "rootless: {helper} is not installed (package uidmap): the id ranges of a \
                 rootless container's mappings need it"
            ),
            Errno::ENOENT,
        )),
        Err(e) => Err((
            format!("run {helper}"),
            Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        )),
        Ok(o) if !o.status.success() => Err((
            format!(
                "{helper} {pid} {}: {}",
                map.split_whitespace().collect::<Vec<_>>().join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Errno::EPERM,
        )),
        Ok(_) => Ok(()),
    }
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

/// The name the kernel gives a namespace type in `/proc/PID/ns/`.
pub fn proc_name(t: oci_spec::runtime::LinuxNamespaceType) -> &'static str {
    use oci_spec::runtime::LinuxNamespaceType as T;
    match t {
        T::Mount => "mnt",
        T::Cgroup => "cgroup",
        T::Uts => "uts",
        T::Ipc => "ipc",
        T::User => "user",
        T::Pid => "pid",
        T::Network => "net",
        T::Time => "time",
    }
}

/// Sets `lo` up in our network namespace (ioctls on a datagram socket: no netlink).
pub fn loopback_up() -> Result<(), Errno> {
    // SAFETY: a socket we close below.
    let sock = Errno::result(unsafe {
        libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
    })?;
    // SAFETY: the kernel returned a new fd.
    let sock = unsafe { OwnedFd::from_raw_fd(sock) };
    // SAFETY: ifreq is plain data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: ioctls with a valid ifreq.
    unsafe {
        Errno::result(libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req))?;
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        Errno::result(libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req))?;
    }
    Ok(())
}

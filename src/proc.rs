//! A private procfs instance for writes that matter (sysctl, oom_score_adj, LSM labels):
//! a detached mount (fsopen/fsmount) that the container cannot reach or swap, opened with
//! openat2 that refuses to cross mounts or follow magic links (CVE-2019-16884,
//! CVE-2025-52881 classes).

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

const PROC_SUPER_MAGIC: i64 = 0x9fa0;
const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_BENEATH: u64 = 0x08;

pub struct PrivateProc {
    fd: OwnedFd,
}

impl PrivateProc {
    /// A new procfs instance for the caller's pid namespace.
    pub fn open() -> Result<PrivateProc, Errno> {
        // SAFETY: plain syscalls with valid C strings.
        unsafe {
            let fs = Errno::result(libc::syscall(
                libc::SYS_fsopen,
                c"proc".as_ptr(),
                libc::FSOPEN_CLOEXEC,
            ))? as i32;
            let fs = OwnedFd::from_raw_fd(fs);
            Errno::result(libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                libc::FSCONFIG_CMD_CREATE,
                0usize,
                0usize,
                0,
            ))?;
            let m = Errno::result(libc::syscall(
                libc::SYS_fsmount,
                fs.as_raw_fd(),
                libc::FSMOUNT_CLOEXEC,
                0,
            ))? as i32;
            let fd = OwnedFd::from_raw_fd(m);
            let st = nix::sys::statfs::fstatfs(&fd)?;
            if st.filesystem_type().0 as i64 != PROC_SUPER_MAGIC {
                return Err(Errno::EXDEV);
            }
            Ok(PrivateProc { fd })
        }
    }

    /// `<pid>/ns/<ns>` of this instance (a magic link: plain openat, which is safe on a
    /// procfs nobody else can reach).
    pub fn open_ns(&self, pid: i32, ns: &str) -> Result<OwnedFd, Errno> {
        let fd = nix::fcntl::openat(
            Some(self.fd.as_raw_fd()),
            format!("{pid}/ns/{ns}").as_str(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        // SAFETY: openat returned a new fd.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Opens our own `fd` anew with `flags` (an O_PATH fd made usable), through
    /// `thread-self/fd`: a magic link, safe on a procfs nobody else can reach.
    pub fn reopen(&self, fd: RawFd, flags: nix::fcntl::OFlag) -> Result<OwnedFd, Errno> {
        let fd = nix::fcntl::openat(
            Some(self.fd.as_raw_fd()),
            format!("thread-self/fd/{fd}").as_str(),
            flags | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        // SAFETY: openat returned a new fd.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Writes `value` to `rel` (e.g. `sys/net/ipv4/ip_forward`, `self/oom_score_adj`).
    pub fn write(&self, rel: &str, value: &str) -> Result<(), Errno> {
        let fd = crate::rootfs::resolve::openat2(
            self.fd.as_raw_fd(),
            rel,
            libc::O_WRONLY,
            0,
            RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH,
        )?;
        let mut f = std::fs::File::from(fd);
        f.write_all(value.as_bytes())
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
    }
}

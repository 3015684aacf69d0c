//! The runtime binary must never be writable from a container (CVE-2019-5736 class). A
//! container can get hold of hull's own file: an entrypoint `#!/proc/self/exe`, or
//! `exec` of `/proc/self/exe`, makes the kernel run hull inside the container, dumpable,
//! and the container keeps `/proc/PID/exe` open to write it once that process is gone.
//! So `create`, `run` and `exec` run from a detached read-only bind mount of their own
//! file (open_tree + mount_setattr RDONLY + execveat): every path to the file through
//! our processes then leads to a read-only mount. No copy, unlike a memfd; one execve.
//! Rootless, where open_tree is not allowed, a binary the caller can write is run from a
//! sealed memfd copy instead.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;

const OPEN_TREE_CLONE: u32 = 1;
const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// True if our executable already sits on a read-only mount.
fn exe_is_readonly() -> Result<bool, Errno> {
    let exe = std::fs::File::open("/proc/self/exe")
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok(nix::sys::statvfs::fstatvfs(&exe)?
        .flags()
        .contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// Re-executes hull from a read-only view of its own file unless it runs from one
/// already. Returns only when no re-exec was needed, or when it cannot be done (then the
/// reason, for a debug line: an old kernel, no CAP_SYS_ADMIN).
pub fn reexec_readonly() -> Result<(), String> {
    match exe_is_readonly() {
        Ok(true) => return Ok(()),
        Ok(false) => {}
        Err(e) => return Err(format!("stat /proc/self/exe: {e}")),
    }
    // SAFETY: plain syscalls with valid arguments.
    let tree = unsafe {
        Errno::result(libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c"/proc/self/exe".as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as u32,
        ))
        .map(|fd| OwnedFd::from_raw_fd(fd as i32))
    };
    let tree = match tree {
        Ok(t) => t,
        // Without CAP_SYS_ADMIN over our mount namespace (rootless).
        Err(Errno::EPERM) => return reexec_sealed_copy(),
        Err(e) => return Err(format!("open_tree /proc/self/exe: {e}")),
    };
    crate::rootfs::mount_setattr(tree.as_raw_fd(), MOUNT_ATTR_RDONLY, 0, None, false)
        .map_err(|e| format!("make the binary's mount read-only: {e}"))?;
    Err(reexec_from(&tree))
}

/// The unprivileged form (runc's fallback): a binary the caller cannot write needs no
/// guard, since a rootless container acts with the caller's rights at most; one it can
/// write is copied into a sealed memfd and run from there (2.8 MB copied per command).
fn reexec_sealed_copy() -> Result<(), String> {
    // SAFETY: a valid C string.
    let writable = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c"/proc/self/exe".as_ptr(),
            libc::W_OK,
            libc::AT_EACCESS,
        )
    } == 0;
    if !writable || runs_sealed() {
        return Ok(());
    }
    let copy = nix::sys::memfd::memfd_create(
        c"hull",
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC
            | nix::sys::memfd::MemFdCreateFlag::MFD_ALLOW_SEALING,
    )
    .map_err(|e| format!("memfd_create: {e}"))?;
    let mut exe =
        std::fs::File::open("/proc/self/exe").map_err(|e| format!("open /proc/self/exe: {e}"))?;
    let mut out = std::fs::File::from(copy);
    std::io::copy(&mut exe, &mut out).map_err(|e| format!("copy the binary into a memfd: {e}"))?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on our own fd.
    Errno::result(unsafe { libc::fcntl(out.as_raw_fd(), libc::F_ADD_SEALS, seals) })
        .map_err(|e| format!("seal the memfd: {e}"))?;
    Err(reexec_from(&OwnedFd::from(out)))
}

/// We run from a memfd sealed against writes (re-executed by `reexec_sealed_copy`).
fn runs_sealed() -> bool {
    let Ok(exe) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: fcntl on our own fd.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & libc::F_SEAL_WRITE != 0
}

/// execveat of `file` with our arguments and environment; returns only the error.
fn reexec_from(file: &OwnedFd) -> String {
    let to_c = |s: &std::ffi::OsStr| CString::new(s.as_bytes()).ok();
    let args: Vec<CString> = std::env::args_os().filter_map(|a| to_c(&a)).collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let e = nix::unistd::execveat(
        Some(file.as_raw_fd()),
        c"",
        &args,
        &env,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
    .unwrap_err();
    format!("execveat from the read-only copy: {e}")
}

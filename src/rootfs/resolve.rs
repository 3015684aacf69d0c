//! Paths inside the rootfs, resolved by the kernel with openat2(RESOLVE_IN_ROOT): `..` and
//! symlinks (absolute ones too) stay inside the rootfs, so a symlink planted in the image
//! cannot send a mount, a device node or a mask to a host path (CVE-2021-30465 class).
//! Everything is then done through the fd that was resolved, never through the path again.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::stat::Mode;

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(dirfd, path, flags, resolve).
pub fn openat2(
    dirfd: RawFd,
    path: &str,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> Result<OwnedFd, Errno> {
    let c = CString::new(path).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve,
    };
    loop {
        // SAFETY: valid C string and open_how of the size we pass.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd,
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        match Errno::result(r) {
            // SAFETY: the kernel returned a new fd.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Opens `path` (absolute inside the container) relative to the rootfs fd, never leaving it.
pub fn open_in_root(root: RawFd, path: &str, flags: i32) -> Result<OwnedFd, Errno> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    openat2(root, rel, flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
}

/// What to create at the end of a path that does not exist yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
    Dir,
    File,
}

fn split_parent(path: &str) -> (String, String) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(i) => (trimmed[..i].to_string(), trimmed[i + 1..].to_string()),
        None => (String::new(), trimmed.to_string()),
    }
}

/// Resolves `path` inside the root as an O_PATH fd, creating missing directories (0755)
/// and the last component as `last` if it is missing. A dangling symlink on the way has
/// what it names created, inside the root (as runc does for `/var/run -> /run`).
pub fn ensure_in_root(root: RawFd, path: &str, last: Create) -> Result<OwnedFd, Errno> {
    ensure_following(root, path, last, 0)
}

/// The kernel's limit on symlinks followed in one lookup.
const MAX_LINKS: u32 = 40;

fn ensure_following(root: RawFd, path: &str, last: Create, links: u32) -> Result<OwnedFd, Errno> {
    match open_in_root(root, path, libc::O_PATH) {
        Err(Errno::ENOENT) => {}
        other => return other,
    }
    let (parent, name) = split_parent(path);
    if name.is_empty() || name == "." || name == ".." {
        return Err(Errno::EINVAL);
    }
    // The parent was resolved inside the root: create the entry relative to it.
    let pfd = ensure_following(root, &parent, Create::Dir, links)?;
    let made = match last {
        Create::Dir => nix::sys::stat::mkdirat(
            Some(pfd.as_raw_fd()),
            name.as_str(),
            Mode::from_bits_truncate(0o755),
        ),
        Create::File => nix::fcntl::openat(
            Some(pfd.as_raw_fd()),
            name.as_str(),
            nix::fcntl::OFlag::O_CREAT
                | nix::fcntl::OFlag::O_EXCL
                | nix::fcntl::OFlag::O_WRONLY
                | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map(|fd| {
            // SAFETY: openat returned a new fd; close it.
            drop(unsafe { OwnedFd::from_raw_fd(fd) })
        }),
    };
    match made {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            if let Ok(target) = nix::fcntl::readlinkat(Some(pfd.as_raw_fd()), name.as_str()) {
                if links >= MAX_LINKS {
                    return Err(Errno::ELOOP);
                }
                let target = target.to_str().ok_or(Errno::EINVAL)?;
                let next = match target.starts_with('/') {
                    true => target.to_string(),
                    false => format!("{parent}/{target}"),
                };
                return ensure_following(root, &next, last, links + 1);
            }
        }
        Err(e) => return Err(e),
    }
    open_in_root(root, path, libc::O_PATH)
}

/// `/proc/self/fd/N`: how mount(2) is pointed at a resolved fd.
pub fn fd_path(fd: &impl AsRawFd) -> CString {
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL in a number")
}

/// Reads a small file inside the rootfs (e.g. /etc/passwd), None if it cannot.
pub fn read_in_root(root: RawFd, path: &str, max: u64) -> Option<String> {
    let fd = open_in_root(root, path, libc::O_RDONLY).ok()?;
    let file = std::fs::File::from(fd);
    let mut buf = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, max), &mut buf).ok()?;
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_stay_inside_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), "inside").unwrap();
        std::fs::write(tmp.path().join("outside"), "host").unwrap();
        // Absolute and relative links that would leave the root when followed naively.
        symlink("/etc/passwd", root.join("abs")).unwrap();
        symlink("../../../../outside", root.join("rel")).unwrap();
        let rootfd = std::fs::File::open(&root).unwrap();
        assert_eq!(
            read_in_root(rootfd.as_raw_fd(), "/abs", 100).as_deref(),
            Some("inside")
        );
        assert_eq!(read_in_root(rootfd.as_raw_fd(), "/rel", 100), None);
        // Creating below a link that points outside creates inside the root.
        symlink("/", root.join("escape")).unwrap();
        ensure_in_root(rootfd.as_raw_fd(), "/escape/newdir/x", Create::File).unwrap();
        assert!(root.join("newdir/x").is_file());
        // A dangling link, absolute or climbing out: its target is made inside the root.
        symlink("/made/abs", root.join("dangling")).unwrap();
        symlink("../../../../../made/rel", root.join("etc/climbing")).unwrap();
        ensure_in_root(rootfd.as_raw_fd(), "/dangling", Create::Dir).unwrap();
        ensure_in_root(rootfd.as_raw_fd(), "/etc/climbing/x", Create::File).unwrap();
        assert!(root.join("made/abs").is_dir());
        assert!(root.join("made/rel/x").is_file());
        assert!(!tmp.path().join("made").exists());
        // A loop ends.
        symlink("/loop", root.join("loop")).unwrap();
        assert_eq!(
            ensure_in_root(rootfd.as_raw_fd(), "/loop/x", Create::Dir).unwrap_err(),
            Errno::ELOOP
        );
    }
}

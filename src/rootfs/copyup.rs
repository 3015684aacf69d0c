//! `tmpcopyup`: a tmpfs mounted over an image directory starts with that directory's
//! contents. The tree is copied fd to fd, never following a symlink: the image is the
//! container's, so every name in it is untrusted.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstatat, mknodat, FileStat, Mode, SFlag};

fn open_at(dir: RawFd, name: &CStr, flags: OFlag) -> Result<OwnedFd, Errno> {
    let fd = nix::fcntl::openat(
        Some(dir),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: openat returned a new fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn chown_at(dir: RawFd, name: &CStr, st: &FileStat) -> Result<(), Errno> {
    nix::unistd::fchownat(
        Some(dir),
        name,
        Some(st.st_uid.into()),
        Some(st.st_gid.into()),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
}

/// Copies the entries of directory `from` into directory `to` (both opened O_DIRECTORY),
/// keeping types, modes and owners.
pub fn copy_tree(from: RawFd, to: RawFd) -> Result<(), Errno> {
    let mut dir = nix::dir::Dir::from_fd(nix::unistd::dup(from)?)?;
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        let st = fstatat(Some(from), name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        match SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT) {
            SFlag::S_IFDIR => {
                nix::sys::stat::mkdirat(Some(to), name, Mode::from_bits_truncate(0o700))?;
                let src = open_at(from, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
                let dst = open_at(to, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
                copy_tree(src.as_raw_fd(), dst.as_raw_fd())?;
                chown_at(to, name, &st)?;
                // After the chown, which would clear set-id bits.
                fchmod(dst.as_raw_fd(), mode)?;
            }
            SFlag::S_IFREG => {
                let src = open_at(from, name, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
                // Swapped for something else since the stat: skip it.
                if nix::sys::stat::fstat(src.as_raw_fd())?.st_mode & libc::S_IFMT != libc::S_IFREG {
                    continue;
                }
                let dst = open_at(to, name, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL)?;
                let (mut r, mut w) = (std::fs::File::from(src), std::fs::File::from(dst));
                std::io::copy(&mut r, &mut w)
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
                chown_at(to, name, &st)?;
                fchmod(w.as_raw_fd(), mode)?;
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(Some(from), name)?;
                nix::unistd::symlinkat(target.as_os_str(), Some(to), name)?;
                chown_at(to, name, &st)?;
            }
            kind => {
                mknodat(Some(to), name, kind, mode, st.st_rdev)?;
                chown_at(to, name, &st)?;
            }
        }
    }
    Ok(())
}

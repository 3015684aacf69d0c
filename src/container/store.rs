//! The state directory: `--root/<id>/` holds `state.json` and, between `create` and
//! `start`, the `exec.fifo` the init blocks on. Creating the directory is what reserves an
//! id (mkdir is atomic: of racing creates exactly one wins); an exclusive flock on the
//! directory serialises every command that changes the container.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, openat, renameat, OFlag};
use nix::sys::stat::{fstat, Mode};
use nix::unistd::mkfifoat;
use nix::unistd::{mkdir, unlinkat, UnlinkatFlags};

use super::State;
use crate::error::{Context, Error, Result};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";
/// State files are small; anything bigger is not ours.
const MAX_STATE_SIZE: u64 = 16 << 20;

pub struct Store {
    root: PathBuf,
}

/// A container's state directory, opened and locked.
pub struct ContainerDir {
    pub id: String,
    pub path: PathBuf,
    dir: OwnedFd,
}

fn lock(dir: &OwnedFd) -> Result<()> {
    loop {
        // SAFETY: flock on a valid fd.
        let r = unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX) };
        match Errno::result(r) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).context(|| "lock the container state dir".into()),
        }
    }
}

impl Store {
    pub fn new(root: &Path) -> Result<Store> {
        let root = if root.is_absolute() {
            root.to_path_buf()
        } else {
            std::env::current_dir()
                .context(|| "get the current directory".into())?
                .join(root)
        };
        Ok(Store { root })
    }

    fn ensure_root(&self) -> Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&self.root)
            .context(|| format!("create state root {}", self.root.display()))
    }

    /// Reserves `id`: fails with `Exists` if a container (even a half-made one) has it.
    pub fn create(&self, id: &str) -> Result<ContainerDir> {
        super::id::validate(id)?;
        self.ensure_root()?;
        let path = self.root.join(id);
        match mkdir(&path, Mode::from_bits_truncate(0o711)) {
            Ok(()) => {}
            Err(Errno::EEXIST) => return Err(Error::Exists),
            Err(e) => return Err(e).context(|| format!("create state dir {}", path.display())),
        }
        let dir = open(
            &path,
            OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
            Mode::empty(),
        )
        .context(|| format!("open state dir {}", path.display()))
        .inspect_err(|_| {
            let _ = std::fs::remove_dir(&path);
        })?;
        // SAFETY: open returned a fresh fd we own.
        let dir = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(dir) };
        lock(&dir)?;
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            dir,
        })
    }

    /// Opens and locks an existing container's directory.
    pub fn open(&self, id: &str) -> Result<ContainerDir> {
        let dir = self.open_unlocked(id)?;
        lock(&dir.dir)?;
        // A delete may have removed the directory while we waited for the lock.
        if fstat(dir.dir.as_raw_fd())
            .map(|s| s.st_nlink == 0)
            .unwrap_or(true)
        {
            return Err(Error::NotExist);
        }
        Ok(dir)
    }

    /// Opens without the lock, for readers (`state`, `list`): state.json is replaced by
    /// rename, so a reader sees the old or the new file, never half of one.
    pub fn open_unlocked(&self, id: &str) -> Result<ContainerDir> {
        super::id::validate(id)?;
        let path = self.root.join(id);
        match open(
            &path,
            OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
            Mode::empty(),
        ) {
            Ok(fd) => Ok(ContainerDir {
                id: id.to_string(),
                path,
                // SAFETY: open returned a fresh fd we own.
                dir: unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) },
            }),
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => Err(Error::NotExist),
            Err(e) => Err(e).context(|| format!("open state dir {}", path.display())),
        }
    }

    /// Ids of every container directory, sorted.
    /// The containers' ids. A missing root is empty when `missing_ok` (the default root,
    /// before any container), an error otherwise (a `--root` the user named, as runc).
    pub fn ids(&self, missing_ok: bool) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(e).context(|| format!("read {}", self.root.display())),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| super::id::validate(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

impl ContainerDir {
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.dir.as_fd()
    }

    pub fn read_state(&self) -> Result<State> {
        let fd = match openat(Some(self.dir.as_raw_fd()), STATE_FILE, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => {
                return Err(Error::msg(format!(
                    "container {}: state file is missing (a create was interrupted; delete -f removes it)",
                    self.id
                )))
            }
            Err(e) => return Err(e).context(|| format!("open {}/{STATE_FILE}", self.path.display())),
        };
        // SAFETY: openat returned a fresh fd we own.
        let file = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(&file, MAX_STATE_SIZE), &mut buf)
            .context(|| format!("read {}/{STATE_FILE}", self.path.display()))?;
        crate::spec::from_json(&buf).map_err(|e| {
            Error::msg(format!(
                "container {}: corrupt state file {}/{STATE_FILE}: {e}",
                self.id,
                self.path.display()
            ))
        })
    }

    /// Replaces state.json atomically: a temp file in the same directory, then rename.
    /// No fsync: `--root` is runtime state (tmpfs /run on most hosts) that does not outlive
    /// a reboot, so durability buys nothing and costs milliseconds on disk-backed roots.
    pub fn write_state(&self, state: &State) -> Result<()> {
        let tmp = format!(".{STATE_FILE}.{}", std::process::id());
        let data =
            serde_json::to_vec(state).map_err(|e| Error::msg(format!("encode state: {e}")))?;
        let tmp_path = self.path.join(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp_path)
            .context(|| format!("create {}", tmp_path.display()))?;
        let written = f.write_all(&data);
        drop(f);
        if let Err(e) = written {
            let _ = unlinkat(
                Some(self.dir.as_raw_fd()),
                tmp.as_str(),
                UnlinkatFlags::NoRemoveDir,
            );
            return Err(e).context(|| format!("write {}", tmp_path.display()));
        }
        renameat(
            Some(self.dir.as_raw_fd()),
            tmp.as_str(),
            Some(self.dir.as_raw_fd()),
            STATE_FILE,
        )
        .context(|| format!("rename {} into place", tmp_path.display()))
    }

    pub fn make_exec_fifo(&self) -> Result<()> {
        // 0622: the init may already run as the container's (unprivileged) user when it
        // opens the fifo for writing.
        match mkfifoat(
            Some(self.dir.as_raw_fd()),
            EXEC_FIFO,
            Mode::from_bits_truncate(0o622),
        ) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e).context(|| "create exec fifo".into()),
        }
        // mkfifo honours the umask; the mode must be exact.
        nix::sys::stat::fchmodat(
            Some(self.dir.as_raw_fd()),
            EXEC_FIFO,
            Mode::from_bits_truncate(0o622),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .context(|| "chmod exec fifo".into())
    }

    pub fn has_exec_fifo(&self) -> bool {
        nix::sys::stat::fstatat(
            Some(self.dir.as_raw_fd()),
            EXEC_FIFO,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .is_ok()
    }

    pub fn remove_exec_fifo(&self) -> Result<()> {
        match unlinkat(
            Some(self.dir.as_raw_fd()),
            EXEC_FIFO,
            UnlinkatFlags::NoRemoveDir,
        ) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e).context(|| "remove exec fifo".into()),
        }
    }

    /// Removes the directory and everything in it. Idempotent.
    pub fn remove(self) -> Result<()> {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).context(|| format!("remove {}", self.path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{Phase, State};

    fn sample(id: &str) -> State {
        State {
            id: id.into(),
            phase: Phase::Created,
            pid: 0,
            pid_start_time: 0,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00Z".into(),
            owner: String::new(),
            annotations: Default::default(),
            cgroup: Default::default(),
            shared_pid_ns: false,
            pid_file: None,
            config: Box::default(),
            stdio: Vec::new(),
            no_new_keyring: false,
        }
    }

    #[test]
    fn create_once_then_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(&tmp.path().join("root")).unwrap();
        let dir = store.create("c1").unwrap();
        dir.write_state(&sample("c1")).unwrap();
        assert!(matches!(store.create("c1"), Err(Error::Exists)));
        assert_eq!(store.ids(true).unwrap(), vec!["c1".to_string()]);
        // The lock is per open file: release ours before taking it again.
        let path = dir.path.clone();
        drop(dir);
        let back = store.open("c1").unwrap().read_state().unwrap();
        assert_eq!(back.id, "c1");
        assert_eq!(back.rootfs, PathBuf::from("/b/rootfs"));
        store.open("c1").unwrap().remove().unwrap();
        assert!(!path.exists());
        assert!(matches!(store.open("c1"), Err(Error::NotExist)));
        assert!(store.ids(true).unwrap().is_empty());
    }

    #[test]
    fn corrupt_state_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path()).unwrap();
        let dir = store.create("bad").unwrap();
        std::fs::write(dir.path.join(STATE_FILE), b"{\"id\": tru").unwrap();
        let err = dir.read_state().unwrap_err().to_string();
        assert!(err.contains("corrupt state file"), "{err}");
        std::fs::write(dir.path.join(STATE_FILE), b"").unwrap();
        assert!(dir.read_state().is_err());
    }

    #[test]
    fn bad_ids_never_touch_the_filesystem() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path()).unwrap();
        assert!(matches!(store.create("../x"), Err(Error::InvalidId(..))));
        assert!(matches!(store.open("a/b"), Err(Error::InvalidId(..))));
        assert!(!tmp.path().join("x").exists());
    }

    #[test]
    fn exec_fifo_lifecycle() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path()).unwrap();
        let dir = store.create("f").unwrap();
        assert!(!dir.has_exec_fifo());
        dir.make_exec_fifo().unwrap();
        assert!(dir.has_exec_fifo());
        dir.remove_exec_fifo().unwrap();
        dir.remove_exec_fifo().unwrap();
        assert!(!dir.has_exec_fifo());
    }
}

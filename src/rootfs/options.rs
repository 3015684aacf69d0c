//! Mount options of config.json -> mount(2) flags, propagation, recursive attributes
//! (mount_setattr) and the data string; one table, built at compile time.

use nix::mount::MsFlags;

/// MOUNT_ATTR_* for mount_setattr(2).
pub mod attr {
    pub const RDONLY: u64 = 0x1;
    pub const NOSUID: u64 = 0x2;
    pub const NODEV: u64 = 0x4;
    pub const NOEXEC: u64 = 0x8;
    pub const RELATIME: u64 = 0x0;
    pub const NOATIME: u64 = 0x10;
    pub const STRICTATIME: u64 = 0x20;
    pub const ATIME_MASK: u64 = 0x70;
    pub const NODIRATIME: u64 = 0x80;
    pub const IDMAP: u64 = 0x100000;
    pub const NOSYMFOLLOW: u64 = 0x200000;
}

enum Opt {
    /// (set, clear) of mount(2) flags.
    Flag(MsFlags, MsFlags),
    Propagation(MsFlags),
    /// (set, clear) of recursive mount attributes.
    Recursive(u64, u64),
    IdMap {
        recursive: bool,
    },
    TmpCopyUp,
}

const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

const NONE: MsFlags = MsFlags::empty();

/// The option table: `lookup` and the list of names (`KNOWN`) from one place.
macro_rules! options {
    ($($name:literal => $opt:expr,)*) => {
        fn lookup(name: &str) -> Option<Opt> {
            use Opt::*;
            Some(match name {
                $($name => $opt,)*
                _ => return None,
            })
        }

        /// Every option name, space-separated (one string: no pointers to relocate).
        pub const KNOWN: &str = concat!($($name, " ",)*);
    };
}

options! {
        "defaults" => Flag(NONE, NONE),
        "ro" => Flag(MsFlags::MS_RDONLY, NONE),
        "rw" => Flag(NONE, MsFlags::MS_RDONLY),
        "nosuid" => Flag(MsFlags::MS_NOSUID, NONE),
        "suid" => Flag(NONE, MsFlags::MS_NOSUID),
        "nodev" => Flag(MsFlags::MS_NODEV, NONE),
        "dev" => Flag(NONE, MsFlags::MS_NODEV),
        "noexec" => Flag(MsFlags::MS_NOEXEC, NONE),
        "exec" => Flag(NONE, MsFlags::MS_NOEXEC),
        "sync" => Flag(MsFlags::MS_SYNCHRONOUS, NONE),
        "async" => Flag(NONE, MsFlags::MS_SYNCHRONOUS),
        "dirsync" => Flag(MsFlags::MS_DIRSYNC, NONE),
        "remount" => Flag(MsFlags::MS_REMOUNT, NONE),
        "mand" => Flag(MsFlags::MS_MANDLOCK, NONE),
        "nomand" => Flag(NONE, MsFlags::MS_MANDLOCK),
        "atime" => Flag(NONE, MsFlags::MS_NOATIME),
        "noatime" => Flag(MsFlags::MS_NOATIME, NONE),
        "diratime" => Flag(NONE, MsFlags::MS_NODIRATIME),
        "nodiratime" => Flag(MsFlags::MS_NODIRATIME, NONE),
        "relatime" => Flag(MsFlags::MS_RELATIME, NONE),
        "norelatime" => Flag(NONE, MsFlags::MS_RELATIME),
        "strictatime" => Flag(MsFlags::MS_STRICTATIME, NONE),
        "nostrictatime" => Flag(NONE, MsFlags::MS_STRICTATIME),
        "nosymfollow" => Flag(MS_NOSYMFOLLOW, NONE),
        "symfollow" => Flag(NONE, MS_NOSYMFOLLOW),
        "bind" => Flag(MsFlags::MS_BIND, NONE),
        "rbind" => Flag(MsFlags::MS_BIND | MsFlags::MS_REC, NONE),
        "private" => Propagation(MsFlags::MS_PRIVATE),
        "rprivate" => Propagation(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
        "shared" => Propagation(MsFlags::MS_SHARED),
        "rshared" => Propagation(MsFlags::MS_SHARED | MsFlags::MS_REC),
        "slave" => Propagation(MsFlags::MS_SLAVE),
        "rslave" => Propagation(MsFlags::MS_SLAVE | MsFlags::MS_REC),
        "unbindable" => Propagation(MsFlags::MS_UNBINDABLE),
        "runbindable" => Propagation(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC),
        "rro" => Recursive(attr::RDONLY, 0),
        "rrw" => Recursive(0, attr::RDONLY),
        "rnosuid" => Recursive(attr::NOSUID, 0),
        "rsuid" => Recursive(0, attr::NOSUID),
        "rnodev" => Recursive(attr::NODEV, 0),
        "rdev" => Recursive(0, attr::NODEV),
        "rnoexec" => Recursive(attr::NOEXEC, 0),
        "rexec" => Recursive(0, attr::NOEXEC),
        "rnodiratime" => Recursive(attr::NODIRATIME, 0),
        "rdiratime" => Recursive(0, attr::NODIRATIME),
        "rrelatime" => Recursive(attr::RELATIME, attr::ATIME_MASK),
        "rnorelatime" => Recursive(0, 0),
        "rnoatime" => Recursive(attr::NOATIME, attr::ATIME_MASK),
        "ratime" => Recursive(0, attr::NOATIME),
        "rstrictatime" => Recursive(attr::STRICTATIME, attr::ATIME_MASK),
        "rnosymfollow" => Recursive(attr::NOSYMFOLLOW, 0),
        "rsymfollow" => Recursive(0, attr::NOSYMFOLLOW),
        "idmap" => IdMap { recursive: false },
        "ridmap" => IdMap { recursive: true },
        "tmpcopyup" => TmpCopyUp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: MsFlags,
    /// Flags explicitly cleared (`rw`, `suid`...): matters for remounts.
    pub cleared: MsFlags,
    pub propagation: Vec<MsFlags>,
    pub attr_set: u64,
    pub attr_clr: u64,
    /// `idmap` / `ridmap`: Some(recursive).
    pub idmap: Option<bool>,
    /// runc's extension (copy the directory's content into the new tmpfs): refused by the
    /// plan until it is implemented.
    pub tmpcopyup: bool,
    pub data: Vec<String>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            attr_set: 0,
            attr_clr: 0,
            idmap: None,
            tmpcopyup: false,
            data: Vec::new(),
        }
    }
}

pub fn parse(options: &[String]) -> MountOptions {
    let mut m = MountOptions::default();
    for o in options {
        match lookup(o) {
            Some(Opt::Flag(set, clear)) => {
                m.flags = (m.flags | set) & !clear;
                m.cleared = (m.cleared | clear) & !set;
            }
            Some(Opt::Propagation(p)) => m.propagation.push(p),
            Some(Opt::Recursive(set, clr)) => {
                // atime options clear the whole atime field and set one value.
                m.attr_set = (m.attr_set & !clr) | set;
                m.attr_clr = (m.attr_clr & !set) | clr;
            }
            Some(Opt::IdMap { recursive }) => m.idmap = Some(recursive),
            Some(Opt::TmpCopyUp) => m.tmpcopyup = true,
            None => m.data.push(o.clone()),
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_data_propagation() {
        let m = p(&["nosuid", "strictatime", "mode=755", "size=65536k", "rslave"]);
        assert_eq!(m.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(m.data, ["mode=755", "size=65536k"]);
        assert_eq!(m.propagation, [MsFlags::MS_SLAVE | MsFlags::MS_REC]);
    }

    #[test]
    fn later_options_win() {
        let m = p(&["ro", "rw", "rbind"]);
        assert_eq!(m.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
        assert!(m.cleared.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn recursive_attributes() {
        let m = p(&["rro", "rnosuid", "rnoatime", "ridmap"]);
        assert_eq!(m.attr_set, attr::RDONLY | attr::NOSUID | attr::NOATIME);
        assert_eq!(m.attr_clr, attr::ATIME_MASK);
        assert_eq!(m.idmap, Some(true));
    }
}

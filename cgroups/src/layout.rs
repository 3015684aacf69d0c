//! Which cgroup hierarchies this host has, read from /proc/self/mountinfo, and where the
//! calling process sits in each (/proc/self/cgroup), for paths relative to the caller.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Hierarchy {
    /// Controllers as /proc/self/cgroup names them: `cpu`, `cpu,cpuacct`, `name=systemd`.
    pub name: String,
    pub mount: PathBuf,
    /// The cgroup at the mount's root (mountinfo field 4), usually `/`.
    pub root: PathBuf,
}

#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub v1: Vec<Hierarchy>,
    pub unified: Option<PathBuf>,
    /// (hierarchy name or "" for v2, path) of the calling process.
    own: Vec<(String, String)>,
}

/// `mount` + the part of `cgroup` below `root` + `rel`; `rel` absolute means from the top.
pub(crate) fn join_inside(mount: &Path, own: &str, rel: &str) -> PathBuf {
    let base = if rel.starts_with('/') { "" } else { own };
    let mut dir = mount.to_path_buf();
    for part in base.split('/').chain(rel.split('/')) {
        if !part.is_empty() && part != "." {
            dir.push(part);
        }
    }
    dir
}

impl Hierarchy {
    pub fn dir_for(&self, cgroups_path: &str, own: &str) -> PathBuf {
        // Our own cgroup as seen below this mount's root.
        let own = Path::new(own)
            .strip_prefix(&self.root)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| own.to_string());
        join_inside(&self.mount, &own, cgroups_path)
    }
}

/// A path field of /proc/self/mountinfo, which writes space, tab, newline and backslash
/// as `\ooo` (hull's rootfs code reads the mount table too).
pub fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Layout {
    /// Reads the host's layout.
    pub fn detect() -> std::io::Result<Layout> {
        // One read of the whole file: read_to_string would grow from 32 bytes, a syscall
        // per doubling on a file whose size procfs does not tell.
        let mut mountinfo = String::with_capacity(64 << 10);
        std::io::Read::read_to_string(
            &mut std::fs::File::open("/proc/self/mountinfo")?,
            &mut mountinfo,
        )?;
        let cgroup = std::fs::read_to_string("/proc/self/cgroup")?;
        Ok(Layout::parse(&mountinfo, &cgroup))
    }

    pub fn parse(mountinfo: &str, proc_cgroup: &str) -> Layout {
        let mut layout = Layout::default();
        for line in mountinfo.lines() {
            let Some((pre, post)) = line.split_once(" - ") else {
                continue;
            };
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if pre.len() < 5 || post.len() < 3 {
                continue;
            }
            let (root, mount) = (
                unescape_mountinfo(pre[3]),
                PathBuf::from(unescape_mountinfo(pre[4])),
            );
            match post[0] {
                "cgroup2" if layout.unified.is_none() => layout.unified = Some(mount),
                "cgroup" => {
                    let name = post[2]
                        .split(',')
                        .filter(|o| {
                            !matches!(*o, "rw" | "ro")
                                && (o.starts_with("name=") || !o.contains('='))
                        })
                        .filter(|o| {
                            !matches!(
                                *o,
                                "noprefix"
                                    | "cpuset_v2_mode"
                                    | "xattr"
                                    | "clone_children"
                                    | "favordynmods"
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(",");
                    if !name.is_empty() && !layout.v1.iter().any(|h| h.name == name) {
                        layout.v1.push(Hierarchy {
                            name,
                            mount,
                            root: PathBuf::from(root),
                        });
                    }
                }
                _ => {}
            }
        }
        for line in proc_cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, names, path) = (parts.next(), parts.next(), parts.next());
            if let (Some(names), Some(path)) = (names, path) {
                layout.own.push((names.to_string(), path.to_string()));
            }
        }
        layout
    }

    /// True on a pure cgroup v2 host.
    pub fn is_v2(&self) -> bool {
        self.v1.is_empty() && self.unified.is_some()
    }

    /// The caller's cgroup in hierarchy `name` ("" = unified).
    pub fn own_cgroup(&self, name: &str) -> &str {
        self.own
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.as_str())
            .unwrap_or("/")
    }

    #[doc(hidden)]
    pub fn fake_v1(hierarchies: &[(&str, &Path)]) -> Layout {
        Layout {
            v1: hierarchies
                .iter()
                .map(|(n, m)| Hierarchy {
                    name: n.to_string(),
                    mount: m.to_path_buf(),
                    root: "/".into(),
                })
                .collect(),
            unified: None,
            own: vec![],
        }
    }

    #[doc(hidden)]
    pub fn fake_v2(mount: &Path, own: &str) -> Layout {
        Layout {
            v1: vec![],
            unified: Some(mount.to_path_buf()),
            own: vec![(String::new(), own.to_string())],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn parses_hybrid_host() {
        let l = Layout::parse(HYBRID, "4:memory:/process_api/s1\n0::/\n");
        let names: Vec<_> = l.v1.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["cpu", "cpu,cpuacct", "memory", "name=systemd"]);
        assert_eq!(
            l.unified.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
        assert!(!l.is_v2());
        let mem = &l.v1[2];
        assert_eq!(
            mem.dir_for("/hull/c1", l.own_cgroup("memory")),
            Path::new("/sys/fs/cgroup/memory/hull/c1")
        );
        assert_eq!(
            mem.dir_for("testdir/c", l.own_cgroup("memory")),
            Path::new("/sys/fs/cgroup/memory/process_api/s1/testdir/c")
        );
    }

    #[test]
    fn parses_pure_v2() {
        let l = Layout::parse(
            "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
            "0::/user.slice\n",
        );
        assert!(l.is_v2());
        assert_eq!(
            join_inside(l.unified.as_ref().unwrap(), l.own_cgroup(""), "x/y"),
            Path::new("/sys/fs/cgroup/user.slice/x/y")
        );
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape_mountinfo(r"/a\040b"), "/a b");
    }
}

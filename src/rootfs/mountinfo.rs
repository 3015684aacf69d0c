//! /proc/self/mountinfo, read where the child needs the mount table as it stands.

use hull_cgroups::unescape_mountinfo;
use nix::errno::Errno;

pub struct Mount {
    /// The mounted filesystem's directory shown here (field 4): `/` for a whole one.
    pub root: String,
    pub mount_point: String,
    pub shared: bool,
    pub fstype: String,
}

/// The calling process's mounts, in mount order.
pub fn read() -> Result<Vec<Mount>, Errno> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|_| Errno::EIO)?;
    Ok(text.lines().filter_map(parse_line).collect())
}

fn parse_line(line: &str) -> Option<Mount> {
    let (pre, post) = line.split_once(" - ")?;
    let pre: Vec<&str> = pre.split(' ').collect();
    if pre.len() < 6 {
        return None;
    }
    Some(Mount {
        root: unescape_mountinfo(pre[3]),
        mount_point: unescape_mountinfo(pre[4]),
        shared: pre[6..].iter().any(|x| x.starts_with("shared:")),
        fstype: post.split(' ').next()?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_escapes() {
        let m = parse_line(
            "36 35 98:0 /sub /mnt/a\\040b rw,noatime master:1 shared:7 - ext3 /dev/root rw",
        )
        .unwrap();
        assert_eq!(
            (
                m.root.as_str(),
                m.mount_point.as_str(),
                m.shared,
                m.fstype.as_str()
            ),
            ("/sub", "/mnt/a b", true, "ext3")
        );
        let m = parse_line("22 1 0:21 / /proc rw,nosuid - proc proc rw").unwrap();
        assert!(!m.shared && m.fstype == "proc");
    }
}

//! The container's own /etc/passwd and /etc/group, read from inside its rootfs (no NSS):
//! HOME for the process, and user names for `list`.

/// HOME of `uid` in a passwd file's text; "/" when the user is not listed (as runc).
pub fn home_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

/// Name of `uid`, for `list`'s OWNER column.
pub fn name_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 3 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[0].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n# comment\nbroken\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

    #[test]
    fn finds_home_and_name() {
        assert_eq!(home_of(PASSWD, 0).as_deref(), Some("/root"));
        assert_eq!(home_of(PASSWD, 65534).as_deref(), Some("/nonexistent"));
        assert_eq!(home_of(PASSWD, 1000), None);
        assert_eq!(name_of(PASSWD, 0).as_deref(), Some("root"));
    }
}

//! Container ids become path components under `--root`, so they are checked before any
//! path is built from them.

use crate::error::{Error, Result};

/// Longest id accepted: one path component (NAME_MAX).
pub const MAX_ID_LEN: usize = 255;

/// runc's rule: letters, digits and `_ + - .`, not `.` or `..`.
pub fn validate(id: &str) -> Result<()> {
    let bad = |why| Err(Error::InvalidId(id.to_string(), why));
    if id.is_empty() {
        return bad("empty");
    }
    if id.len() > MAX_ID_LEN {
        return bad("longer than 255 bytes");
    }
    if id == "." || id == ".." {
        return bad("must not be . or ..");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'))
    {
        return bad("only letters, digits, '_', '+', '-' and '.' are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_runc_ids() {
        for id in ["c1", "a.b-c_d+e", &"f".repeat(64), "..a", "A9"] {
            assert!(validate(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn rejects_paths_and_junk() {
        let long = "x".repeat(256);
        for id in [
            "", ".", "..", "a/b", "../x", "a\nb", "a b", "é", "a\0b", &long,
        ] {
            assert!(validate(id).is_err(), "{id:?}");
        }
    }
}

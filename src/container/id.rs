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
        for id in [
            "c1",
            "a.b-c_d+e",
            &"f".repeat(64),
            "..a",
            "a..",
            ".a",
            "...",
            "A9",
            "-",
            "+",
        ] {
            assert!(validate(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn length_bound_is_one_path_component() {
        assert!(validate(&"a".repeat(255)).is_ok());
        let e = validate(&"a".repeat(256)).unwrap_err().to_string();
        assert!(e.contains("longer than 255 bytes"), "{e}");
        // Bytes, not characters: a multi-byte id is refused for its characters anyway.
        assert!(validate(&"é".repeat(128)).is_err());
    }

    #[test]
    fn errors_are_one_line_and_quote_the_id() {
        for id in [
            "a\nb",
            "a\rb",
            "a\0b",
            "\n",
            "../../etc",
            "/abs",
            "a/",
            "/",
            "./a",
            "a/..",
            "..",
            "",
            "\u{7f}",
            "a\tb",
            "a\u{202e}b",
            "a;b",
            "$(x)",
        ] {
            let e = validate(id).unwrap_err().to_string();
            assert!(!e.contains(['\n', '\r', '\0']), "{id:?}: {e:?}");
            assert!(e.starts_with("invalid container id "), "{id:?}: {e}");
        }
        let e = validate(&"\n".repeat(300)).unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
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

//! One error type for the binary. Every error says what was being done and to what; the
//! texts of the container-state errors are runc's, because containerd and podman match them.

use nix::errno::Errno;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container does not exist")]
    NotExist,
    #[error("container with given ID already exists")]
    Exists,
    #[error("container not running")]
    NotRunning,
    #[error("invalid container id {0:?}: {1}")]
    InvalidId(String, &'static str),
    /// A condition with its own complete message (bad config, wrong state, ...).
    #[error("{0}")]
    Msg(String),
    #[error("{context}: {}", errno_text(*errno))]
    Sys { context: String, errno: Errno },
    #[error("{context}: {}", io_text(source))]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", cgroup_text(.0))]
    Cgroup(#[from] hull_cgroups::Error),
    #[error(transparent)]
    Seccomp(#[from] hull_seccomp::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// An errno as Go prints it ("no such file or directory"): podman and containerd match
/// these lower-case phrases.
pub fn errno_text(e: Errno) -> String {
    io_text(&std::io::Error::from_raw_os_error(e as i32))
}

/// An I/O error in the same words: the C library's text in lower case, without Rust's
/// "(os error N)".
fn io_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match e.raw_os_error() {
        Some(n) => text
            .trim_end_matches(&format!(" (os error {n})"))
            .to_string(),
        None => text,
    };
    let mut c = text.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => text,
    }
}

fn cgroup_text(e: &hull_cgroups::Error) -> String {
    match e {
        hull_cgroups::Error::Io { op, path, source } => {
            format!("{op} {}: {}", path.display(), io_text(source))
        }
        e => e.to_string(),
    }
}

impl Error {
    pub fn msg(m: impl Into<String>) -> Self {
        Error::Msg(m.into())
    }
}

/// The longest message [`one_line`] keeps (a 64 KiB value quoted in full helps nobody).
pub const MAX_MESSAGE: usize = 1024;

/// `s` as one line of at most [`MAX_MESSAGE`] bytes: control characters (a newline in a
/// JSON string, a path) are escaped, the rest is cut with "...".
pub fn one_line(s: &str) -> String {
    escaped(s, MAX_MESSAGE)
}

/// A value from the config shown in a message without quotes (a mount's destination):
/// control characters escaped, cut short.
pub fn shown(s: &str) -> String {
    escaped(s, 96)
}

/// `s` with control characters escaped, cut with "..." once `max` bytes are out.
fn escaped(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max + 8));
    for c in s.chars() {
        if out.len() >= max {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A value from the config quoted for a message: escaped as `{:?}` does, and cut short.
pub fn quote(s: impl std::fmt::Debug) -> String {
    let q = format!("{s:?}");
    if q.len() <= 80 {
        return q;
    }
    let mut end = 72;
    while !q.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...\"({} bytes)", &q[..end], q.len())
}

/// Adds "what was being done" to low-level errors.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, Errno> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|errno| Error::Sys {
            context: what(),
            errno,
        })
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: what(),
            source,
        })
    }
}

/// `bail!("...")` returns an `Error::Msg` built with `format!`.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::error::Error::Msg(format!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_stay_on_one_short_line() {
        assert_eq!(one_line("a\nb\r\0c"), "a\\nb\\r\\u{0}c");
        let long = one_line(&"é".repeat(5000));
        assert!(long.len() <= MAX_MESSAGE + 8 && long.ends_with("..."));
        assert_eq!(quote("a\nb"), "\"a\\nb\"");
        let q = quote("x".repeat(70000));
        assert!(q.len() < 100 && q.ends_with("(70002 bytes)"), "{q}");
        assert!(quote("é".repeat(100)).len() < 100);
    }
}

//! Signal names and numbers as `kill` accepts them: `KILL`, `SIGKILL`, `9`, and the
//! real-time forms `RTMIN+3` / `SIGRTMAX-1`.

use nix::sys::signal::Signal;

use crate::error::{Error, Result};

fn by_name(name: &str) -> Option<i32> {
    let n = name.to_ascii_uppercase();
    let n = n.strip_prefix("SIG").unwrap_or(&n);
    if let Some(rt) = n.strip_prefix("RTMIN") {
        let off: i32 = if rt.is_empty() {
            0
        } else {
            rt.strip_prefix('+')?.parse().ok()?
        };
        let s = libc::SIGRTMIN() + off;
        return (off >= 0 && s <= libc::SIGRTMAX()).then_some(s);
    }
    if let Some(rt) = n.strip_prefix("RTMAX") {
        let off: i32 = if rt.is_empty() {
            0
        } else {
            rt.strip_prefix('-')?.parse().ok()?
        };
        let s = libc::SIGRTMAX() - off;
        return (off >= 0 && s >= libc::SIGRTMIN()).then_some(s);
    }
    let full = format!("SIG{n}");
    Signal::iterator()
        .find(|s| s.as_str() == full)
        .map(|s| s as i32)
}

/// Parses a signal as given on the command line.
pub fn parse(text: &str) -> Result<i32> {
    let sig = match text.parse::<i32>() {
        // 0 checks that the init exists, as kill(2) does.
        Ok(n) => (0..=libc::SIGRTMAX()).contains(&n).then_some(n),
        Err(_) => by_name(text),
    };
    sig.ok_or_else(|| Error::msg(format!("unknown signal {text:?}")))
}

/// The C library's description, first letter lowered as Go words them: "bad system
/// call", "killed", but "CPU time limit exceeded".
pub fn description(sig: i32) -> String {
    // SAFETY: strsignal returns a valid C string; hull is single-threaded.
    let text = unsafe { std::ffi::CStr::from_ptr(libc::strsignal(sig)) }.to_string_lossy();
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if second.is_ascii_lowercase() => {
            format!("{}{}", first.to_ascii_lowercase(), &text[1..])
        }
        _ => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn names_numbers_and_realtime() {
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("KILL").unwrap(), libc::SIGKILL);
        assert_eq!(parse("SIGTERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse("sigusr1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse("RTMIN").unwrap(), libc::SIGRTMIN());
        assert_eq!(parse("SIGRTMIN+2").unwrap(), libc::SIGRTMIN() + 2);
        assert_eq!(parse("RTMAX-1").unwrap(), libc::SIGRTMAX() - 1);
        assert_eq!(parse("64").unwrap(), 64);
        assert_eq!(parse("0").unwrap(), 0, "existence check");
    }

    #[test]
    fn descriptions_read_as_gos() {
        use super::description;
        assert_eq!(description(libc::SIGSYS), "bad system call");
        assert_eq!(description(libc::SIGKILL), "killed");
        assert_eq!(description(libc::SIGXCPU), "CPU time limit exceeded");
        assert_eq!(description(libc::SIGIO), "I/O possible");
    }

    #[test]
    fn rejects_unknown() {
        for s in ["", "65", "-1", "SIGFOO", "RTMIN+99", "RTMIN-1", "9x"] {
            assert!(parse(s).is_err(), "{s}");
        }
    }
}

//! The `--log` file and `--debug`, in runc's formats: containerd keeps the last
//! `{"level":"error","msg":...,"time":...}` line of its log.json, podman parses its oci-log
//! file as one JSON object, so every failure writes exactly one line.

use std::fs::File;
use std::io::Write;
use std::sync::OnceLock;

use crate::timefmt::now_rfc3339;

struct Logger {
    file: Option<File>,
    json: bool,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Opens the log file (append, created 0644) once at start. Without `--log`, messages
/// go to stderr as runc's do.
pub fn init(path: Option<&std::path::Path>, json: bool, debug: bool) -> std::io::Result<()> {
    let file = match path {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        ),
        None => None,
    };
    let _ = LOGGER.set(Logger { file, json, debug });
    Ok(())
}

/// The `--log` file's descriptor, which a waiting init keeps.
pub fn log_fd() -> Option<std::os::fd::RawFd> {
    use std::os::fd::AsRawFd;
    LOGGER.get()?.file.as_ref().map(|f| f.as_raw_fd())
}

pub fn debug_enabled() -> bool {
    LOGGER.get().is_some_and(|l| l.debug)
}

fn line(level: &str, msg: &str, json: bool) -> String {
    let time = now_rfc3339(false);
    if json {
        let v = serde_json::json!({ "level": level, "msg": msg, "time": time });
        format!("{v}\n")
    } else {
        format!("time={time:?} level={level} msg={msg:?}\n")
    }
}

fn write(level: &str, msg: &str) {
    let Some(l) = LOGGER.get() else { return };
    let text = line(level, msg, l.json);
    match &l.file {
        // One write call per line: the file is shared with the shim and other hull processes.
        Some(f) => {
            let _ = (&*f).write_all(text.as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }
}

/// Only the log file gets the error line; `main` prints the plain message to stderr.
pub fn error(msg: &str) {
    if LOGGER.get().is_some_and(|l| l.file.is_some()) {
        write("error", msg);
    }
}

pub fn warn(msg: &str) {
    write("warning", msg);
}

pub fn debug(msg: &str) {
    if debug_enabled() {
        write("debug", msg);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_line_has_runc_fields_in_order() {
        let l = super::line("error", "container \"x\" does not exist", true);
        assert!(
            l.starts_with(r#"{"level":"error","msg":"container \"x\" does not exist","time":""#)
        );
        assert!(l.ends_with("Z\"}\n"));
    }
}

//! OCI hooks: run with the container state on stdin, their own args and env, and an
//! optional timeout. Output is captured for the error message.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::Hook;

use crate::error::{Error, Result};

/// The hooks of the spec, in the order a container meets them.
pub const NAMES: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

const MAX_OUTPUT: usize = 64 << 10;

/// Reads what is there; false at end of file.
fn drain<R: Read>(pipe: &mut Option<R>, buf: &mut Vec<u8>) -> bool {
    let Some(p) = pipe else { return false };
    let mut chunk = [0u8; 4096];
    match p.read(&mut chunk) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            if buf.len() < MAX_OUTPUT {
                buf.extend_from_slice(&chunk[..n]);
            }
            true
        }
    }
}

/// When a hook with `timeout` seconds must be done. A timeout too large for the clock
/// (i64::MAX seconds) is no deadline rather than an overflow.
pub fn deadline(timeout: Option<i64>) -> Option<Instant> {
    let secs = u64::try_from(timeout?).ok().filter(|t| *t > 0)?;
    Instant::now().checked_add(Duration::from_secs(secs))
}

/// How runc (Go) describes a process's end: "exit status 1", "signal: bad system call".
fn status_text(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    let mut text = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("signal: {}", crate::signal::description(sig)),
        _ => status.to_string(),
    };
    if status.core_dumped() {
        text.push_str(" (core dumped)");
    }
    text
}

fn run_one(kind: &str, i: usize, hook: &Hook, state: &[u8]) -> Result<()> {
    // runc's words, which its users and suite match on.
    let fail = |why: String| Error::msg(format!("error running {kind} hook #{i}: {why}"));
    let args = hook.args().clone().unwrap_or_default();
    let mut cmd = Command::new(hook.path());
    if let Some(a0) = args.first() {
        cmd.arg0(a0);
    }
    cmd.args(args.iter().skip(1))
        .env_clear()
        .envs(
            hook.env()
                .iter()
                .flatten()
                .filter_map(|e| e.split_once('=')),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state);
    }
    let deadline = deadline(hook.timeout());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    // Drain both pipes until they close (or the deadline passes), then reap.
    while stdout.is_some() || stderr.is_some() {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(fail(format!(
                        "timed out after {}s",
                        hook.timeout().unwrap_or(0)
                    )));
                }
                PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = Vec::new();
        if let Some(s) = &stdout {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
        }
        if let Some(s) = &stderr {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, timeout) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(fail(format!("poll: {e}"))),
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let mut idx = 0;
        if stdout.is_some() {
            if ready[idx] && !drain(&mut stdout, &mut out) {
                stdout = None;
            }
            idx += 1;
        }
        if stderr.is_some() && ready[idx] && !drain(&mut stderr, &mut err) {
            stderr = None;
        }
    }
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| fail(e.to_string()))? {
            break s;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!(
                "timed out after {}s",
                hook.timeout().unwrap_or(0)
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    if !status.success() {
        return Err(fail(format!(
            "{}, stdout: {}, stderr: {}",
            status_text(status),
            String::from_utf8_lossy(&out).trim(),
            String::from_utf8_lossy(&err).trim()
        )));
    }
    Ok(())
}

/// Runs `hooks` in order; the first failure stops the rest.
pub fn run(kind: &str, hooks: &Option<Vec<Hook>>, state: &[u8]) -> Result<()> {
    for (i, h) in hooks.iter().flatten().enumerate() {
        run_one(kind, i, h, state)?;
    }
    Ok(())
}

/// startContainer hooks run in the container as its process would: one without an `env`
/// of its own gets the process's environment (HOME filled in), as in runc.
pub fn with_start_env(
    hooks: &Option<oci_spec::runtime::Hooks>,
    env: &[std::ffi::CString],
) -> Option<oci_spec::runtime::Hooks> {
    let mut hooks = hooks.clone()?;
    let env: Vec<String> = env
        .iter()
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    let mut start = hooks.start_container().clone();
    for h in start.iter_mut().flatten() {
        if h.env().as_ref().is_none_or(|e| e.is_empty()) {
            h.set_env(Some(env.clone()));
        }
    }
    hooks.set_start_container(start);
    Some(hooks)
}

/// Runs every hook even if some fail (poststart, poststop: the spec says warn and go on).
pub fn run_warn(kind: &str, hooks: &Option<Vec<Hook>>, state: &[u8]) {
    for (i, h) in hooks.iter().flatten().enumerate() {
        if let Err(e) = run_one(kind, i, h, state) {
            crate::logging::warn(&e.to_string());
            eprintln!("hull: warning: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_timeouts_do_not_overflow_the_clock() {
        assert!(deadline(Some(i64::MAX)).is_none());
        assert!(deadline(Some(u64::MAX as i64)).is_none());
        assert!(deadline(Some(0)).is_none() && deadline(None).is_none());
        assert!(deadline(Some(5)).is_some());
    }

    fn hook(v: serde_json::Value) -> Option<Vec<Hook>> {
        Some(vec![serde_json::from_value(v).unwrap()])
    }

    #[test]
    fn state_on_stdin_and_env() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let h = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}; echo \" $X\" >> {}", out.display(), out.display())], "env": ["X=y"]}),
        );
        run("prestart", &h, b"{\"id\":\"c\"}").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"id\":\"c\"} y\n");
    }

    #[test]
    fn failure_and_timeout_are_errors() {
        let h = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "echo oops >&2; exit 3"]}),
        );
        let e = run("createRuntime", &h, b"{}").unwrap_err().to_string();
        assert!(
            e.contains("createRuntime hook #0") && e.contains("oops") && e.contains('3'),
            "{e}"
        );
        let h =
            hook(serde_json::json!({"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}));
        let t = Instant::now();
        let e = run("prestart", &h, b"{}").unwrap_err().to_string();
        assert!(e.contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(4));
        let h = hook(serde_json::json!({"path": "/no/such/hook"}));
        assert!(run("prestart", &h, b"{}").is_err());
    }
}

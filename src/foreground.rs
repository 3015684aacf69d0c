//! A foreground `run` or `exec`: hull stays with its process, forwards the signals it gets,
//! relays the terminal when it made one, reaps, and exits with the process's status.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Context, Result};
use crate::terminal;

/// The signals hull forwards, blocked from before the process exists so none is lost.
pub struct Foreground {
    mask: SigSet,
}

impl Foreground {
    pub fn block() -> Result<Foreground> {
        let mut mask = SigSet::all();
        for s in [
            Signal::SIGKILL,
            Signal::SIGSTOP,
            Signal::SIGSEGV,
            Signal::SIGBUS,
            Signal::SIGILL,
            Signal::SIGFPE,
        ] {
            mask.remove(s);
        }
        mask.thread_set_mask().context(|| "block signals".into())?;
        Ok(Foreground { mask })
    }

    /// Waits for `pid` and returns its exit code (128 + signal when killed), relaying
    /// `console` (a pty master) to our stdin and stdout meanwhile. As a subreaper, reaps
    /// orphans too.
    pub fn wait(self, pid: i32, console: Option<OwnedFd>) -> Result<i32> {
        let sfd = SignalFd::with_flags(&self.mask, SfdFlags::SFD_CLOEXEC)
            .context(|| "signalfd".into())?;
        let stdin = std::io::stdin();
        let stdout = std::io::stdout();
        let _raw = console
            .as_ref()
            .and_then(|_| terminal::RawMode::enter(stdin.as_fd()));
        if let Some(m) = &console {
            if let Some(size) = terminal::get_size(stdin.as_fd()) {
                let _ = terminal::set_size(m.as_fd(), size);
            }
        }
        let mut stdin_open = console.is_some();
        let mut master_open = console.is_some();
        loop {
            if let Some(code) = reap(pid) {
                if let Some(m) = console.as_ref().filter(|_| master_open) {
                    drain(m.as_fd(), &stdout);
                }
                return Ok(code);
            }
            let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
            if let Some(m) = console.as_ref().filter(|_| master_open) {
                fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
                if stdin_open {
                    fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
                }
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => r.context(|| "poll".into())?,
            };
            let ready: Vec<bool> = fds
                .iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect();
            if ready.get(1) == Some(&true) {
                if let Some(m) = &console {
                    master_open = terminal::pump(m.as_fd(), &stdout);
                }
            }
            if ready.get(2) == Some(&true) {
                if let Some(m) = &console {
                    stdin_open = terminal::pump(stdin.as_fd(), m);
                }
            }
            if ready[0] {
                if let Ok(Some(info)) = sfd.read_signal() {
                    let sig = info.ssi_signo as i32;
                    if sig == libc::SIGWINCH {
                        if let (Some(m), Some(size)) = (&console, terminal::get_size(stdin.as_fd()))
                        {
                            let _ = terminal::set_size(m.as_fd(), size);
                        }
                    } else if sig != libc::SIGCHLD {
                        // SAFETY: plain kill.
                        unsafe { libc::kill(pid, sig) };
                    }
                }
            }
        }
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ =
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    }
}

/// Reaps every exited child; Some(code) once `pid` is among them.
fn reap(pid: i32) -> Option<i32> {
    let child = Pid::from_raw(pid);
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)) {
            Ok(WaitStatus::Exited(p, code)) if p == child => return Some(code),
            Ok(WaitStatus::Signaled(p, sig, _)) if p == child => return Some(128 + sig as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// What the process wrote before it exited is still in the pty: copy it out without
/// blocking (a process left in the container may hold the terminal open).
fn drain(master: BorrowedFd<'_>, out: &std::io::Stdout) {
    let _ = nix::fcntl::fcntl(
        master.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    while terminal::pump(master, out) {}
}

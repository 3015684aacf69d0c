//! `run`: create + start in one, then (unless detached) wait for the container, forward
//! signals to it, exit with its status and delete it.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::cli::RunArgs;
use crate::container::{lifecycle, Store};
use crate::error::{Context, Result};

/// Waits for `pid`, forwarding every signal we receive; returns its exit code
/// (128 + signal when killed). As a subreaper, reaps orphans too.
fn wait_forwarding(pid: i32, mask: &SigSet) -> Result<i32> {
    let child = Pid::from_raw(pid);
    loop {
        // Reap first: the child may have exited before SIGCHLD was blocked.
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)) {
                Ok(WaitStatus::Exited(p, code)) if p == child => return Ok(code),
                Ok(WaitStatus::Signaled(p, sig, _)) if p == child => return Ok(128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        let sig = mask.wait().context(|| "wait for signals".into())?;
        if sig != Signal::SIGCHLD {
            let _ = nix::sys::signal::kill(child, sig);
        }
    }
}

pub fn run(store: &Store, a: &RunArgs) -> Result<i32> {
    let c = &a.create;
    if !a.detach && !a.no_subreaper {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1u64, 0u64, 0u64, 0u64) };
    }
    // Block the signals we forward before the container exists, so none is lost.
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
    if !a.detach {
        mask.thread_set_mask().context(|| "block signals".into())?;
    }
    let created = lifecycle::create(store, &super::create::opts(c, false));
    let (dir, state, pid) = match created {
        Ok(x) => x,
        Err(e) => {
            let _ = nix::sys::signal::sigprocmask(
                SigmaskHow::SIG_SETMASK,
                Some(&SigSet::empty()),
                None,
            );
            return Err(e);
        }
    };
    crate::hooks::run_warn(
        "poststart",
        state
            .config
            .hooks()
            .as_ref()
            .map_or(&None, |h| h.poststart()),
        &serde_json::to_vec(&state.to_oci_json(crate::container::Status::Running))
            .unwrap_or_default(),
    );
    drop(dir); // release the lock: the container lives on its own now
    if a.detach {
        return Ok(0);
    }
    let code = wait_forwarding(pid, &mask)?;
    if !a.keep {
        lifecycle::delete(store, &c.id, true)?;
    }
    Ok(code)
}

use crate::cli::KillArgs;
use crate::container::{lifecycle, Status, Store};
use crate::error::{Error, Result};

/// runc's order: the container must exist, then the signal must parse; a stopped
/// container is refused unless every process is meant (SIGKILL with a shared pid
/// namespace, whose processes outlive the init, or `--all`).
pub fn run(store: &Store, a: &KillArgs) -> Result<i32> {
    let dir = store.open(&a.id)?;
    let sig = crate::signal::parse(&a.signal)?;
    let state = dir.read_state()?;
    let every_process = a.all || (sig == libc::SIGKILL && state.shared_pid_ns);
    let r = match state.status(&dir) {
        Status::Creating => Err(Error::NotRunning),
        Status::Stopped if !every_process => Err(Error::NotRunning),
        _ => lifecycle::signal(&state, sig, a.all),
    };
    match r {
        // Nothing left to signal is what `--all` asked for.
        Err(Error::NotRunning) if a.all => Ok(0),
        r => r.map(|()| 0),
    }
}

use crate::cli::KillArgs;
use crate::container::{lifecycle, Status, Store};
use crate::error::{Error, Result};

pub fn run(store: &Store, a: &KillArgs) -> Result<i32> {
    let sig = crate::signal::parse(&a.signal)?;
    let dir = store.open(&a.id)?;
    let state = dir.read_state()?;
    if matches!(state.status(&dir), Status::Stopped | Status::Creating) {
        return Err(Error::NotRunning);
    }
    lifecycle::signal(&state, sig, a.all)?;
    Ok(0)
}

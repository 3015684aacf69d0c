//! `run`: create + start in one, then (unless detached) wait for the container, forward
//! signals to it, relay its terminal, exit with its status and delete it.

use crate::cli::RunArgs;
use crate::container::{lifecycle, Store};
use crate::error::Result;
use crate::foreground::Foreground;

pub fn run(store: &Store, a: &RunArgs, cgroups: crate::cli::CgroupDriver) -> Result<i32> {
    let c = &a.create;
    if !a.detach && !a.no_subreaper {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1u64, 0u64, 0u64, 0u64) };
    }
    let fg = if a.detach {
        None
    } else {
        Some(Foreground::block()?)
    };
    let created = lifecycle::create(store, &super::create::opts(c, false, a.detach, cgroups))?;
    if let Err(e) = lifecycle::poststart(&created.state) {
        drop(created.dir);
        let _ = lifecycle::delete(store, &c.id, true);
        return Err(e);
    }
    drop(created.dir); // release the lock: the container lives on its own now
    let Some(fg) = fg else { return Ok(0) };
    let code = fg.wait(created.pid, created.console)?;
    if !a.keep {
        lifecycle::delete_after_run(store, &c.id)?;
    }
    Ok(code)
}

use crate::cli::{CgroupDriver, CreateArgs};
use crate::container::lifecycle::{self, CreateOpts};
use crate::container::Store;
use crate::error::Result;

pub fn opts(
    a: &CreateArgs,
    wait_for_start: bool,
    detach: bool,
    cgroups: CgroupDriver,
) -> CreateOpts<'_> {
    CreateOpts {
        id: &a.id,
        bundle: &a.bundle,
        pid_file: a.pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        pidfd_socket: a.pidfd_socket.as_deref(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        wait_for_start,
        detach,
        cgroups,
    }
}

pub fn run(store: &Store, a: &CreateArgs, cgroups: CgroupDriver) -> Result<i32> {
    lifecycle::create(store, &opts(a, true, true, cgroups))?;
    Ok(0)
}

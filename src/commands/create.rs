use crate::cli::CreateArgs;
use crate::container::lifecycle::{self, CreateOpts};
use crate::container::Store;
use crate::error::Result;

pub fn opts(a: &CreateArgs, wait_for_start: bool, detach: bool, systemd: bool) -> CreateOpts<'_> {
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
        systemd_cgroup: systemd,
    }
}

pub fn run(store: &Store, a: &CreateArgs, systemd: bool) -> Result<i32> {
    lifecycle::create(store, &opts(a, true, true, systemd))?;
    Ok(0)
}

//! OCI `linux.seccomp` -> BPF, for hull. The compiler lands with its own issue; until
//! then a profile is refused with a clear error rather than silently not applied.

use oci_spec::runtime::LinuxSeccomp;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("seccomp: {0}")]
    Unsupported(String),
}

/// A compiled filter, ready for `seccomp(SECCOMP_SET_MODE_FILTER)`.
#[derive(Debug, Clone)]
pub struct Program {
    pub filter: Vec<libc::sock_filter>,
}

pub fn compile(_profile: &LinuxSeccomp) -> Result<Program, Error> {
    Err(Error::Unsupported(
        "linux.seccomp profiles are not supported by this build yet".into(),
    ))
}

//! Running without root, as runc's rootless mode: where the state lives, and whether the
//! container may do without the cgroups its caller cannot make.

use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};

/// We run in a user namespace other than the host's (whose uid_map maps every id to
/// itself).
pub fn in_user_ns() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
}

/// The default state root when `$XDG_RUNTIME_DIR` is to be honoured (runc's rule: set,
/// and the caller is not root, or is root of a user namespace and not `USER=root`).
fn xdg_state_root() -> Option<PathBuf> {
    let dir = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty())?;
    let honour = !nix::unistd::geteuid().is_root()
        || (in_user_ns() && std::env::var("USER").map_or(true, |u| u != "root"));
    honour.then(|| PathBuf::from(dir).join("hull"))
}

/// The state root: `--root`, else `$XDG_RUNTIME_DIR/hull` for a rootless caller (made
/// private, as runc makes it), else /run/hull. Not root, with neither: there is no state
/// root of the caller's (/run/hull is root's), said before anything is tried by a command
/// that `keeps_state`.
pub fn state_root(given: Option<&Path>, keeps_state: bool) -> Result<PathBuf> {
    if let Some(root) = given {
        return Ok(root.to_path_buf());
    }
    if let Some(xdg) = xdg_state_root() {
        make_xdg_root(&xdg)?;
        return Ok(xdg);
    }
    if keeps_state && !nix::unistd::geteuid().is_root() {
        return Err(Error::msg(
            "rootless: XDG_RUNTIME_DIR is not set: the state of a rootless container goes to \
             $XDG_RUNTIME_DIR/hull (or give --root)",
        ));
    }
    Ok(crate::cli::DEFAULT_ROOT.into())
}

/// Makes the XDG state root private to its user (0700, sticky so that the directory is
/// not cleaned up as stale, as the XDG spec and runc have it).
fn make_xdg_root(root: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .context(|| format!("create state root {}", root.display()))?;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o1700))
        .context(|| format!("chmod state root {}", root.display()))
}

/// `--rootless`: whether cgroups the caller may not make are left out instead of failing
/// the container (only without a `cgroupsPath` and without limits for them, as runc).
/// `auto`: when not root, or root of a user namespace with the cgroupfs driver (with
/// systemd, runc asks the bus's owner; hull takes a root bus as root's).
pub fn rootless_cgroups(flag: &str, systemd: bool) -> Result<bool> {
    match flag {
        "true" => Ok(true),
        "false" => Ok(false),
        "auto" | "" => Ok(!nix::unistd::geteuid().is_root() || (in_user_ns() && !systemd)),
        other => Err(Error::msg(format!(
            "invalid --rootless value {other:?}: true, false or auto"
        ))),
    }
}

//! `checkpoint`: CRIU dumps the container's process tree into the image directory; the
//! container is then gone (as with runc) unless `--leave-running` or `--pre-dump`.

use super::{common_opts, external_mounts, rpc, with_log, Dirs, Passed};
use crate::cli::CheckpointArgs;
use crate::container::{lifecycle, Status, Store};
use crate::error::{Context, Error, Result};
use std::path::Path;

/// The file CRIU's dump leaves in the state dir once the processes are dumped (`post-dump`),
/// removed by the restore that brings them back.
pub const MARKER: &str = "checkpoint";

/// The image file naming the container's stdio, for a restore to reconnect pipes.
pub const DESCRIPTORS: &str = "descriptors.json";

pub fn checkpoint(store: &Store, a: &CheckpointArgs, criu: &Path) -> Result<()> {
    let dir = store.open(&a.id)?;
    let state = dir.read_state()?;
    match state.status(&dir) {
        Status::Running | Status::Paused => {}
        s => {
            return Err(Error::msg(format!(
                "Container cannot be checkpointed in {s} state"
            )))
        }
    }
    let dirs = Dirs::open(&a.criu)?;
    if let Some(parent) = &a.parent_path {
        check_parent(&dirs.images_path, parent)?;
    }
    let page_server = a.page_server.as_deref().map(page_server).transpose()?;
    let status_fd = match (a.criu.lazy_pages, a.status_fd) {
        (true, fd) if fd >= 0 => Some(writable_fd(fd)?),
        _ => None,
    };
    let log_file = "dump.log";
    let mut opts = common_opts(&a.criu, &dirs, log_file)?;
    let plan = super::plan_of(&state)?;
    opts.pid = Some(state.pid);
    opts.config_file = super::config_file(&state.config);
    opts.root = Some(state.rootfs.to_string_lossy().into_owned());
    opts.leave_running = Some(a.leave_running);
    opts.tcp_skip_in_flight = Some(a.tcp_skip_in_flight);
    opts.link_remap = Some(a.link_remap);
    opts.ps = page_server;
    opts.external = super::external_namespaces(&state.config)?;
    // The freezer stops every task at once; without it CRIU seizes them one by one.
    opts.freeze_cgroup = state
        .cgroup
        .controller_dir("freezer")
        .map(|d| d.to_string_lossy().into_owned());
    if let Some(parent) = &a.parent_path {
        opts.parent_img = Some(parent.to_string_lossy().into_owned());
        opts.track_mem = Some(true);
    }
    let kind = if a.pre_dump {
        rpc::ReqType::PreDump
    } else {
        rpc::ReqType::Dump
    };
    if !a.pre_dump {
        for m in external_mounts(&plan, Some(state.pid)) {
            opts.ext_mnt.push(rpc::ExtMountMap {
                key: m.dest,
                val: m.name,
            });
        }
        write_descriptors(&dirs, &state.stdio)?;
    }

    let log = dirs.log_dir.join(log_file);
    let swrk = super::start_checked(criu, &state.config, Passed::default())?;
    let want = rpc::Features {
        mem_track: a.pre_dump.then_some(true),
        lazy_pages: a.criu.lazy_pages.then_some(true),
        ..Default::default()
    };
    if a.pre_dump || a.criu.lazy_pages {
        super::require_features(&swrk, want)?;
    }
    let req = rpc::Req {
        r#type: kind as i32,
        opts: Some(opts),
        ..Default::default()
    };
    let mut status_fd = status_fd;
    let marker = dir.path.join(MARKER);
    // Lazy pages: once the page server is up the dump waits for a restore elsewhere to
    // take the memory, as long as that takes; the container is not held meanwhile (runc
    // holds no lock either), so that `delete` of a container nobody restores still works.
    let mut held = Some(dir);
    swrk.call(&req, |script, _, _| {
        match script {
            "post-dump" => {
                std::fs::File::create(&marker)
                    .context(|| format!("create {}", marker.display()))?;
            }
            // Lazy pages: the page server is up; whoever waits on --status-fd may restore.
            "status-ready" => {
                if let Some(fd) = status_fd.take() {
                    let _ = nix::unistd::write(&fd, b"\0");
                }
                held = None;
            }
            _ => {}
        }
        Ok(())
    })
    .map_err(|e| with_log(e, &log))?;
    // A pre-dump leaves CRIU waiting for the next request: its failing exit is expected.
    if !swrk.finish()? && !a.pre_dump {
        return Err(with_log(Error::msg("criu failed"), &log));
    }
    let dir = match held {
        Some(d) => d,
        None => match store.open(&a.id) {
            // The same container, not one made under its id since.
            Ok(d)
                if d.read_state()
                    .is_ok_and(|s| s.pid == state.pid && s.created == state.created) =>
            {
                d
            }
            Ok(_) => return Ok(()),
            // Deleted while the pages were served: nothing left to remove.
            Err(Error::NotExist) => return Ok(()),
            Err(e) => return Err(e),
        },
    };
    if !a.leave_running && !a.pre_dump {
        if let Err(e) = lifecycle::destroy_dumped(dir, &state) {
            crate::logging::warn(&format!("remove checkpointed container: {e}"));
        }
    }
    Ok(())
}

/// `--parent-path`: relative to the image dir, and there.
fn check_parent(images: &Path, parent: &Path) -> Result<()> {
    if parent.is_absolute() {
        return Err(Error::msg("--parent-path must be relative"));
    }
    let p = images.join(parent);
    match std::fs::metadata(&p) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::msg(format!(
            "invalid --parent-path: stat {}: not a directory",
            p.display()
        ))),
        Err(e) => Err(Error::Io {
            context: format!("invalid --parent-path: stat {}", p.display()),
            source: e,
        }),
    }
}

/// `--page-server ADDRESS:PORT`.
fn page_server(s: &str) -> Result<rpc::PageServerInfo> {
    let usage = || Error::msg("Use --page-server ADDRESS:PORT to specify page server");
    let (addr, port) = s.rsplit_once(':').ok_or_else(usage)?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    if addr.is_empty() || port.is_empty() {
        return Err(usage());
    }
    let port: i32 = port
        .parse()
        .map_err(|_| Error::msg("Invalid port number"))?;
    Ok(rpc::PageServerInfo {
        address: Some(addr.into()),
        port: Some(port),
        ..Default::default()
    })
}

/// `--status-fd`: one of ours, open for writing only.
fn writable_fd(fd: i32) -> Result<std::os::fd::OwnedFd> {
    // SAFETY: F_GETFL on a number; the answer says whether it is an open fd.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(Error::msg(format!(
            "invalid --status-fd argument {fd}: {}",
            crate::error::errno_text(nix::errno::Errno::last())
        )));
    }
    if flags & libc::O_ACCMODE != libc::O_WRONLY {
        return Err(Error::msg(format!(
            "invalid --status-fd argument {fd}: not writable"
        )));
    }
    // SAFETY: the caller handed this fd to us; we close it once written.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// What the init's stdio was when the container was made (`pipe:[N]`, a path), for a
/// restore to give the restored process new pipes in their place.
fn write_descriptors(dirs: &Dirs, stdio: &[String]) -> Result<()> {
    let path = dirs.images_path.join(DESCRIPTORS);
    let json = serde_json::to_vec(stdio).unwrap_or_default();
    std::fs::write(&path, json).context(|| format!("write {}", path.display()))
}

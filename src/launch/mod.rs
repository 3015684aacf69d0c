//! The launch: Spec -> Plan -> clone -> child applies the plan -> wait for start -> execve.
//! This module is the parent's side: clone, cgroup placement, id maps, create-time hooks,
//! and the wait for the child's `Ready`.

pub mod channel;
pub mod child;
pub mod plan;
pub mod sched;

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sched::CloneFlags;
use oci_spec::runtime::Hooks;

use crate::error::{errno_text, Context, Error, Result};
use channel::{Channel, Msg};
use plan::Plan;

/// The parent's handle on a child that reported `Ready`.
pub struct Launched {
    pub pid: i32,
    chan: Channel,
}

impl Launched {
    /// Lets the child outlive us (it clears its parent-death signal) and go on to wait for
    /// `start` or exec.
    pub fn detach(self) -> Result<()> {
        self.chan
            .send(&Msg::Detach)
            .context(|| "release the container init".into())
    }
}

pub struct LaunchArgs<'a> {
    pub plan: &'a Plan,
    pub hooks: Option<Hooks>,
    /// O_PATH fd of the state dir when the init must wait for `start` on the exec fifo.
    pub fifo_dir: Option<OwnedFd>,
    pub preserve_fds: u32,
    /// Where the child sends its pty master (the process has a terminal).
    pub console: Option<crate::terminal::ChildConsole>,
    /// The locked state-dir fd: the child closes it at once, or the lock would live as
    /// long as the init and block `start`.
    pub lock_fd: std::os::fd::RawFd,
    /// Called with the pid right after clone, before anything else (the state must know
    /// the process before it can be relied on to exist).
    pub on_cloned: &'a mut dyn FnMut(i32) -> Result<()>,
    /// Returns the state JSON for create-time hooks.
    pub hook_state: &'a dyn Fn(i32) -> Vec<u8>,
}

/// The error of a child that failed at `step`, worded as runc's (an init's failure is
/// "during container init", which people grep for).
fn child_error(step: &str, errno: i32, init: bool) -> Error {
    let errno = Errno::from_raw(errno);
    if child::is_hook_failure(step, errno) {
        return Error::msg(step.to_string());
    }
    let during = if init {
        "error during container init: "
    } else {
        ""
    };
    Error::msg(format!(
        "unable to start container process: {during}{step}: {}",
        errno_text(errno)
    ))
}

/// Gives up on a child after `e`: kills and reaps it, and returns the better error. The
/// child works while we place it, so it may have failed first: its own report says more
/// than the broken pipe or ESRCH that followed.
fn abandon(chan: &Channel, pid: i32, e: Error, init: bool) -> Error {
    let e = match chan.try_recv() {
        Some(Msg::Failed { step, errno, .. }) => child_error(&step, errno, init),
        _ => e,
    };
    let child = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(child, None);
    e
}

/// Opens the source of bind mount `index` for the child, inside its mount namespace (an
/// earlier mount may have made the path), with our credentials (a child in a user
/// namespace may not reach it). A plain bind's is an O_PATH fd through `/proc/PID/root`,
/// a mount of the child's namespace that it can bind from; its open's errno goes back to
/// the child, whose failure names the mount. An idmapped one is shifted by a helper in
/// the child's mount namespace (open_tree only copies mounts of the caller's namespace).
fn send_source(chan: &Channel, plan: &Plan, pid: i32, index: u32) -> Result<()> {
    let Some(m) = plan.mounts.get(index as usize) else {
        return Err(Error::msg(
            "the container init asked for a mount source it does not have",
        ));
    };
    let plan::MountKind::Bind { source, .. } = &m.kind else {
        return Err(Error::msg(
            "the container init asked for the source of a mount that is no bind",
        ));
    };
    let opened = match m.idmap {
        Some(_) => Ok(in_mount_ns_of(pid, || crate::rootfs::idmapped_tree(m))?),
        None => nix::fcntl::open(
            format!("/proc/{pid}/root{}", source.display()).as_str(),
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        // SAFETY: open returned a new fd.
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
    };
    match opened {
        Ok(fd) => chan.send_with_fd(&Msg::Source(0), fd.as_fd()),
        Err(e) => chan.send(&Msg::Source(e as i32)),
    }
    .context(|| "send a mount source to the container init".into())
}

/// Runs `make` in a forked helper that has joined the mount namespace of `pid`, and
/// returns the fd it made (a `Source` message over a channel of its own, or `Failed`).
/// A helper, not a setns of our own: the runtime's root and working directory stay as
/// they are.
fn in_mount_ns_of(pid: i32, make: impl FnOnce() -> Result<OwnedFd>) -> Result<OwnedFd> {
    let ns = crate::namespaces::open_ns(std::path::Path::new(&format!("/proc/{pid}/ns/mnt")))
        .context(|| format!("open the mount namespace of {pid}"))?;
    let (ours, theirs) = Channel::pair().context(|| "socketpair".into())?;
    // SAFETY: hull is single-threaded; the helper only makes the fd and exits.
    match unsafe { nix::unistd::fork() }.context(|| "fork a mount helper".into())? {
        nix::unistd::ForkResult::Child => {
            drop(ours);
            let made = crate::namespaces::setns(&ns, CloneFlags::CLONE_NEWNS)
                .context(|| format!("join the mount namespace of {pid}"))
                .and_then(|()| make());
            let _ = match made {
                Ok(fd) => theirs.send_with_fd(&Msg::Source(0), fd.as_fd()),
                Err(e) => {
                    theirs.report_failure(&e.to_string(), 0, "");
                    Ok(())
                }
            };
            // SAFETY: leaving the helper without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(theirs);
            let got = ours.recv();
            let _ = nix::sys::wait::waitpid(child, None);
            match got.context(|| "receive from the mount helper".into())? {
                Some(Msg::Source(0)) => ours
                    .take_fd()
                    .ok_or_else(|| Error::msg("the mount helper sent no fd")),
                Some(Msg::Failed { step, .. }) => Err(Error::msg(step)),
                _ => Err(Error::msg("the mount helper exited without a word")),
            }
        }
    }
}

/// Hands the NOTIFY listener that came with the child's last message to the seccomp
/// agent at `listenerPath`, with the container process state of the runtime spec: one
/// connection, one message, then closed.
fn send_listener(
    chan: &Channel,
    seccomp: &plan::SeccompPlan,
    pid: i32,
    state: serde_json::Value,
) -> Result<()> {
    let fd = chan
        .take_fd()
        .ok_or_else(|| Error::msg("the seccomp listener message came without its fd"))?;
    let target = seccomp
        .listener
        .as_ref()
        .ok_or_else(|| Error::msg("a seccomp listener came but no listenerPath is set"))?;
    let process_state = serde_json::json!({
        "ociVersion": crate::container::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": target.metadata,
        "state": state,
    });
    let sock = crate::terminal::connect_unix(&target.path).context(|| {
        format!(
            "failed to connect with seccomp agent specified in the seccomp profile: dial unix {}: connect",
            target.path.display()
        )
    })?;
    crate::terminal::send_fd(
        sock.as_raw_fd(),
        fd.as_fd(),
        process_state.to_string().as_bytes(),
    )
    .context(|| format!("send the seccomp listener to {}", target.path.display()))
}

fn cgroup_entry(paths: &hull_cgroups::CgroupPaths) -> Result<Option<hull_cgroups::Entry>> {
    match paths.is_empty() {
        true => Ok(None),
        false => Ok(Some(hull_cgroups::Entry::open(paths)?)),
    }
}

/// Clones a child that starts in the cgroup2 directory of `entry` (it joins the v1 ones
/// itself). Returns (pid, whether it is in its cgroup2 directory already).
///
/// # Safety
/// Single-threaded caller, as for fork.
unsafe fn clone_in(
    flags: CloneFlags,
    entry: Option<&hull_cgroups::Entry>,
) -> std::result::Result<(i32, bool), Errno> {
    match entry.and_then(|e| e.v2_dir.as_ref()) {
        Some(dir) => crate::namespaces::clone_into_cgroup(flags, dir.as_raw_fd()),
        None => crate::namespaces::clone_fork(flags).map(|p| (p, true)),
    }
}

/// Clones the init and drives it until it is ready. On error the child is gone (killed
/// and reaped); the caller undoes the rest.
pub fn spawn(a: LaunchArgs<'_>) -> Result<Launched> {
    let plan = a.plan;
    let (parent_chan, child_chan) = Channel::pair().context(|| "socketpair".into())?;
    // Joining a pid namespace only affects children: do it here, before clone. A two-stage
    // plan's first child joins it itself, so that the pid it reports for the init (its
    // child) is one of our namespace, not of the joined one.
    if let Some(p) = plan.pid_ns_path.as_ref().filter(|_| !plan.two_stage) {
        let fd = crate::namespaces::open_ns(p)
            .context(|| format!("open pid namespace {}", p.display()))?;
        crate::namespaces::setns(&fd, CloneFlags::CLONE_NEWPID)
            .context(|| format!("join pid namespace {}", p.display()))?;
    }
    let first_flags = if plan.two_stage {
        CloneFlags::empty()
    } else {
        plan.clone_flags
    };
    // A cgroup made with the init is joined after clone (`on_cloned`), not by it.
    let entry = match plan.cgroup.made_with_init() {
        true => None,
        false => cgroup_entry(&plan.cgroup)?,
    };
    crate::logging::debug(&format!(
        "nsexec container setup: clone with {first_flags:?}"
    ));
    // SAFETY: hull is single-threaded.
    let (first, v2_placed) = unsafe { clone_in(first_flags, entry.as_ref()) }
        .context(|| format!("clone with {first_flags:?}"))?;
    if first == 0 {
        drop(parent_chan);
        let _ = nix::unistd::close(a.lock_fd);
        let ctx = child::ChildContext {
            plan,
            chan: child_chan,
            fifo_dir: a.fifo_dir,
            preserve_fds: a.preserve_fds,
            hooks: a.hooks,
            console: a.console,
            cgroup: entry.as_ref(),
        };
        if plan.two_stage {
            child::run_two_stage(ctx);
        }
        child::run(ctx);
    }
    drop(child_chan);
    drop(a.fifo_dir);
    let pid = if plan.two_stage {
        // The first child only makes namespaces and clones the init (our child too).
        let reply = parent_chan.recv();
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(first), None);
        match reply {
            Ok(Some(Msg::Init(pid))) => pid,
            Ok(Some(Msg::Failed { step, errno, .. })) => {
                return Err(child_error(&step, errno, true))
            }
            _ => return Err(Error::msg("container setup exited before cloning the init")),
        }
    } else {
        first
    };
    let result = (|| -> Result<()> {
        (a.on_cloned)(pid)?;
        if !v2_placed {
            hull_cgroups::add_pid_v2(&plan.cgroup, pid)?;
        }
        if let (Some(u), Some(g)) = (&plan.uid_map, &plan.gid_map) {
            crate::namespaces::write_id_maps(pid, u, g, plan.map_writer)
                .map_err(|(context, errno)| Error::Sys { context, errno })?;
        }
        parent_chan
            .send(&Msg::Proceed)
            .context(|| "start the container init".into())?;
        loop {
            match parent_chan.recv() {
                Ok(Some(Msg::WantHooks)) => {
                    let state = (a.hook_state)(pid);
                    if let Some(h) = &a.hooks {
                        crate::hooks::run("prestart", h.prestart(), &state)?;
                        crate::hooks::run("createRuntime", h.create_runtime(), &state)?;
                    }
                    parent_chan
                        .send(&Msg::HooksDone(state))
                        .context(|| "resume the container init".into())?;
                }
                Ok(Some(Msg::Listener)) => {
                    let mut state: serde_json::Value =
                        serde_json::from_slice(&(a.hook_state)(pid)).unwrap_or_default();
                    state["status"] = "creating".into();
                    send_listener(&parent_chan, &plan.seccomp, pid, state)?;
                }
                Ok(Some(Msg::WantSource(i))) => send_source(&parent_chan, plan, pid, i)?,
                Ok(Some(Msg::Ready)) => return Ok(()),
                Ok(Some(Msg::Failed { step, errno, .. })) => {
                    return Err(child_error(&step, errno, true))
                }
                Ok(Some(m)) => {
                    return Err(Error::msg(format!(
                        "unexpected message from the container init: {m:?}"
                    )))
                }
                Ok(None) | Err(_) => {
                    let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                    return Err(Error::msg(format!(
                        "container init exited during setup: {status:?}"
                    )));
                }
            }
        }
    })();
    match result {
        Ok(()) => Ok(Launched {
            pid,
            chan: parent_chan,
        }),
        Err(e) => Err(abandon(&parent_chan, pid, e, true)),
    }
}

/// An O_PATH fd on the state dir, for the child's exec fifo (separate from the locked fd,
/// so the lock is not inherited by a child that outlives `create`).
pub fn fifo_dir_fd(dir: &crate::container::ContainerDir) -> Result<OwnedFd> {
    let fd = nix::fcntl::openat(
        Some(dir.fd().as_raw_fd()),
        ".",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context(|| "open state dir".into())?;
    // SAFETY: openat returned a new fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub struct ExecArgs<'a> {
    pub plan: &'a plan::ExecPlan,
    /// pidfd of the container's init.
    pub init: &'a OwnedFd,
    /// The init's root (`/proc/PID/root`), opened when the plan asks for a chroot.
    pub root: Option<OwnedFd>,
    pub console: Option<crate::terminal::ChildConsole>,
    pub preserve_fds: u32,
    /// The container's state, for a seccomp agent (only with a NOTIFY listener).
    pub container_state: Option<serde_json::Value>,
}

/// Starts an `exec` process in the container and returns its pid once it has exec'd: the
/// child's end of the channel is close-on-exec, so EOF without a `Failed` means execve
/// succeeded. The process is our child (waitable, and the caller's subreaper sees it).
pub fn spawn_exec(a: ExecArgs<'_>) -> Result<i32> {
    let plan = a.plan;
    let (parent_chan, child_chan) = Channel::pair().context(|| "socketpair".into())?;
    if plan.join_pid && !plan.through_userns {
        // Only our children enter it: the child is born inside the container's pid ns.
        nix::sched::setns(a.init, CloneFlags::CLONE_NEWPID)
            .context(|| "join the container's pid namespace".into())?;
    }
    let entry = cgroup_entry(&plan.cgroup)?;
    crate::logging::debug("nsexec container setup: clone the exec process");
    // SAFETY: hull is single-threaded.
    // A cgroup that can take no process (a domain controller enabled below it) refuses
    // CLONE_INTO_CGROUP: clone here and let the move below fail with runc's words.
    let (pid, v2_placed) = match unsafe { clone_in(CloneFlags::empty(), entry.as_ref()) } {
        Err(Errno::EBUSY) => {
            unsafe { crate::namespaces::clone_fork(CloneFlags::empty()) }.map(|p| (p, false))
        }
        r => r,
    }
    .context(|| "clone the exec process".into())?;
    if pid == 0 {
        drop(parent_chan);
        child::run_exec(child::ExecChildContext {
            plan,
            cgroup: entry.as_ref(),
            chan: child_chan,
            init: a.init.as_raw_fd(),
            root: a.root,
            console: a.console,
            preserve_fds: a.preserve_fds,
        });
    }
    drop(child_chan);
    drop(a.root);
    let (pid, v2_placed) = match plan.through_userns {
        // The first child joined and cloned the exec process (our child, in its cgroup).
        true => {
            let reply = parent_chan.recv();
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            match reply {
                Ok(Some(Msg::Init(exec_pid))) => (exec_pid, v2_placed),
                Ok(Some(Msg::Failed { step, errno, .. })) => {
                    return Err(child_error(&step, errno, false))
                }
                _ => return Err(Error::msg("exec setup exited before cloning the process")),
            }
        }
        false => (pid, v2_placed),
    };
    let result = (|| -> Result<()> {
        if !v2_placed {
            hull_cgroups::add_pid_v2(&plan.cgroup, pid)
                .map_err(|e| Error::msg(format!("error adding pid {pid} to cgroups: {e}")))?;
        }
        parent_chan
            .send(&Msg::Proceed)
            .context(|| "start the exec process".into())?;
        loop {
            match parent_chan.recv() {
                Ok(None) => return Ok(()),
                Ok(Some(Msg::Listener)) => {
                    let state = a.container_state.clone().unwrap_or_default();
                    send_listener(&parent_chan, &plan.seccomp, pid, state)?;
                }
                Ok(Some(Msg::Failed { step, errno, .. })) => {
                    return Err(child_error(&step, errno, false))
                }
                Ok(Some(m)) => {
                    return Err(Error::msg(format!(
                        "unexpected message from the exec process: {m:?}"
                    )))
                }
                Err(e) => return Err(e).context(|| "wait for the exec process".into()),
            }
        }
    })();
    match result {
        Ok(()) => Ok(pid),
        Err(e) => Err(abandon(&parent_chan, pid, e, false)),
    }
}

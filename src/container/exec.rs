//! `exec`: a new process in a running container. It joins the init's namespaces through a
//! pidfd, enters the container's cgroup, and gets its own user, caps, rlimits, seccomp,
//! cwd, env and terminal, through the same child steps as the init.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use oci_spec::runtime::{Capability, Process, Spec};

use super::{lifecycle, Status, Store};
use crate::cli::ExecArgs;
use crate::error::{Context, Error, Result};
use crate::foreground::Foreground;
use crate::launch::plan::{ExecPlan, ProcessPlan, SessionKeyring};
use crate::terminal::{self, ConsoleTarget};

/// What a process.json leaves out comes from the container's process, as in runc:
/// capabilities (without, an exec would keep all of root's), LSM labels, rlimits, I/O
/// priority, scheduler and CPU affinity. Args, env, user, cwd and noNewPrivileges are the
/// file's own.
fn inherit_from_config(p: &mut Process, config: Option<&Process>) {
    let Some(c) = config else { return };
    if p.capabilities().is_none() {
        p.set_capabilities(c.capabilities().clone());
    }
    if p.apparmor_profile()
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        p.set_apparmor_profile(c.apparmor_profile().clone());
    }
    if p.selinux_label().as_deref().unwrap_or_default().is_empty() {
        p.set_selinux_label(c.selinux_label().clone());
    }
    if p.rlimits().as_ref().is_none_or(|r| r.is_empty()) {
        p.set_rlimits(c.rlimits().clone());
    }
    if p.io_priority().is_none() {
        p.set_io_priority(*c.io_priority());
    }
    if p.scheduler().is_none() {
        p.set_scheduler(c.scheduler().clone());
    }
    if p.exec_cpu_affinity().is_none() {
        p.set_exec_cpu_affinity(c.exec_cpu_affinity().clone());
    }
}

/// The process to run: `--process FILE` as given, or the container's own process with the
/// command line's args and overrides (runc's rules).
fn exec_process(config: &Spec, a: &ExecArgs) -> Result<Process> {
    if let Some(path) = &a.process {
        let text =
            std::fs::read(path).context(|| format!("read process file {}", path.display()))?;
        let mut p = crate::spec::parse_process(&text, path)?;
        inherit_from_config(&mut p, config.process().as_ref());
        return Ok(p);
    }
    if a.command.is_empty() {
        return Err(Error::msg("exec: args must not be empty"));
    }
    let mut p = config
        .process()
        .clone()
        .ok_or_else(|| Error::msg("the container has no process"))?;
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.into());
    }
    // Later values win when the plan deduplicates the environment.
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    let mut user = p.user().clone();
    if let Some(u) = &a.user {
        let bad = || Error::msg(format!("--user {u:?}: expected UID[:GID]"));
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u.parse().map_err(|_| bad())?, g.parse().map_err(|_| bad())?),
            None => (u.parse().map_err(|_| bad())?, 0),
        };
        user.set_uid(uid).set_gid(gid);
    }
    if !a.additional_gids.is_empty() {
        user.set_additional_gids(Some(a.additional_gids.clone()));
    }
    p.set_user(user);
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(prof) = &a.apparmor {
        p.set_apparmor_profile(Some(prof.clone()));
    }
    if let Some(label) = &a.process_label {
        p.set_selinux_label(Some(label.clone()));
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &a.cap {
            let cap: Capability = serde_json::from_value(serde_json::json!(name))
                .map_err(|_| Error::msg(format!("--cap {name:?}: unknown capability")))?;
            let add = |set: &Option<oci_spec::runtime::Capabilities>| {
                let mut s = set.clone().unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            let (b, e, pm) = (
                add(caps.bounding()),
                add(caps.effective()),
                add(caps.permitted()),
            );
            caps.set_bounding(b).set_effective(e).set_permitted(pm);
            // Never inheritable (CVE-2022-29162); so ambient only where the spec already
            // made some inheritable, as runc does (the kernel refuses ambient otherwise).
            if caps.inheritable().as_ref().is_some_and(|i| !i.is_empty()) {
                let am = add(caps.ambient());
                caps.set_ambient(am);
            }
        }
        p.set_capabilities(Some(caps));
    }
    // --cwd and --env are checked as the config's own were (runc does the same).
    crate::spec::validate_process(&p, "exec: process.")?;
    Ok(p)
}

/// (namespaces of `pid` that differ from ours, whether its pid namespace does).
fn namespaces_to_join(pid: i32) -> Result<(CloneFlags, bool)> {
    let differs = |name: &str| -> Result<bool> {
        let theirs = match nix::sys::stat::stat(format!("/proc/{pid}/ns/{name}").as_str()) {
            Ok(s) => s,
            // A namespace type this kernel does not have.
            Err(nix::errno::Errno::ENOENT) => return Ok(false),
            Err(e) => return Err(e).context(|| format!("stat /proc/{pid}/ns/{name}")),
        };
        let ours = nix::sys::stat::stat(format!("/proc/self/ns/{name}").as_str())
            .context(|| format!("stat /proc/self/ns/{name}"))?;
        Ok((theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino))
    };
    let mut join = CloneFlags::empty();
    for (name, flag) in [
        ("user", CloneFlags::CLONE_NEWUSER),
        ("mnt", CloneFlags::CLONE_NEWNS),
        ("net", CloneFlags::CLONE_NEWNET),
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("cgroup", CloneFlags::CLONE_NEWCGROUP),
        ("time", CloneFlags::from_bits_retain(libc::CLONE_NEWTIME)),
    ] {
        if differs(name)? {
            join |= flag;
        }
    }
    Ok((join, differs("pid")?))
}

fn open_dir(path: &str, flags: OFlag) -> Result<OwnedFd> {
    let fd = nix::fcntl::open(
        path,
        flags | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context(|| format!("open {path}"))?;
    // SAFETY: open returned a new fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Runs `exec`; returns the process's exit code (foreground) or 0 (detached).
pub fn exec(store: &Store, a: &ExecArgs) -> Result<i32> {
    let dir = store.open(&a.id)?;
    let state = dir.read_state()?;
    match state.status(&dir) {
        Status::Stopped => return Err(Error::msg("cannot exec in a stopped container")),
        Status::Creating => return Err(Error::msg("cannot exec in a container being created")),
        Status::Paused if !a.ignore_paused => {
            return Err(Error::msg(
                "cannot exec in a paused container (use --ignore-paused to override)",
            ))
        }
        _ => {}
    }
    let init = lifecycle::init_pidfd(&state).ok_or(Error::NotRunning)?;
    let process = exec_process(&state.config, a)?;
    let terminal = process.terminal().unwrap_or(false);
    terminal::check_console_args(terminal, a.detach, a.console_socket.as_deref())?;

    let mut spec = (*state.config).clone();
    spec.set_process(Some(process));
    let root = open_dir(&format!("/proc/{}/root", state.pid), OFlag::O_RDONLY)?;
    let passwd = crate::rootfs::resolve::read_in_root(root.as_raw_fd(), "/etc/passwd", 4 << 20);
    let (join, join_pid) = namespaces_to_join(state.pid)?;
    let mut process = ProcessPlan::build(&spec, passwd.as_deref())?;
    if !state.no_new_keyring {
        process.session_keyring = Some(SessionKeyring {
            name: SessionKeyring::name_for(&state.id)?,
            add_perm: None,
        });
    }
    let plan = ExecPlan {
        process,
        seccomp: crate::launch::plan::SeccompPlan::build(&spec)?,
        join,
        join_pid,
        through_userns: join.contains(CloneFlags::CLONE_NEWUSER)
            && !nix::unistd::geteuid().is_root(),
        chroot: !join.contains(CloneFlags::CLONE_NEWNS),
        cgroup: if a.cgroup.is_empty() {
            state.cgroup.for_exec(state.pid)
        } else {
            state.cgroup.sub(&a.cgroup)?
        },
    };
    let console = match terminal {
        true => Some(ConsoleTarget::open(a.console_socket.as_deref())?),
        false => None,
    };
    let pidfd_socket = a
        .pidfd_socket
        .as_deref()
        .map(|p| crate::terminal::connect_socket(p, "pidfd socket"))
        .transpose()?;
    let fg = if a.detach {
        None
    } else {
        Some(Foreground::block()?)
    };
    // Not held while the process starts, as runc: in a paused container (--ignore-paused)
    // it waits in the frozen cgroup until `resume`, which needs the lock.
    drop(dir);
    let pid = crate::launch::spawn_exec(crate::launch::ExecArgs {
        plan: &plan,
        init: &init,
        root: plan.chroot.then_some(root),
        console: console.as_ref().map(|c| c.child_end()),
        preserve_fds: a.preserve_fds,
        container_state: plan
            .seccomp
            .listener
            .is_some()
            .then(|| state.to_oci_json(super::Status::Running)),
    })
    .map_err(|e| Error::msg(format!("exec failed: {e}")))?;
    let master = match console {
        Some(c) => c.into_master()?,
        None => None,
    };
    if let Some(p) = &a.pid_file {
        lifecycle::write_pid_file(p, pid)?;
    }
    if let Some(sock) = &pidfd_socket {
        lifecycle::send_pidfd(sock, pid)?;
    }
    match fg {
        None => Ok(0),
        Some(fg) => fg.wait(pid, master),
    }
}

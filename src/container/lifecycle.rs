//! create, start, signal and destroy: the container's life, shared by the commands.
//! `destroy` is the one place that undoes a container, used by `delete` and by a failed
//! `create` alike; every step of it is idempotent.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::{
    LinuxDeviceCgroup, LinuxDeviceType, LinuxNamespaceType, LinuxResources, Spec,
};

use super::{process_start_time, ContainerDir, Phase, State, Status, Store};
use crate::error::{Context, Error, Result};
use crate::launch::{self, plan::Plan, plan::PlanInput};

pub struct CreateOpts<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    pub pidfd_socket: Option<&'a Path>,
    pub no_pivot: bool,
    /// `--no-new-keyring`: the caller's session keyring is inherited.
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// `create`: the init waits on the exec fifo for `start`. `run`: it goes straight on.
    pub wait_for_start: bool,
    /// hull will not stay with the process (`create`, `run -d`).
    pub detach: bool,
    /// `--systemd-cgroup`: the cgroup is a systemd unit.
    pub cgroups: crate::cli::CgroupDriver,
}

/// A container just made: its locked dir, state and init pid, and the pty master when
/// hull relays the terminal of a foreground `run`.
pub struct Created {
    pub dir: ContainerDir,
    pub state: State,
    pub pid: i32,
    pub console: Option<OwnedFd>,
}

/// Device cgroup rules every container needs (runc's list): mknod of anything, and the
/// default nodes, ptys and ptmx.
fn default_device_rules(spec: &Spec) -> Vec<LinuxDeviceCgroup> {
    let rule = |typ, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true)
            .set_typ(Some(typ))
            .set_major(major)
            .set_minor(minor)
            .set_access(Some(access.into()));
        r
    };
    let mut rules = vec![
        rule(LinuxDeviceType::C, None, None, "m"),
        rule(LinuxDeviceType::B, None, None, "m"),
    ];
    // As runc: `linux.devices` makes nodes, it grants no access; a default node the spec
    // lists itself loses its default rule (the spec's own rules decide).
    let listed: Vec<std::path::PathBuf> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
        .map(|d| d.path().clone())
        .collect();
    let defaults = [
        ("/dev/null", 1, 3),
        ("/dev/random", 1, 8),
        ("/dev/full", 1, 7),
        ("/dev/tty", 5, 0),
        ("/dev/zero", 1, 5),
        ("/dev/urandom", 1, 9),
    ];
    for (path, ma, mi) in defaults {
        if !listed.iter().any(|p| p.as_os_str() == path) {
            rules.push(rule(LinuxDeviceType::C, Some(ma), Some(mi), "rwm"));
        }
    }
    rules.push(rule(LinuxDeviceType::C, Some(136), None, "rwm"));
    rules.push(rule(LinuxDeviceType::C, Some(5), Some(2), "rwm"));
    // /dev/net/tun: runc keeps it for the users who cannot add rules of their own.
    rules.push(rule(LinuxDeviceType::C, Some(10), Some(200), "rwm"));
    rules
}

pub(crate) fn resources_with_devices(spec: &Spec) -> LinuxResources {
    let mut r = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let mut devices = r.devices().clone().unwrap_or_default();
    devices.extend(default_device_rules(spec));
    r.set_devices(Some(devices));
    r
}

pub(crate) fn state_json(state: &State, status: Status, pid: i32) -> Vec<u8> {
    let mut v = state.to_oci_json(status);
    v["pid"] = pid.into();
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Writes the pid file as runc does (decimal, no newline), whole or not at all. The file
/// is written unnamed (O_TMPFILE) and linked into place, so that a runtime killed half-way
/// leaves no temporary file behind; only over an existing pid file is a named temporary
/// renamed (the link cannot replace).
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let what = || format!("write pid file {}", path.display());
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = pid_file_temp(path, pid);
    let unnamed = std::fs::OpenOptions::new()
        .write(true)
        .mode(0o644)
        .custom_flags(libc::O_TMPFILE | libc::O_CLOEXEC)
        .open(dir);
    let mut f = match unnamed {
        Ok(mut f) => {
            f.write_all(pid.to_string().as_bytes()).context(what)?;
            match link_fd(&f, path) {
                Ok(()) => return Ok(()),
                Err(Errno::EEXIST) => {}
                Err(e) => return Err(e).context(what),
            }
            link_fd(&f, &tmp).context(what)?;
            f
        }
        // A filesystem without O_TMPFILE: a named temporary from the start.
        Err(_) => {
            let mut f = std::fs::File::create(&tmp).context(what)?;
            f.write_all(pid.to_string().as_bytes()).context(what)?;
            f
        }
    };
    let _ = f.flush();
    std::fs::rename(&tmp, path)
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
        .context(|| format!("rename pid file to {}", path.display()))
}

/// Gives an unnamed (O_TMPFILE) file the name `path`, through its /proc link (linkat
/// with AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH).
fn link_fd(f: &std::fs::File, path: &Path) -> std::result::Result<(), Errno> {
    use std::os::unix::ffi::OsStrExt;
    let from = std::ffi::CString::new(format!("/proc/self/fd/{}", f.as_raw_fd()))
        .map_err(|_| Errno::EINVAL)?;
    let to = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: two valid C strings.
    let r = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    Errno::result(r).map(|_| ())
}

/// The named temporary of a pid file that holds `pid`: named after the pid, so that
/// `delete` finds one a killed runtime left (on filesystems without O_TMPFILE, such as
/// overlayfs before 6.6, every pid file goes through one).
fn pid_file_temp(path: &Path, pid: i32) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("pid");
    path.with_file_name(format!(".{name}.{pid}"))
}

/// Removes the pid file if it still names `pid` (a later container may own it now), and
/// a temporary of it left half-way.
fn remove_pid_file(path: &Path, pid: i32) {
    if std::fs::read_to_string(path).is_ok_and(|s| s.trim() == pid.to_string()) {
        let _ = std::fs::remove_file(path);
    }
    let _ = std::fs::remove_file(pid_file_temp(path, pid));
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(p).context(|| format!("bundle {}", p.display()))
}

/// systemd socket activation meant for us (LISTEN_PID is our pid): that many fds from 3
/// go to the container, ahead of `--preserve-fds`, and its env gets LISTEN_FDS with
/// LISTEN_PID=1, as runc does.
fn socket_activation_fds() -> u32 {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    match ours {
        true => std::env::var("LISTEN_FDS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        false => 0,
    }
}

/// Where `pid`'s fds 0-2 point (`pipe:[N]`, a path; empty where unreadable).
pub fn stdio_of(pid: i32) -> Vec<String> {
    (0..3)
        .map(|i| {
            std::fs::read_link(format!("/proc/{pid}/fd/{i}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect()
}

/// Everything before anything is made: spec, paths, plan. Pure but for reads.
pub fn prepare(o: &CreateOpts<'_>) -> Result<(Spec, Plan, State)> {
    super::id::validate(o.id)?;
    let bundle = absolute(o.bundle)?;
    let mut spec = crate::spec::load(&bundle)?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::msg("process must be set in config.json"))?;
    let listen_fds = socket_activation_fds();
    if listen_fds > 0 {
        let mut p = process.clone();
        let mut env = p.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={listen_fds}"));
        env.push("LISTEN_PID=1".into());
        p.set_env(Some(env));
        spec.set_process(Some(p));
    }
    let process = spec.process().as_ref().expect("checked above");
    crate::terminal::check_console_args(
        process.terminal().unwrap_or(false),
        o.detach,
        o.console_socket,
    )?;
    let rootfs = crate::spec::rootfs_path(&bundle, &spec)?;
    let layout =
        hull_cgroups::Layout::detect().context(|| "read the host's cgroup layout".into())?;
    let linux = spec.linux().clone().unwrap_or_default();
    // Default: one directory per container, named by its id (as runc's), at the top of
    // each hierarchy. A shared `hull/` parent cost ~2 ms a container (10 more cgroup
    // mkdirs and rmdirs, see docs/DESIGN-NOTES.md) and races between overlapping ones.
    let cg_path = linux
        .cgroups_path()
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let cgroup = match (o.cgroups.systemd, cg_path) {
        (true, p) => {
            hull_cgroups::plan_systemd(&layout, p.as_deref(), o.id, spec.annotations().as_ref())?
        }
        (false, Some(p)) => hull_cgroups::plan(&layout, &p)?,
        (false, None) => {
            let mut paths = hull_cgroups::plan(&layout, &format!("/{}", o.id))?;
            // Rootless, without a cgroupsPath: what the caller may not write to is left
            // out, as runc does (a cgroupsPath it cannot make stays an error).
            if o.cgroups.rootless {
                hull_cgroups::leave_out_unwritable(&mut paths);
                if !paths.left_out.is_empty() {
                    crate::logging::debug(&format!(
                        "rootless: no cgroup in {} (not writable)",
                        paths.left_out.join(", ")
                    ));
                }
            }
            paths
        }
    };
    let root_dir =
        std::fs::File::open(&rootfs).context(|| format!("open rootfs {}", rootfs.display()))?;
    let passwd = crate::rootfs::resolve::read_in_root(root_dir.as_raw_fd(), "/etc/passwd", 4 << 20);
    let plan = Plan::build(PlanInput {
        spec: &spec,
        bundle: &bundle,
        rootfs: &rootfs,
        cgroup: cgroup.clone(),
        no_pivot: o.no_pivot,
        keyring_id: (!o.no_new_keyring).then_some(o.id),
        passwd,
    })?;
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    let shared_pid_ns = !namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Pid && n.path().is_none());
    let state = State {
        id: o.id.to_string(),
        phase: Phase::Creating,
        pid: 0,
        pid_start_time: 0,
        bundle,
        rootfs,
        created: crate::timefmt::now_rfc3339(true),
        owner: String::new(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        cgroup,
        shared_pid_ns,
        pid_file: o.pid_file.map(|p| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                std::env::current_dir().unwrap_or_default().join(p)
            }
        }),
        config: Box::new(spec.clone()),
        stdio: Vec::new(),
        no_new_keyring: o.no_new_keyring,
    };
    Ok((spec, plan, state))
}

/// Creates the container: on success the init is set up and waits on the exec fifo
/// (create) or is exec'ing (run); returns its pid. On failure nothing is left.
pub fn create(store: &Store, o: &CreateOpts<'_>) -> Result<Created> {
    let (spec, plan, mut state) = prepare(o)?;
    let console = match plan.process.terminal {
        true => Some(crate::terminal::ConsoleTarget::open(o.console_socket)?),
        false => None,
    };
    let pidfd_socket = o
        .pidfd_socket
        .map(|p| crate::terminal::connect_socket(p, "pidfd socket"))
        .transpose()?;
    // Two descriptors kept for the cleanup: a create that ran out of them (a low
    // RLIMIT_NOFILE) must still be able to undo itself.
    let reserve = (0..2)
        .map(|_| std::fs::File::open("/"))
        .collect::<std::io::Result<Vec<_>>>()
        .context(|| "reserve file descriptors for cleanup".into())?;
    let dir = store.create(o.id)?;
    // Someone else's cgroup is neither joined nor, on failure, destroyed.
    if let Err(e) = check_cgroup_unused(&state.cgroup) {
        let _ = dir.remove();
        return Err(e);
    }
    match make(&dir, &spec, &plan, &mut state, o, console, pidfd_socket) {
        Ok((pid, console)) => Ok(Created {
            dir,
            state,
            pid,
            console,
        }),
        Err(e) => {
            drop(reserve);
            if let Err(ce) = destroy(dir, &state, false) {
                crate::logging::warn(&format!("cleanup after failed create: {ce}"));
            }
            Err(e)
        }
    }
}

/// runc's checks on an existing cgroup: processes in it belong to something else, and a
/// frozen one would stop the init before it could report back.
pub(crate) fn check_cgroup_unused(cgroup: &hull_cgroups::CgroupPaths) -> Result<()> {
    let n = hull_cgroups::pids(cgroup).map(|p| p.len()).unwrap_or(0);
    if n != 0 {
        return Err(Error::msg(format!(
            "container's cgroup is not empty: {n} process(es) found"
        )));
    }
    if hull_cgroups::is_frozen(cgroup) {
        return Err(Error::msg("container's cgroup unexpectedly frozen"));
    }
    Ok(())
}

fn make(
    dir: &ContainerDir,
    spec: &Spec,
    plan: &Plan,
    state: &mut State,
    o: &CreateOpts<'_>,
    console: Option<crate::terminal::ConsoleTarget>,
    pidfd_socket: Option<OwnedFd>,
) -> Result<(i32, Option<OwnedFd>)> {
    // Recorded first: from here on, `delete` knows the cgroup and the pid file.
    dir.write_state(state)?;
    let fifo_dir = if o.wait_for_start {
        dir.make_exec_fifo()?;
        Some(launch::fifo_dir_fd(dir)?)
    } else {
        None
    };
    let mut resources = resources_with_devices(spec);
    if o.cgroups.rootless && plan.rootless_euid {
        // Device rules need CAP_SYS_ADMIN (v1) or CAP_BPF (v2), which a rootless caller
        // lacks; runc leaves them out so. The user namespace keeps mknod out anyway.
        resources.set_devices(None);
    }
    let with_init = state.cgroup.made_with_init();
    if !with_init {
        hull_cgroups::create(&state.cgroup)?;
        hull_cgroups::apply(&state.cgroup, &resources)?;
    }
    let snapshot = state.clone();
    // Not written yet: until `Detach` the child dies with us (parent-death signal, then
    // the channel's EOF), and from its cgroup on `delete` finds it through the cgroup the
    // state already names. One state write less (a rename frees the old file's blocks).
    let mut on_cloned = |pid: i32| -> Result<()> {
        state.pid = pid;
        state.pid_start_time = process_start_time(pid).unwrap_or(0);
        state.stdio = stdio_of(pid);
        if with_init {
            let warnings = hull_cgroups::start_unit(&state.cgroup, pid, &resources)?;
            warnings.iter().for_each(|w| crate::logging::warn(w));
        }
        Ok(())
    };
    let hook_state = |pid: i32| state_json(&snapshot, Status::Created, pid);
    let launched = launch::spawn(launch::LaunchArgs {
        plan,
        hooks: crate::hooks::with_start_env(spec.hooks(), &plan.process.env),
        fifo_dir,
        preserve_fds: socket_activation_fds() + o.preserve_fds,
        console: console.as_ref().map(|c| c.child_end()),
        lock_fd: dir.fd().as_raw_fd(),
        on_cloned: &mut on_cloned,
        hook_state: &hook_state,
    })?;
    // Released first, so that the child's last steps overlap our writes below; if they
    // fail, `create` fails and destroy kills the child (whose pid `state` has).
    let pid = launched.pid;
    let master = match console {
        Some(c) => c.into_master()?,
        None => None,
    };
    launched.detach()?;
    // The state names the pid before the pid file does: `delete` removes a pid file only
    // if it holds the pid the state records.
    state.phase = Phase::Created;
    dir.write_state(state)?;
    if let Some(p) = &state.pid_file {
        write_pid_file(p, pid)?;
    }
    if let Some(sock) = &pidfd_socket {
        send_pidfd(sock, pid)?;
    }
    Ok((pid, master))
}

/// `start`: releases an init that waits on the exec fifo, then runs poststart hooks.
pub fn start(store: &Store, id: &str) -> Result<()> {
    let dir = store.open(id)?;
    let state = dir.read_state()?;
    match state.status(&dir) {
        Status::Created => {}
        Status::Stopped => return Err(Error::msg("cannot start a container that has stopped")),
        Status::Running => return Err(Error::msg("cannot start an already running container")),
        s => {
            return Err(Error::msg(format!(
                "cannot start a container in the {s} state"
            )))
        }
    }
    let fd = nix::fcntl::openat(
        Some(dir.fd().as_raw_fd()),
        super::EXEC_FIFO,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context(|| "open exec fifo".into())?;
    // SAFETY: openat returned a new fd.
    let fifo = unsafe { OwnedFd::from_raw_fd(fd) };
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(Errno::EINTR) => {
                if !state.init_alive() {
                    return Err(Error::msg("container init exited before start"));
                }
            }
            Err(e) => return Err(e).context(|| "wait on exec fifo".into()),
            Ok(_) => {
                let mut b = [0u8; 1];
                match nix::unistd::read(fifo.as_raw_fd(), &mut b) {
                    Ok(1) => break,
                    Ok(_) => return Err(Error::msg("container init exited before start")),
                    Err(Errno::EAGAIN) | Err(Errno::EINTR) => continue,
                    Err(e) => return Err(e).context(|| "read exec fifo".into()),
                }
            }
        }
    }
    dir.remove_exec_fifo()?;
    wait_for_exec(&fifo, &state);
    poststart(&state)
}

/// poststart hooks, as runc runs them: the first that fails kills the container and is
/// the command's error (the spec's "warn and go on" is for poststop).
pub fn poststart(state: &State) -> Result<()> {
    let hooks = state
        .config
        .hooks()
        .as_ref()
        .map_or(&None, |h| h.poststart());
    crate::hooks::run(
        "poststart",
        hooks,
        &state_json(state, Status::Running, state.pid),
    )
    .inspect_err(|_| {
        let _ = kill_everything(state);
    })
}

/// Waits until the init has exec'd (or died): its write end of the fifo is close-on-exec,
/// so the fifo hangs up then. startContainer hooks run before that, with their timeouts.
fn wait_for_exec(fifo: &OwnedFd, state: &State) {
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(Errno::EINTR) if state.init_alive() => continue,
            _ => {}
        }
        let hup = fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLHUP));
        if hup || !state.init_alive() {
            return;
        }
        // Anything else readable is not ours: drain it.
        let mut b = [0u8; 64];
        let _ = nix::unistd::read(fifo.as_raw_fd(), &mut b);
    }
}

fn pidfd_open(pid: i32) -> std::result::Result<OwnedFd, Errno> {
    // SAFETY: plain syscall.
    let fd = Errno::result(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel returned a new fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Sends a pidfd of `pid` over a connected `--pidfd-socket`.
pub(crate) fn send_pidfd(sock: &OwnedFd, pid: i32) -> Result<()> {
    let fd = pidfd_open(pid).context(|| format!("pidfd_open {pid}"))?;
    crate::terminal::send_fd(sock.as_raw_fd(), fd.as_fd(), b"pidfd")
        .context(|| "send the pidfd to the pidfd socket".into())
}

/// A pidfd on the container's init, only if it is still the recorded process.
pub(crate) fn init_pidfd(state: &State) -> Option<OwnedFd> {
    let fd = pidfd_open(state.pid).ok()?;
    // Checked after the pidfd exists: from here the pid cannot be recycled under us.
    state.init_alive().then_some(fd)
}

fn pidfd_signal(fd: &OwnedFd, sig: i32) -> std::result::Result<(), Errno> {
    // SAFETY: plain syscall.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            0usize,
            0u32,
        )
    })
    .map(|_| ())
}

/// Sends `sig` to the init, or to every process in the container's cgroup with `all` (and,
/// as runc does, for SIGKILL when the container shares a pid namespace: killing its init
/// would leave the rest running).
pub fn signal(state: &State, sig: i32, all: bool) -> Result<()> {
    let was_frozen = hull_cgroups::is_frozen(&state.cgroup);
    let every = all || (sig == libc::SIGKILL && state.shared_pid_ns);
    if every && state.cgroup.is_empty() {
        // Rootless without a cgroup of its own: its processes cannot be told apart (runc
        // warns the same way and signals the init).
        crate::logging::warn(
            "the container has no cgroup (rootless, no delegation): only its init is signalled",
        );
    }
    if every && !state.cgroup.is_empty() {
        // Frozen meanwhile, so that no process forks a child past the list.
        let froze = !was_frozen && hull_cgroups::freeze(&state.cgroup, true).is_ok();
        for pid in hull_cgroups::pids(&state.cgroup)? {
            // SAFETY: plain kill; any signal number, real-time ones included.
            unsafe { libc::kill(pid, sig) };
        }
        if froze {
            let _ = hull_cgroups::freeze(&state.cgroup, false);
        }
    } else {
        let fd = init_pidfd(state).ok_or(Error::NotRunning)?;
        pidfd_signal(&fd, sig).map_err(|e| match e {
            Errno::ESRCH => Error::NotRunning,
            e => Error::Sys {
                context: format!("signal {sig} to pid {}", state.pid),
                errno: e,
            },
        })?;
    }
    if was_frozen && sig == libc::SIGKILL {
        // Frozen tasks die only once thawed (v1).
        let _ = hull_cgroups::freeze(&state.cgroup, false);
    }
    Ok(())
}

/// `pause` (freeze) or `resume` (thaw) the container's processes.
pub fn pause(store: &Store, id: &str, frozen: bool) -> Result<()> {
    let dir = store.open(id)?;
    let state = dir.read_state()?;
    match (frozen, state.status(&dir)) {
        (true, Status::Running | Status::Created) => {}
        (true, Status::Paused) => return Err(Error::msg("container already paused")),
        (false, Status::Paused) => {}
        (false, Status::Running | Status::Created) => {
            return Err(Error::msg("container not paused"))
        }
        _ => return Err(Error::NotRunning),
    }
    if state.cgroup.is_empty() {
        // Rootless without delegation: no freezer to use (runc's words).
        return Err(Error::msg(
            "cannot toggle freezer: cgroups not configured for container",
        ));
    }
    hull_cgroups::freeze(&state.cgroup, frozen)?;
    Ok(())
}

/// Kills every process of the container and waits until they are gone (up to 10 s).
fn kill_everything(state: &State) -> Result<()> {
    let frozen = hull_cgroups::is_frozen(&state.cgroup);
    if let Some(fd) = init_pidfd(state) {
        let _ = pidfd_signal(&fd, libc::SIGKILL);
        if frozen {
            // Frozen tasks die only once thawed (v1).
            let _ = hull_cgroups::freeze(&state.cgroup, false);
        }
        // Reap it if it is our child (a failed create); otherwise wait for it to exit.
        let _ = nix::sys::wait::waitpid(
            nix::unistd::Pid::from_raw(state.pid),
            Some(nix::sys::wait::WaitPidFlag::__WALL),
        );
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(10_000u16));
    }
    // Processes outside the init's pid namespace (shared pid ns) survive it.
    kill_cgroup(&state.cgroup, &state.id)
}

/// SIGKILLs every process in `cgroup` until none is left (up to 10 s).
fn kill_cgroup(cgroup: &hull_cgroups::CgroupPaths, id: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = hull_cgroups::pids(cgroup).unwrap_or_default();
        if pids.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::msg(format!(
                "processes {pids:?} of container {id} did not die"
            )));
        }
        for pid in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if hull_cgroups::is_frozen(cgroup) {
            let _ = hull_cgroups::freeze(cgroup, false);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `delete -f` of a container whose state.json cannot be read: nothing says where its
/// cgroup is. The systemd unit `hull-<id>.scope` is hull's by its name: its processes are
/// killed and it is stopped. The default fs cgroup `/<id>` is runc's name and could be
/// anyone's, so it is left alone, as runc leaves it.
fn destroy_unrecorded(dir: ContainerDir, id: &str) -> Result<()> {
    if let Ok(layout) = hull_cgroups::Layout::detect() {
        let defaults = [hull_cgroups::plan_systemd(&layout, None, id, None)];
        for cgroup in defaults.into_iter().flatten() {
            if cgroup.leaves().any(|d| d.exists()) {
                kill_cgroup(&cgroup, id)?;
                hull_cgroups::remove(&cgroup)?;
            }
        }
    }
    dir.remove()
}

/// Undoes a container: processes, cgroup, pid file of an unfinished create, poststop
/// hooks, state dir. Idempotent: a crashed create or delete can be run again.
pub fn destroy(dir: ContainerDir, state: &State, run_poststop: bool) -> Result<()> {
    kill_everything(state)?;
    hull_cgroups::remove(&state.cgroup)?;
    finish_destroy(dir, state, run_poststop)
}

/// Undoes a container CRIU has just dumped (and killed): as runc, nothing in its cgroup is
/// killed then unless it shares a pid namespace, for a lazy-pages restore may already run
/// there; a cgroup it holds stays, with a warning.
pub fn destroy_dumped(dir: ContainerDir, state: &State) -> Result<()> {
    if state.shared_pid_ns {
        kill_cgroup(&state.cgroup, &state.id)?;
    }
    if let Err(e) = hull_cgroups::remove(&state.cgroup) {
        crate::logging::warn(&format!("remove the checkpointed container's cgroup: {e}"));
    }
    finish_destroy(dir, state, true)
}

fn finish_destroy(dir: ContainerDir, state: &State, run_poststop: bool) -> Result<()> {
    if let Some(p) = &state.pid_file {
        remove_pid_file(p, state.pid);
    }
    if run_poststop {
        crate::hooks::run_warn(
            "poststop",
            state
                .config
                .hooks()
                .as_ref()
                .map_or(&None, |h| h.poststop()),
            &state_json(state, Status::Stopped, 0),
        );
    }
    dir.remove()
}

/// `delete`: a stopped or created container goes; a running one only with `force`.
pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    delete_keeping(store, id, force, false)
}

/// A foreground `run`'s own delete: its `--pid-file` stays, as runc's does.
pub fn delete_after_run(store: &Store, id: &str) -> Result<()> {
    delete_keeping(store, id, true, true)
}

fn delete_keeping(store: &Store, id: &str, force: bool, keep_pid_file: bool) -> Result<()> {
    let dir = match store.open(id) {
        Err(Error::NotExist) if force => return Ok(()),
        r => r?,
    };
    let mut state = match dir.read_state() {
        Ok(s) => s,
        Err(_) if force => return destroy_unrecorded(dir, id),
        Err(e) => return Err(e),
    };
    // We hold the lock: a create still in "creating" has died half-way.
    let status = match (state.phase, state.status(&dir)) {
        (Phase::Creating, _) => Status::Stopped,
        (_, s) => s,
    };
    match status {
        Status::Stopped | Status::Created => {}
        _ if force => {}
        s => {
            return Err(Error::msg(format!(
                "cannot delete container {id} that is not stopped: {s}"
            )))
        }
    }
    if keep_pid_file {
        state.pid_file = None;
    }
    destroy(dir, &state, true)
}

//! The cloned child: applies the Plan step by step with syscalls, reports each failure
//! (step + errno) to the parent, waits for `start`, and execs the container process.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use caps::{CapSet, CapsHashSet};
use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};

use super::channel::{Channel, Msg};
use super::plan::{CapsPlan, ExecPlan, Plan, ProcessPlan};
use crate::namespaces;
use crate::proc::PrivateProc;
use crate::rootfs;

/// A failed step: what was being done, and the errno.
#[derive(Debug)]
pub struct StepError {
    pub step: String,
    pub errno: Errno,
}

pub type StepResult<T> = Result<T, StepError>;

/// Attaches the step name to an errno result.
pub trait Step<T> {
    fn step(self, what: impl FnOnce() -> String) -> StepResult<T>;
}

impl<T> Step<T> for Result<T, Errno> {
    fn step(self, what: impl FnOnce() -> String) -> StepResult<T> {
        self.map_err(|errno| StepError {
            step: what(),
            errno,
        })
    }
}

/// What the child needs besides the plan.
pub struct ChildContext<'a> {
    pub plan: &'a Plan,
    pub chan: Channel,
    /// O_PATH fd of the state dir: the exec fifo is opened through it (None for `run`).
    pub fifo_dir: Option<OwnedFd>,
    pub preserve_fds: u32,
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// Where the pty master goes when the process has a terminal.
    pub console: Option<crate::terminal::ChildConsole>,
    /// The v1 cgroups to join first thing (None when already joined, or no cgroup).
    pub cgroup: Option<&'a hull_cgroups::Entry>,
}

/// Entry point in the child. Never returns.
pub fn run(ctx: ChildContext<'_>) -> ! {
    let code = match setup_and_exec(&ctx) {
        Ok(never) => match never {},
        Err(e) if !DETACHED.load(Ordering::Relaxed) => {
            ctx.chan.report_failure(&e.step, e.errno as i32, "");
            1
        }
        Err(e) => {
            // Nobody reads the channel after `Detach`: say it on the container's stderr,
            // as runc's init does ("exec /x: no such file or directory", no prefix).
            if is_hook_failure(&e.step, e.errno) {
                eprintln!("{}", e.step);
            } else {
                eprintln!("{}: {}", e.step, crate::error::errno_text(e.errno));
            }
            if e.errno == Errno::ENOENT {
                127
            } else {
                126
            }
        }
    };
    // SAFETY: leaving the child without running the parent's destructors.
    unsafe { libc::_exit(code) }
}

enum Never {}

/// Entry point of the first child of a two-stage plan (see `Plan::two_stage`): joins the
/// namespaces, makes the user namespace and then the others (owned by it), clones the init
/// with CLONE_PARENT (so the runtime is its parent), reports its pid and exits. Never
/// returns; the init goes on in `run` with nothing left to join.
pub fn run_two_stage(ctx: ChildContext<'_>) -> ! {
    let mut init_plan = ctx.plan.clone();
    init_plan.join.clear();
    match join_then_unshare_and_fork(ctx.plan, ctx.cgroup) {
        Ok(0) => run(ChildContext {
            plan: &init_plan,
            cgroup: None, // inherited from the first stage
            ..ctx
        }),
        Ok(pid) => {
            let _ = ctx.chan.send(&super::channel::Msg::Init(pid));
        }
        Err(e) => ctx.chan.report_failure(&e.step, e.errno as i32, ""),
    }
    // SAFETY: leaving the child without running the parent's destructors.
    unsafe { libc::_exit(0) }
}

fn join_then_unshare_and_fork(
    plan: &Plan,
    cgroup: Option<&hull_cgroups::Entry>,
) -> StepResult<i32> {
    prctl(libc::PR_SET_DUMPABLE, 0).step(|| "prctl(PR_SET_DUMPABLE)".into())?;
    prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64)
        .step(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    join_cgroups(cgroup)?;
    let mut join = plan.join.clone();
    if let Some(path) = &plan.pid_ns_path {
        // For the init cloned next; after the user namespace that may own it.
        join.push(super::plan::NsJoin {
            flag: CloneFlags::CLONE_NEWPID,
            path: path.clone(),
        });
    }
    join_namespaces(&join)?;
    let mut flags = plan.clone_flags;
    if flags.contains(CloneFlags::CLONE_NEWUSER) {
        unshare(CloneFlags::CLONE_NEWUSER).step(|| "unshare the user namespace".into())?;
        flags.remove(CloneFlags::CLONE_NEWUSER);
    }
    if !flags.is_empty() {
        // The pid namespace applies to the init cloned next.
        unshare(flags).step(|| format!("unshare namespaces {flags:?}"))?;
    }
    // SAFETY: single-threaded.
    unsafe { namespaces::clone_fork(CloneFlags::CLONE_PARENT) }
        .step(|| "clone the container init".into())
}

/// What an `exec` child needs: its plan and the container's init to join.
pub struct ExecChildContext<'a> {
    pub plan: &'a ExecPlan,
    pub chan: Channel,
    /// pidfd of the container's init: setns through it joins all namespaces at once.
    pub init: RawFd,
    /// The init's root, for a container without a mount namespace of its own.
    pub root: Option<OwnedFd>,
    pub console: Option<crate::terminal::ChildConsole>,
    pub preserve_fds: u32,
    pub cgroup: Option<&'a hull_cgroups::Entry>,
}

/// Entry point of an `exec` child (already in the container's pid namespace). Never
/// returns: it execs, or reports the failed step and exits.
pub fn run_exec(ctx: ExecChildContext<'_>) -> ! {
    match exec_into(&ctx) {
        Ok(never) => match never {},
        Err(e) => ctx.chan.report_failure(&e.step, e.errno as i32, ""),
    }
    // SAFETY: leaving the child without running the parent's destructors.
    unsafe { libc::_exit(1) }
}

fn exec_into(ctx: &ExecChildContext<'_>) -> StepResult<Never> {
    crate::logging::debug("child process in init(): joining the container");
    let plan = ctx.plan;
    let p = &plan.process;
    if plan.through_userns {
        // Our cgroups first (the host's files), then every namespace at once (the kernel
        // takes the user namespace first, which gives us the rights for the others); the
        // pid namespace applies to the process cloned next, which the runtime adopts.
        // Not dumpable first: the clone is born visible in the container's pid namespace,
        // and must never be open to a ptrace from there.
        prctl(libc::PR_SET_DUMPABLE, 0).step(|| "prctl(PR_SET_DUMPABLE)".into())?;
        prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64)
            .step(|| "prctl(PR_SET_PDEATHSIG)".into())?;
        join_cgroups(ctx.cgroup)?;
        let mut all = plan.join;
        if plan.join_pid {
            all |= CloneFlags::CLONE_NEWPID;
        }
        nix::sched::setns(
            // SAFETY: the pidfd outlives this call.
            unsafe { std::os::fd::BorrowedFd::borrow_raw(ctx.init) },
            all,
        )
        .step(|| format!("join the container's namespaces {all:?}"))?;
        // SAFETY: single-threaded.
        let pid = unsafe { namespaces::clone_fork(CloneFlags::CLONE_PARENT) }
            .step(|| "clone the exec process".into())?;
        if pid != 0 {
            let _ = ctx.chan.send(&super::channel::Msg::Init(pid));
            // SAFETY: leaving without the parent's destructors.
            unsafe { libc::_exit(0) }
        }
    }
    let joined = plan.through_userns;
    prctl(libc::PR_SET_DUMPABLE, 0).step(|| "prctl(PR_SET_DUMPABLE)".into())?;
    // A session of its own, as runc makes every container process: CRIU dumps only
    // sessions whose leader is inside the container.
    nix::unistd::setsid().step(|| "setsid".into())?;
    prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64)
        .step(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    let attrs = &p.attrs;
    if let Some(cpus) = &attrs.cpus_initial {
        super::sched::set_affinity(cpus).step(|| "set the initial CPU affinity".into())?;
    }
    super::sched::log_affinity();
    if !joined {
        join_cgroups(ctx.cgroup)?;
    }
    ctx.chan
        .wait_for_proceed()
        .step(|| "wait for the parent".into())?;
    // In every cgroup now; before the scheduler, which may forbid narrowing it.
    match (&attrs.cpus_initial, &attrs.cpus_final) {
        (_, Some(cpus)) => {
            super::sched::set_affinity(cpus).step(|| "set the final CPU affinity".into())?
        }
        // Not hull's own affinity (taskset), but the cgroup's CPUs.
        (None, None) => super::sched::reset_affinity(),
        (Some(_), None) => {}
    }
    if let Some(adj) = p.oom_score_adj {
        // The host's /proc, or (joined through the user namespace) the container's, where
        // we are too.
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
            .step(|| format!("write oom_score_adj {adj}"))?;
    }
    if !plan.join.is_empty() && !joined {
        nix::sched::setns(
            // SAFETY: the pidfd outlives this call.
            unsafe { std::os::fd::BorrowedFd::borrow_raw(ctx.init) },
            plan.join,
        )
        .step(|| format!("join the container's namespaces {:?}", plan.join))?;
    }
    if let Some(root) = &ctx.root {
        nix::unistd::fchdir(root.as_raw_fd()).step(|| "enter the container's root".into())?;
        nix::unistd::chroot(".").step(|| "chroot to the container's root".into())?;
    }
    if let Some(console) = ctx.console {
        setup_console(p, console, "/dev/ptmx", false)?;
    }
    crate::logging::debug("setns_init: about to exec (after credentials and seccomp)");
    let exe = prepare_process(
        p,
        plan.seccomp.program.as_ref(),
        ctx.preserve_fds,
        &ctx.chan,
    )?;
    prctl(libc::PR_SET_PDEATHSIG, 0).step(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    exec_process(p, plan.seccomp.program.as_ref(), &exe)
}

/// The parent's `Proceed` (cgroup placed, id maps written), awaited once and as late as
/// possible; then the cgroup namespace, which must be rooted at the container's cgroup.
struct CgroupGate<'a> {
    ctx: &'a ChildContext<'a>,
    open: bool,
}

impl CgroupGate<'_> {
    fn pass(&mut self) -> StepResult<()> {
        if !self.open {
            self.ctx
                .chan
                .wait_for_proceed()
                .step(|| "wait for the parent".into())?;
            if self.ctx.plan.unshare_cgroup {
                unshare(CloneFlags::CLONE_NEWCGROUP)
                    .step(|| "unshare the cgroup namespace".into())?;
            }
            self.open = true;
        }
        Ok(())
    }
}

/// Set once the parent has let go (this process is a fork: the static is its own).
static DETACHED: AtomicBool = AtomicBool::new(false);

fn setup_and_exec(ctx: &ChildContext<'_>) -> StepResult<Never> {
    crate::logging::debug("child process in init(): setting up the container");
    let plan = ctx.plan;
    // Until execve this process runs hull's code with the host's view: nobody may ptrace it
    // or open its /proc files, and it dies with the runtime during setup. A rootless
    // parent writes our id maps as their owner: dumpable until then (as runc's nsexec).
    let maps_by_owner = plan.rootless_euid && plan.uid_map.is_some();
    if !maps_by_owner {
        prctl(libc::PR_SET_DUMPABLE, 0).step(|| "prctl(PR_SET_DUMPABLE)".into())?;
    }
    // A session of its own, as runc makes every container process: CRIU dumps only
    // sessions whose leader is inside the container.
    nix::unistd::setsid().step(|| "setsid".into())?;
    prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64)
        .step(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    die_on_signals();
    join_cgroups(ctx.cgroup)?;
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());

    // execCPUAffinity is for exec only; the init gets every CPU of its cgroup, not the
    // runtime's own affinity (as runc).
    super::sched::log_affinity();
    super::sched::reset_affinity();
    // Everything up to the first cgroup mount runs while the parent moves us into our
    // cgroup; a new user namespace needs its id maps before anything else.
    let mut gate = CgroupGate { ctx, open: false };
    if plan.uid_map.is_some() {
        gate.pass()?;
        if maps_by_owner {
            prctl(libc::PR_SET_DUMPABLE, 0).step(|| "prctl(PR_SET_DUMPABLE)".into())?;
        }
        // Root of the new user namespace.
        nix::unistd::setresgid(0.into(), 0.into(), 0.into())
            .step(|| "setgid 0 in the user namespace".into())?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into())
            .step(|| "setuid 0 in the user namespace".into())?;
    }
    join_namespaces(&plan.join)?;
    if plan.unshare_time {
        // unshare makes it for our children only; the offsets must be written before any
        // process enters it; then we enter it ourselves (execve does not on kernels < 6.3).
        let time = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
        unshare(time).step(|| "unshare the time namespace".into())?;
        if !plan.time_offsets.is_empty() {
            // Our /proc files belong to the host's root while we are not dumpable, and we
            // may be root of a user namespace by now: dumpable just for this write.
            prctl(libc::PR_SET_DUMPABLE, 1).step(|| "prctl(PR_SET_DUMPABLE)".into())?;
            let written = std::fs::write("/proc/self/timens_offsets", &plan.time_offsets)
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)));
            prctl(libc::PR_SET_DUMPABLE, 0).step(|| "prctl(PR_SET_DUMPABLE)".into())?;
            written.step(|| "write /proc/self/timens_offsets".into())?;
        }
        let ns = namespaces::open_ns(std::path::Path::new("/proc/self/ns/time_for_children"))
            .step(|| "open the new time namespace".into())?;
        namespaces::setns(&ns, time).step(|| "enter the new time namespace".into())?;
    }
    if let Some(h) = &plan.hostname {
        nix::unistd::sethostname(h).step(|| format!("set hostname {h:?}"))?;
    }
    if let Some(d) = &plan.domainname {
        // SAFETY: valid buffer and length.
        let r = unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) };
        Errno::result(r).step(|| format!("set domainname {d:?}"))?;
    }
    // A network namespace of its own starts with its loopback up, as runc's.
    if plan.clone_flags.contains(CloneFlags::CLONE_NEWNET) {
        namespaces::loopback_up().step(|| "bring up the loopback interface".into())?;
    }
    if !plan.sysctl.is_empty() || plan.process.oom_score_adj.is_some() {
        let proc = PrivateProc::open().step(|| "open a private procfs".into())?;
        for (k, v) in &plan.sysctl {
            proc.write(&format!("sys/{}", k.replace('.', "/")), v)
                .step(|| format!("write sysctl {k}={v:?}"))?;
        }
        if let Some(adj) = plan.process.oom_score_adj {
            proc.write("self/oom_score_adj", &adj.to_string())
                .step(|| format!("write oom_score_adj {adj}"))?;
        }
    }

    // Without a mount namespace nothing may be mounted (it would land in the host's mount
    // table): the process is only chrooted into the rootfs, as runc and crun do.
    let has_mount_ns =
        plan.has_new_mount_ns() || plan.join.iter().any(|j| j.flag == CloneFlags::CLONE_NEWNS);
    let mut root = None;
    let mut devnull = None;
    if has_mount_ns {
        devnull = Some(rootfs::open_host_devnull()?);
        let fd = rootfs::prepare_root(plan)?;
        rootfs::mount_all(plan, fd.as_raw_fd(), &mut || gate.pass(), &mut |i| {
            ctx.chan
                .request_source(i)
                .step(|| format!("open the source of {}", plan.mounts[i].dest))
        })?;
        rootfs::setup_dev(plan, fd.as_raw_fd())?;
        rootfs::ensure_cwd(fd.as_raw_fd(), &plan.process.cwd)?;
        root = Some(fd);
    }
    gate.pass()?;
    let state_json = ctx
        .chan
        .request_hooks()
        .step(|| "wait for prestart/createRuntime hooks".into())?;
    let hooks = ctx.hooks.as_ref();
    if let Some(root) = &root {
        // As runc: createContainer hooks start in the container's root (still the host's
        // view of it), so relative paths name files of the rootfs.
        nix::unistd::fchdir(root.as_raw_fd()).step(|| "chdir to the rootfs".into())?;
    }
    run_hooks_in_child(
        "createContainer",
        hooks.and_then(|h| h.create_container().clone()),
        &state_json,
    )?;
    if let (Some(root), Some(devnull)) = (&root, &devnull) {
        rootfs::mask_and_protect(plan, root.as_raw_fd(), devnull)?;
        rootfs::enter_root(plan, root)?;
    }
    if !has_mount_ns {
        // Nothing was mounted, so the rootfs may have no /dev of its own: the terminal
        // comes from the host's devpts, opened before the chroot.
        if let Some(console) = ctx.console {
            // The host's /dev/ptmx is a device node, not devpts's multiplexer.
            setup_console(&plan.process, console, "/dev/pts/ptmx", false)?;
        }
        nix::unistd::chroot(&plan.rootfs)
            .step(|| format!("chroot to {}", plan.rootfs.display()))?;
        nix::unistd::chdir("/").step(|| "chdir /".into())?;
    }
    drop((root, devnull));

    if has_mount_ns {
        // The container's /dev/console is its terminal (the runtime spec's rule).
        if let Some(console) = ctx.console {
            setup_console(&plan.process, console, "/dev/ptmx", true)?;
        }
        rootfs::remount_dev_readonly(plan)?;
    }
    let p = &plan.process;
    // Before the privileges go: a private procfs needs them.
    let exec_fifo = ctx.fifo_dir.as_ref().map(ExecFifo::open).transpose()?;
    // Debug lines carry the names of runc's stages, so logs read the same with either.
    crate::logging::debug("init: closing the pipe to signal completion (execve closes it)");
    // A created init may wait for `start` a long time, seen by anyone in /proc/PID/fd: it
    // keeps only what it still needs, none of the runtime's files (the caller's, the state
    // dir, the cgroup files; runc's create.bats checks). Before the seccomp filter, which
    // need not allow close_range.
    let mut keep = vec![ctx.chan.as_raw_fd()];
    keep.extend(exec_fifo.iter().flat_map(ExecFifo::fds));
    keep.extend(crate::logging::log_fd());
    close_fds_except(3 + ctx.preserve_fds as RawFd, &keep)
        .step(|| "close the runtime's descriptors".into())?;
    let exe = prepare_process(
        p,
        plan.seccomp.program.as_ref(),
        ctx.preserve_fds,
        &ctx.chan,
    )?;

    // From here the child only waits on the channel, whose EOF tells it the runtime died;
    // the death signal would also fire when `create` exits normally after Detach.
    prctl(libc::PR_SET_PDEATHSIG, 0).step(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    ctx.chan
        .report_ready_and_wait_detach()
        .step(|| "wait for the runtime to record the container".into())?;
    DETACHED.store(true, Ordering::Relaxed);

    // Held open until execve closes it: `start` waits for that hang-up, so it returns
    // (and poststart runs) only once the process was really executed.
    let _fifo = exec_fifo.map(|f| f.wait_for_start()).transpose()?;
    let start_hooks = ctx.hooks.as_ref().and_then(|h| h.start_container().clone());
    let mut seccomp = plan.seccomp.program.as_ref();
    if start_hooks.as_ref().is_some_and(|h| !h.is_empty())
        && p.no_new_privs
        && !needs_listener(seccomp)
    {
        // As runc: startContainer hooks run under the container's filter (without
        // no_new_privs it is loaded already).
        load_seccomp(seccomp, None)?;
        seccomp = None;
    }
    run_hooks_in_child("startContainer", start_hooks, &state_json)?;
    exec_process(p, seccomp, &exe)
}

/// A new pty inside the container: its master goes out over `sock`, its peer becomes
/// the process's controlling terminal and stdio.
fn setup_console(
    p: &ProcessPlan,
    console: crate::terminal::ChildConsole,
    ptmx: &str,
    bind_dev_console: bool,
) -> StepResult<()> {
    let (master, peer) =
        crate::terminal::open_pty(ptmx).step(|| "open a pty in the container".into())?;
    // The process's own terminal: its user owns it (devpts's gid=5 gives the group), as
    // runc does for its stdio.
    let st = nix::sys::stat::fstat(peer.as_raw_fd()).step(|| "fstat the pty".into())?;
    if st.st_uid != p.uid {
        match nix::unistd::fchown(peer.as_raw_fd(), Some(p.uid.into()), None) {
            Ok(()) | Err(Errno::EPERM) | Err(Errno::EROFS) => {}
            Err(e) => return Err(e).step(|| format!("chown the pty to uid {}", p.uid)),
        }
    }
    if let Some(size) = p.console_size {
        crate::terminal::set_size(peer.as_fd(), size).step(|| "set the console size".into())?;
    }
    // Before execve, so not even the first line can come out translated.
    if console.relayed {
        crate::terminal::clear_onlcr(peer.as_fd()).step(|| "clear ONLCR on the pty".into())?;
    }
    if bind_dev_console {
        rootfs::bind_console(&peer)?;
    }
    crate::terminal::send_fd(console.sock, master.as_fd(), b"/dev/ptmx")
        .step(|| "send the pty master to the console socket".into())?;
    crate::terminal::become_console(peer).step(|| "make the pty the controlling terminal".into())
}

/// The process's own settings, shared by the init and `exec`: everything up to the point
/// where only waiting and execve remain. Returns the executable's path.
fn prepare_process(
    p: &ProcessPlan,
    seccomp: Option<&hull_seccomp::Program>,
    preserve_fds: u32,
    chan: &Channel,
) -> StepResult<CString> {
    join_session_keyring(p)?;
    for (res, soft, hard) in &p.rlimits {
        let lim = libc::rlimit {
            rlim_cur: *soft,
            rlim_max: *hard,
        };
        // SAFETY: valid rlimit struct.
        Errno::result(unsafe { libc::setrlimit(*res as _, &lim) })
            .step(|| format!("set rlimit {res} to {soft}/{hard}"))?;
    }
    apply_lsm(p)?;
    super::sched::apply(&p.attrs).map_err(|(what, errno)| StepError {
        step: what.into(),
        errno,
    })?;

    // The cwd is entered as root (it may be unreadable to the user, as with runc), then
    // checked: a cwd reached through a leaked fd would lie outside the root.
    nix::unistd::chdir(p.cwd.as_str()).step(|| format!("chdir to cwd {}", p.cwd))?;
    match nix::unistd::getcwd() {
        Ok(c) if c.is_absolute() => {}
        _ => {
            return Err(Errno::EPERM)
                .step(|| format!("cwd {} is outside the container root", p.cwd))
        }
    }

    // Nothing of ours crosses execve but stdio and the preserved fds. Marked now: a seccomp
    // profile need not allow close_range.
    // SAFETY: plain syscall.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 + preserve_fds,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    Errno::result(r).step(|| "close_range".into())?;
    // Without no_new_privs the filter can only be loaded with CAP_SYS_ADMIN: now, before
    // the capabilities go (runc does the same).
    if !p.no_new_privs {
        load_seccomp(seccomp, Some(chan))?;
    }
    if let Some(c) = &p.caps {
        drop_bounding(&c.bounding)?;
    }
    switch_user(p.uid, p.gid, &p.additional_gids)?;
    if let Some(c) = &p.caps {
        set_caps(c)?;
    }
    if p.no_new_privs {
        prctl(libc::PR_SET_NO_NEW_PRIVS, 1).step(|| "prctl(PR_SET_NO_NEW_PRIVS)".into())?;
        // A NOTIFY listener must reach the runtime while the channel is open: loaded now
        // rather than right before execve (runc does the same).
        if needs_listener(seccomp) {
            load_seccomp(seccomp, Some(chan))?;
        }
    }
    find_executable(p)
}

/// The last steps, right before execve.
fn exec_process(
    p: &ProcessPlan,
    seccomp: Option<&hull_seccomp::Program>,
    exe: &CString,
) -> StepResult<Never> {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(p.umask));
    reset_signals();
    if p.no_new_privs && !needs_listener(seccomp) {
        load_seccomp(seccomp, None)?;
    }
    let e = nix::unistd::execve(exe, &p.args, &p.env).unwrap_err();
    Err(e).step(|| format!("exec {}", exe.to_string_lossy()))
}

/// Joins existing namespaces by path, in the plan's order. In a joined user namespace we
/// become its root, so that what we make next (mounts, device nodes) has mapped owners.
///
/// As runc: every path is opened first (from the host's view); the namespaces our
/// credentials reach are joined before the user namespace, the rest (owned by it) after,
/// so a namespace owned by the host's user namespace can be joined with a user namespace.
fn join_namespaces(join: &[super::plan::NsJoin]) -> StepResult<()> {
    let mut fds = join
        .iter()
        .map(|j| {
            namespaces::open_ns(&j.path)
                .map(Some)
                .step(|| format!("open namespace {}", j.path.display()))
        })
        .collect::<StepResult<Vec<_>>>()?;
    let user = CloneFlags::CLONE_NEWUSER;
    // Passes: the others (EPERM may wait), the user namespace, the others left.
    for pass in 0..3 {
        for (j, slot) in join.iter().zip(fds.iter_mut()) {
            if (j.flag == user) != (pass == 1) {
                continue;
            }
            let Some(fd) = slot else { continue };
            match namespaces::setns(fd, j.flag) {
                Err(Errno::EPERM) if pass == 0 => continue,
                r => r.step(|| format!("join namespace {}", j.path.display()))?,
            }
            *slot = None;
            if j.flag == user {
                nix::unistd::setresgid(0.into(), 0.into(), 0.into())
                    .step(|| "setgid 0 in the joined user namespace".into())?;
                nix::unistd::setresuid(0.into(), 0.into(), 0.into())
                    .step(|| "setuid 0 in the joined user namespace".into())?;
            }
        }
    }
    Ok(())
}

/// The v1 cgroups, joined by this process itself (see `hull_cgroups::Entry`).
fn join_cgroups(entry: Option<&hull_cgroups::Entry>) -> StepResult<()> {
    match entry {
        Some(e) => e
            .join_v1_self()
            .map_err(Errno::from_raw)
            .step(|| "join the container's cgroups".into()),
        None => Ok(()),
    }
}

fn needs_listener(prog: Option<&hull_seccomp::Program>) -> bool {
    prog.is_some_and(|p| p.needs_listener())
}

/// Loads the filter; its NOTIFY listener, if any, goes to the runtime over `chan`.
fn load_seccomp(prog: Option<&hull_seccomp::Program>, chan: Option<&Channel>) -> StepResult<()> {
    let Some(prog) = prog else { return Ok(()) };
    crate::logging::debug(&format!("seccomp filter flags: {}", prog.flags));
    let listener = hull_seccomp::load(prog)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EINVAL)))
        .step(|| "load the seccomp filter".into())?;
    if let (Some(fd), Some(chan)) = (listener, chan) {
        chan.send_with_fd(&Msg::Listener, fd.as_fd())
            .step(|| "send the seccomp listener to the runtime".into())?;
    }
    Ok(())
}

fn prctl(op: i32, arg: u64) -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    Errno::result(unsafe { libc::prctl(op, arg, 0u64, 0u64, 0u64) }).map(|_| ())
}

/// A failed hook's step (from `run_hooks_in_child`): its message is whole already, no
/// errno text goes after it.
pub fn is_hook_failure(step: &str, errno: Errno) -> bool {
    errno == Errno::EIO && step.starts_with("error running")
}

fn run_hooks_in_child(
    kind: &str,
    hooks: Option<Vec<oci_spec::runtime::Hook>>,
    state: &[u8],
) -> StepResult<()> {
    crate::hooks::run(kind, &hooks, state).map_err(|e| StepError {
        step: e.to_string(),
        errno: Errno::EIO,
    })
}

fn apply_lsm(p: &ProcessPlan) -> StepResult<()> {
    // The plan checked on the host that the module is on; here the label is written (to
    // take effect at execve) through a procfs of our own, which the image cannot fake.
    if let Some(profile) = &p.apparmor_profile {
        let proc = PrivateProc::open().step(|| "open a private procfs".into())?;
        let value = format!("exec {profile}");
        proc.write("thread-self/attr/apparmor/exec", &value)
            .or_else(|_| proc.write("thread-self/attr/exec", &value))
            .step(|| format!("unable to apply apparmor profile {profile}"))?;
    }
    if let Some(label) = &p.selinux_label {
        let proc = PrivateProc::open().step(|| "open a private procfs".into())?;
        proc.write("thread-self/attr/exec", label)
            .step(|| format!("set SELinux label {label}"))?;
    }
    Ok(())
}

/// The container's own session keyring (see `SessionKeyring`), created with the
/// process's SELinux label when it has one, as runc does.
fn join_session_keyring(p: &ProcessPlan) -> StepResult<()> {
    let Some(ring) = &p.session_keyring else {
        return Ok(());
    };
    let labelled = match &p.selinux_label {
        Some(label) => {
            let proc = PrivateProc::open().step(|| "open a private procfs".into())?;
            proc.write("thread-self/attr/keycreate", label)
                .step(|| format!("set the keyring label {label}"))?;
            Some(proc)
        }
        None => None,
    };
    // SAFETY: keyctl with a valid C string.
    let joined = Errno::result(unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            libc::KEYCTL_JOIN_SESSION_KEYRING,
            ring.name.as_ptr(),
        )
    });
    let result = match joined {
        // No keyrings in this kernel: the caller's cannot be reached either.
        Err(Errno::ENOSYS) => {
            crate::logging::warn("KeyctlJoinSessionKeyring: function not implemented");
            Ok(())
        }
        Err(e) => Err(e).step(|| "unable to join session keyring".into()),
        Ok(serial) => match ring.add_perm {
            Some(bits) => add_key_perm(serial as i32, bits)
                .step(|| "unable to mod keyring permissions".into()),
            None => Ok(()),
        },
    };
    if let Some(proc) = labelled {
        // A newline resets the label for keys made later (by the container's own code).
        let _ = proc.write("thread-self/attr/keycreate", "\n");
    }
    result
}

/// ORs `bits` into a key's permissions (KEYCTL_DESCRIBE gives "type;uid;gid;perm;desc",
/// the permissions in hex).
fn add_key_perm(serial: i32, bits: u32) -> Result<(), Errno> {
    let mut buf = [0u8; 512];
    // SAFETY: keyctl writes at most buf.len() bytes into buf.
    let n = Errno::result(unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            libc::KEYCTL_DESCRIBE,
            serial,
            buf.as_mut_ptr(),
            buf.len(),
        )
    })? as usize;
    let text = String::from_utf8_lossy(&buf[..n.min(buf.len())]);
    let perm = text
        .split(';')
        .nth(3)
        .and_then(|p| u32::from_str_radix(p, 16).ok())
        .ok_or(Errno::EINVAL)?;
    // SAFETY: plain keyctl.
    Errno::result(unsafe {
        libc::syscall(libc::SYS_keyctl, libc::KEYCTL_SETPERM, serial, perm | bits)
    })
    .map(|_| ())
}

fn drop_bounding(keep: &CapsHashSet) -> StepResult<()> {
    for cap in caps::all() {
        if !keep.contains(&cap) {
            match caps::drop(None, CapSet::Bounding, cap) {
                Ok(()) => {}
                // Capabilities this kernel does not know.
                Err(_) if prctl(libc::PR_CAPBSET_READ, cap.index() as u64).is_err() => {}
                Err(_) => {
                    return Err(Errno::EPERM).step(|| format!("drop {cap} from the bounding set"))
                }
            }
        }
    }
    Ok(())
}

fn switch_user(uid: u32, gid: u32, groups: &[u32]) -> StepResult<()> {
    let gids: Vec<nix::unistd::Gid> = groups.iter().map(|g| (*g).into()).collect();
    match nix::unistd::setgroups(&gids) {
        // A user namespace with setgroups denied: only an empty list could be set anyway.
        Err(Errno::EPERM) if gids.is_empty() => {}
        r => r.step(|| format!("setgroups {groups:?}"))?,
    }
    nix::unistd::setresgid(gid.into(), gid.into(), gid.into()).step(|| format!("setgid {gid}"))?;
    prctl(libc::PR_SET_KEEPCAPS, 1).step(|| "prctl(PR_SET_KEEPCAPS)".into())?;
    nix::unistd::setresuid(uid.into(), uid.into(), uid.into()).step(|| format!("setuid {uid}"))?;
    prctl(libc::PR_SET_KEEPCAPS, 0).step(|| "prctl(PR_SET_KEEPCAPS)".into())
}

fn mask(set: &CapsHashSet) -> [u32; 2] {
    let bits: u64 = set.iter().fold(0, |m, c| m | c.bitmask());
    [bits as u32, (bits >> 32) as u32]
}

/// Effective, permitted and inheritable in one capset (set one at a time, the kernel would
/// refuse an effective set that is not yet within the permitted one), then ambient.
fn set_caps(c: &CapsPlan) -> StepResult<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let (e, p, i) = (mask(&c.effective), mask(&c.permitted), mask(&c.inheritable));
    let hdr = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let data = [0, 1].map(|w| Data {
        effective: e[w],
        permitted: p[w],
        inheritable: i[w],
    });
    // SAFETY: header and two data words, as _LINUX_CAPABILITY_VERSION_3 wants.
    let r = unsafe { libc::syscall(libc::SYS_capset, &hdr as *const Header, data.as_ptr()) };
    Errno::result(r).step(|| "apply capabilities (capset)".into())?;
    for cap in &c.ambient {
        // As runc: an ambient capability that cannot be raised (not inheritable) is
        // skipped with a warning.
        // SAFETY: prctl with integer arguments.
        let r = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as u64,
                cap.index() as u64,
                0u64,
                0u64,
            )
        };
        if r < 0 {
            crate::logging::warn(&format!(
                "can't raise ambient capability {cap}: {}",
                crate::error::errno_text(Errno::last())
            ));
        }
    }
    Ok(())
}

/// args[0], looked up in the process's PATH when it has no '/'. The errors carry the
/// phrases podman maps to exit codes 127 and 126.
fn find_executable(p: &ProcessPlan) -> StepResult<CString> {
    let name = p.args[0].to_str().unwrap_or_default();
    let check = |path: &str| -> Result<(), Errno> {
        let st = nix::sys::stat::stat(path)?;
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            return Err(Errno::EACCES);
        }
        // The effective ids and capabilities decide (CAP_DAC_OVERRIDE counts), as for
        // execve; access(2) would ask the real ones.
        nix::unistd::faccessat(
            None,
            path,
            nix::unistd::AccessFlags::X_OK,
            nix::fcntl::AtFlags::AT_EACCESS,
        )
    };
    if name.contains('/') {
        check(name).step(|| format!("exec: {name:?}: stat {name}"))?;
        return Ok(p.args[0].clone());
    }
    for dir in &p.path_dirs {
        let cand = format!("{}/{name}", dir.trim_end_matches('/'));
        if check(&cand).is_ok() {
            return Ok(CString::new(cand).expect("no NUL: built from NUL-free parts"));
        }
    }
    Err(Errno::ENOENT).step(|| format!("exec: {name:?}: executable file not found in $PATH"))
}

/// The exec fifo as the created init holds it: an O_PATH fd on the fifo itself, reopened
/// for writing at `start` through a private procfs, so that no fd on the state dir stays
/// open. Where no procfs of our own can be made (a user namespace over the host's pid
/// namespace), the state dir's fd is kept instead.
enum ExecFifo {
    Reopen { fifo: OwnedFd, proc: PrivateProc },
    InDir(RawFd),
}

impl ExecFifo {
    fn open(dir: &OwnedFd) -> StepResult<ExecFifo> {
        let Ok(proc) = PrivateProc::open() else {
            return Ok(ExecFifo::InDir(dir.as_raw_fd()));
        };
        let fifo = Self::open_in(dir.as_raw_fd(), nix::fcntl::OFlag::O_PATH)
            .step(|| "open exec fifo".into())?;
        Ok(ExecFifo::Reopen { fifo, proc })
    }

    fn open_in(dir: RawFd, flags: nix::fcntl::OFlag) -> Result<OwnedFd, Errno> {
        let fd = nix::fcntl::openat(
            Some(dir),
            crate::container::EXEC_FIFO,
            flags | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        // SAFETY: openat returned a new fd.
        Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
    }

    fn fds(&self) -> Vec<RawFd> {
        match self {
            ExecFifo::Reopen { fifo, proc } => vec![fifo.as_raw_fd(), proc.as_raw_fd()],
            ExecFifo::InDir(dir) => vec![*dir],
        }
    }

    /// Blocks until `start` opens the fifo, then writes the byte it reads.
    fn wait_for_start(self) -> StepResult<OwnedFd> {
        use nix::fcntl::OFlag;
        let fd = match &self {
            ExecFifo::Reopen { fifo, proc } => proc.reopen(fifo.as_raw_fd(), OFlag::O_WRONLY),
            ExecFifo::InDir(dir) => Self::open_in(*dir, OFlag::O_WRONLY),
        }
        .step(|| "open exec fifo".into())?;
        nix::unistd::write(&fd, b"0").step(|| "write exec fifo".into())?;
        Ok(fd)
    }
}

/// Closes every fd from `from` up but those in `keep`.
fn close_fds_except(from: RawFd, keep: &[RawFd]) -> Result<(), Errno> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&k| k >= from).collect();
    keep.sort_unstable();
    let mut next = from as u32;
    for k in keep.into_iter().map(|k| k as u32).chain([u32::MAX]) {
        if k > next {
            let last = if k == u32::MAX { u32::MAX } else { k - 1 };
            // SAFETY: plain syscall; the fds closed are ours and no longer used.
            Errno::result(unsafe { libc::syscall(libc::SYS_close_range, next, last, 0) })?;
        }
        next = k.saturating_add(1);
    }
    Ok(())
}

/// As pid 1 of its namespace the waiting init would ignore every signal it has no handler
/// for, so `kill TERM` of a created container did nothing (runc's init, a Go program,
/// handles them). It exits instead; `reset_signals` gives the process the defaults back.
fn die_on_signals() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    extern "C" fn die(sig: libc::c_int) {
        // SAFETY: async-signal-safe.
        unsafe { libc::_exit(128 + sig) }
    }
    let exit = SigAction::new(SigHandler::Handler(die), SaFlags::empty(), SigSet::empty());
    for s in [
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGALRM,
    ] {
        // SAFETY: the handler only calls _exit.
        let _ = unsafe { sigaction(s, &exit) };
    }
}

/// The container starts with an empty signal mask and default dispositions (Rust ignores
/// SIGPIPE, and an ignored signal would survive execve).
fn reset_signals() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for s in Signal::iterator() {
        if s != Signal::SIGKILL && s != Signal::SIGSTOP {
            // SAFETY: installing the default disposition.
            let _ = unsafe { sigaction(s, &dfl) };
        }
    }
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&SigSet::empty()),
        None,
    );
}

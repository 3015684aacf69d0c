//! `restore`: a new container made from a bundle, as `run` makes one, whose processes CRIU
//! brings back from the images instead of an init we clone. Its cgroup, hooks, mounts and
//! devices come from the same plan as a create's; CRIU restores into the new cgroup.

use super::{common_opts, external_mounts, rpc, with_log, Dirs, Passed, EXT_NET, EXT_PID};
use crate::cli::RestoreArgs;
use crate::container::{lifecycle, ContainerDir, Phase, State, Store};
use crate::error::{Context, Error, Result};
use crate::foreground::Foreground;
use crate::launch::plan::{MountKind, Plan};
use crate::terminal::ConsoleTarget;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The rootfs's mount point for CRIU, in the state dir.
const CRIU_ROOT: &str = "criu-root";

pub fn restore(
    store: &Store,
    a: &RestoreArgs,
    cgroups: crate::cli::CgroupDriver,
    criu: &Path,
) -> Result<i32> {
    if !a.detach && !a.no_subreaper {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1u64, 0u64, 0u64, 0u64) };
    }
    let fg = match a.detach {
        true => None,
        false => Some(Foreground::block()?),
    };
    // CRIU wants the rootfs at a mount point of its own: it is bound in a mount namespace
    // of ours that ends with us, so nothing stays mounted on the host whatever happens.
    // CRIU (our child) shares it, and so do the image and work dirs it opens through our
    // fds: a mount on a path of another namespace would fail.
    private_mount_ns().context(|| "a private mount namespace".into())?;
    let dirs = Dirs::open(&a.criu)?;
    let o = lifecycle::CreateOpts {
        id: &a.id,
        bundle: &a.bundle,
        pid_file: a.pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        pidfd_socket: None,
        no_pivot: a.no_pivot,
        no_new_keyring: false,
        preserve_fds: 0,
        wait_for_start: false,
        detach: a.detach,
        cgroups,
    };
    let (spec, plan, mut state) = lifecycle::prepare(&o)?;
    let stdio_names = read_descriptors(&dirs)?;
    let console = match plan.process.terminal {
        true => Some(ConsoleTarget::open(a.console_socket.as_deref())?),
        false => None,
    };
    let dir = store.create(&a.id)?;
    if let Err(e) = lifecycle::check_cgroup_unused(&state.cgroup) {
        let _ = dir.remove();
        return Err(e);
    }
    let restored = Restore {
        a,
        spec: &spec,
        plan: &plan,
        dirs: &dirs,
        stdio_names: &stdio_names,
        criu,
    }
    .run(&dir, &mut state, console);
    let (pid, master) = match restored {
        Ok(r) => r,
        Err(e) => {
            if let Err(ce) = lifecycle::destroy(dir, &state, true) {
                crate::logging::warn(&format!("cleanup after failed restore: {ce}"));
            }
            return Err(e);
        }
    };
    if let Some(p) = &state.pid_file {
        if let Err(e) = lifecycle::write_pid_file(p, pid) {
            let _ = lifecycle::destroy(dir, &state, true);
            return Err(e);
        }
    }
    drop(dir);
    let Some(fg) = fg else { return Ok(0) };
    let code = fg.wait(pid, master)?;
    lifecycle::delete_after_run(store, &a.id)?;
    Ok(code)
}

/// What one restore works from.
struct Restore<'a> {
    a: &'a RestoreArgs,
    spec: &'a Spec,
    plan: &'a Plan,
    dirs: &'a Dirs,
    stdio_names: &'a [String],
    criu: &'a Path,
}

impl Restore<'_> {
    /// Makes the cgroup, has CRIU restore into it and records the restored init; returns
    /// its pid and the pty master hull relays (foreground with a terminal).
    fn run(
        &self,
        dir: &ContainerDir,
        state: &mut State,
        console: Option<ConsoleTarget>,
    ) -> Result<(i32, Option<OwnedFd>)> {
        // Recorded first: from here on, `delete` knows the cgroup.
        dir.write_state(state)?;
        let resources = lifecycle::resources_with_devices(self.spec);
        if !state.cgroup.made_with_init() {
            hull_cgroups::create(&state.cgroup)?;
            hull_cgroups::apply(&state.cgroup, &resources)?;
        }
        make_mount_points(self.plan)?;
        let root = CriuRoot::bind(&state.rootfs, &dir.path.join(CRIU_ROOT))?;

        // Joined namespaces: net and pid by an fd CRIU inherits, the rest by path.
        let mut ns_files = Vec::new();
        let mut join_ns = Vec::new();
        let namespaces = self
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone());
        for ns in namespaces.iter().flatten() {
            let Some(path) = ns.path() else { continue };
            let name = match ns.typ() {
                LinuxNamespaceType::Network => EXT_NET,
                LinuxNamespaceType::Pid => EXT_PID,
                LinuxNamespaceType::Cgroup => {
                    return Err(Error::msg("Do not know how to handle namespace NEWCGROUP"))
                }
                t => {
                    join_ns.push(rpc::JoinNamespace {
                        ns: crate::namespaces::proc_name(t).into(),
                        ns_file: path.to_string_lossy().into_owned(),
                        extra_opt: None,
                    });
                    continue;
                }
            };
            let f = std::fs::File::open(path).map_err(|_| {
                Error::msg(format!(
                    "Requested network namespace {} does not exist",
                    path.display()
                ))
            })?;
            ns_files.push((name, OwnedFd::from(f)));
        }

        let terminal = console.is_some();
        let passed = Passed {
            // The caller's stdio becomes the restored process's pipes (inherit_fd below);
            // a terminal comes back as a new pty instead.
            stdio: (!terminal).then(|| {
                // SAFETY: fds 0-2 are ours for the life of this process.
                [0, 1, 2].map(|fd| unsafe { BorrowedFd::borrow_raw(fd) })
            }),
            extra: ns_files.iter().map(|(_, f)| f.as_fd()).collect(),
        };
        // What the restored process's stdio will be: CRIU's, as given to it now (CRIU
        // reuses its fds 0-2 once it runs).
        let stdio = match terminal {
            true => vec!["/dev/null".to_string(); 3],
            false => lifecycle::stdio_of(std::process::id() as i32),
        };
        let swrk = super::start_checked(self.criu, self.spec, passed)?;
        let criu_pid = swrk.pid();
        // CRIU restores the processes into the cgroup it is in: the new container's.
        if state.cgroup.made_with_init() {
            let warnings = hull_cgroups::start_unit(&state.cgroup, criu_pid, &resources)?;
            warnings.iter().for_each(|w| crate::logging::warn(w));
        } else {
            hull_cgroups::add_pid(&state.cgroup, criu_pid)?;
        }
        if self.a.criu.lazy_pages {
            super::require_features(
                &swrk,
                rpc::Features {
                    lazy_pages: Some(true),
                    ..Default::default()
                },
            )?;
        }

        let log_file = "restore.log";
        let mut opts = common_opts(&self.a.criu, self.dirs, log_file)?;
        opts.root = Some(root.0.to_string_lossy().into_owned());
        opts.rst_sibling = Some(true);
        opts.config_file = super::config_file(self.spec);
        opts.evasive_devices = Some(true);
        opts.tcp_close = self.a.tcp_close.then_some(true);
        opts.lsm_profile = self.a.lsm_profile.clone();
        opts.lsm_mount_context = self.a.lsm_mount_context.clone();
        opts.cg_root = cgroup_roots(criu_pid)?;
        opts.join_ns = join_ns;
        for (i, (name, _)) in ns_files.iter().enumerate() {
            opts.inherit_fd.push(rpc::InheritFd {
                key: name.to_string(),
                fd: super::passed_fd(i),
            });
        }
        for m in external_mounts(self.plan, None) {
            if !opts.ext_mnt.iter().any(|e| e.key == m.name) {
                opts.ext_mnt.push(rpc::ExtMountMap {
                    key: m.name,
                    val: m.source.to_string_lossy().into_owned(),
                });
            }
        }
        // The dumped process's pipes are replaced by ours (same fd numbers in CRIU).
        for (i, name) in self.stdio_names.iter().enumerate() {
            if name.contains("pipe:") {
                opts.inherit_fd.push(rpc::InheritFd {
                    key: name.clone(),
                    fd: i as i32,
                });
            }
        }

        let req = rpc::Req {
            r#type: rpc::ReqType::Restore as i32,
            opts: Some(opts),
            ..Default::default()
        };
        let hooks = self.spec.hooks().clone().unwrap_or_default();
        let mut restored_pid = 0;
        let resp = swrk
            .call(&req, |script, pid, fd| {
                match script {
                    // The namespaces exist, nothing runs yet: the runtime's hooks.
                    "setup-namespaces" => {
                        let json =
                            lifecycle::state_json(state, crate::container::Status::Creating, pid);
                        crate::hooks::run("prestart", hooks.prestart(), &json)?;
                        crate::hooks::run("createRuntime", hooks.create_runtime(), &json)?;
                    }
                    "post-restore" => {
                        restored_pid = pid;
                        record_restored(dir, state, pid, &stdio)?;
                    }
                    "orphan-pts-master" => {
                        let (Some(fd), Some(c)) = (fd, console.as_ref()) else {
                            return Err(Error::msg("criu sent no pty master to pass on"));
                        };
                        crate::terminal::send_fd(
                            c.child_end().sock,
                            fd.as_fd(),
                            b"orphan-pts-master",
                        )
                        .context(|| "send the pty master to the console socket".into())?;
                    }
                    _ => {}
                }
                Ok(())
            })
            .map_err(|e| with_log(e, &self.dirs.log_dir.join(log_file)))?;
        if !swrk.finish()? {
            return Err(with_log(
                Error::msg("criu failed"),
                &self.dirs.log_dir.join(log_file),
            ));
        }
        drop(root);
        let pid = match resp.restore {
            Some(r) if restored_pid == 0 => {
                record_restored(dir, state, r.pid, &stdio)?;
                r.pid
            }
            _ => restored_pid,
        };
        let master = match console {
            Some(c) => c.into_master()?,
            None => None,
        };
        Ok((pid, master))
    }
}

/// A mount namespace of our own whose mounts propagate nowhere.
fn private_mount_ns() -> std::result::Result<(), nix::errno::Errno> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
}

/// The rootfs bound at a mount point of its own (in our private mount namespace), unbound
/// and removed when dropped, so that the state dir can go.
struct CriuRoot(std::path::PathBuf);

impl CriuRoot {
    fn bind(rootfs: &Path, at: &Path) -> Result<CriuRoot> {
        std::fs::DirBuilder::new()
            .create(at)
            .context(|| format!("create {}", at.display()))?;
        let root = CriuRoot(at.to_path_buf());
        nix::mount::mount(
            Some(rootfs),
            at,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
            None::<&str>,
        )
        .context(|| format!("bind {} on {}", rootfs.display(), at.display()))?;
        Ok(root)
    }
}

impl Drop for CriuRoot {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// The restored init is the container's now: its state says so (running: no exec fifo).
fn record_restored(
    dir: &ContainerDir,
    state: &mut State,
    pid: i32,
    stdio: &[String],
) -> Result<()> {
    state.pid = pid;
    state.pid_start_time = crate::container::process_start_time(pid).unwrap_or(0);
    state.phase = Phase::Created;
    state.created = crate::timefmt::now_rfc3339(true);
    state.stdio = stdio.to_vec();
    dir.write_state(state)?;
    match std::fs::remove_file(dir.path.join(super::dump::MARKER)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            crate::logging::warn(&format!("remove checkpoint marker: {e}"))
        }
        _ => {}
    }
    Ok(())
}

/// The names of the dumped process's stdio (`descriptors.json`).
fn read_descriptors(dirs: &Dirs) -> Result<Vec<String>> {
    let path = dirs.images_path.join(super::dump::DESCRIPTORS);
    let text = std::fs::read(&path).context(|| format!("open {}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| Error::msg(format!("{}: {e}", path.display())))
}

/// CRIU's own cgroups, one per hierarchy: the restored tasks are put there.
fn cgroup_roots(criu_pid: i32) -> Result<Vec<rpc::CgroupRoot>> {
    let path = format!("/proc/{criu_pid}/cgroup");
    let text = std::fs::read_to_string(&path).context(|| format!("read {path}"))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(p)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        for ctrl in ctrls.split(',') {
            out.push(rpc::CgroupRoot {
                ctrl: Some(ctrl.to_string()),
                path: p.to_string(),
            });
        }
    }
    Ok(out)
}

/// Mount points CRIU will mount on must exist in the rootfs, also those inside a bind
/// mount's source (`/a` bound from a host dir, `/a/b` a mount on it): each bind is made
/// for a moment, in a mount namespace of a child of ours, so that the nested points are
/// created in the source, as runc prepares them. Nothing stays mounted.
fn make_mount_points(plan: &Plan) -> Result<()> {
    use crate::rootfs::resolve::{ensure_in_root, fd_path, Create};
    let (rd, wr) = nix::unistd::pipe().context(|| "pipe".into())?;
    // SAFETY: hull is single-threaded; the child only makes syscalls and exits.
    match unsafe { nix::unistd::fork() }.context(|| "fork".into())? {
        nix::unistd::ForkResult::Child => {
            drop(rd);
            let fail = |what: String| -> ! {
                let _ = nix::unistd::write(&wr, what.as_bytes());
                // SAFETY: exits the forked child without running the parent's destructors.
                unsafe { libc::_exit(1) }
            };
            if let Err(e) = private_mount_ns() {
                fail(format!(
                    "private mount namespace: {}",
                    crate::error::errno_text(e)
                ));
            }
            let root = match std::fs::File::open(&plan.rootfs) {
                Ok(f) => f,
                Err(e) => fail(format!("open {}: {e}", plan.rootfs.display())),
            };
            let mut tmpfs: Vec<&str> = Vec::new();
            for m in &plan.mounts {
                if matches!(m.kind, MountKind::Cgroup)
                    || tmpfs.iter().any(|t| m.dest.starts_with(&format!("{t}/")))
                {
                    continue;
                }
                let made = (|| -> std::result::Result<(), nix::errno::Errno> {
                    let (last, source) = match &m.kind {
                        MountKind::Bind { source, .. } => {
                            let dir = std::fs::metadata(source)
                                .map(|s| s.is_dir())
                                .unwrap_or(true);
                            (if dir { Create::Dir } else { Create::File }, Some(source))
                        }
                        _ => (Create::Dir, None),
                    };
                    let target = ensure_in_root(root.as_raw_fd(), &m.dest, last)?;
                    if let Some(source) = source {
                        nix::mount::mount(
                            Some(source.as_path()),
                            fd_path(&target).as_c_str(),
                            None::<&str>,
                            nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
                            None::<&str>,
                        )?;
                    }
                    Ok(())
                })();
                if let Err(e) = made {
                    fail(format!(
                        "create criu restore mountpoint for {} mount: {}",
                        m.dest,
                        crate::error::errno_text(e)
                    ));
                }
                if matches!(&m.kind, MountKind::Fs { fstype, .. } if fstype == "tmpfs") {
                    tmpfs.push(&m.dest);
                }
            }
            // SAFETY: as above.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(wr);
            let mut why = String::new();
            let _ = std::io::Read::read_to_string(&mut std::fs::File::from(rd), &mut why);
            let status = nix::sys::wait::waitpid(child, None).context(|| "wait".into())?;
            match status {
                nix::sys::wait::WaitStatus::Exited(_, 0) => Ok(()),
                _ if !why.is_empty() => Err(Error::msg(why)),
                s => Err(Error::msg(format!("prepare restore mount points: {s:?}"))),
            }
        }
    }
}

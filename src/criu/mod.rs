//! CRIU, driven as runc drives it: `criu swrk 3` on one end of a SOCK_SEQPACKET socketpair,
//! one protobuf `criu_req` per packet, `criu_resp` back, and our answer to each notification
//! CRIU stops at (hooks, the restored pid, the pty master, which arrives with SCM_RIGHTS).

pub mod dump;
pub mod restore;
pub mod rpc;

use crate::cli::CriuArgs;
use crate::error::{Context, Error, Result};
use crate::launch::plan::{MountKind, Plan};
use nix::errno::Errno;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use prost::Message;
use rpc::{Req, ReqType, Resp};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// The oldest CRIU we drive: 3.0 has every RPC field we send but the lazy-pages and
/// pre-dump ones, which are checked as features.
const MIN_VERSION: u32 = 30000;

/// The oldest CRIU for a container that joined a network namespace (3.11) or a pid
/// namespace (3.15): CRIU keeps such a namespace external only from these on.
fn min_version(spec: &oci_spec::runtime::Spec) -> u32 {
    use oci_spec::runtime::LinuxNamespaceType as T;
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().clone());
    namespaces
        .iter()
        .flatten()
        .filter(|ns| ns.path().is_some())
        .map(|ns| match ns.typ() {
            T::Network => 31100,
            T::Pid => 31500,
            _ => MIN_VERSION,
        })
        .fold(MIN_VERSION, u32::max)
}

/// A running `criu swrk`.
pub struct Swrk {
    child: std::process::Child,
    sock: OwnedFd,
}

/// What `criu swrk` gets besides its socket: its stdio (the caller's, on restore, so that
/// inherited pipes are CRIU's own fds 0-2; else /dev/null) and fds placed from 4 on, in
/// order.
#[derive(Default)]
pub struct Passed<'a> {
    pub stdio: Option<[BorrowedFd<'a>; 3]>,
    pub extra: Vec<BorrowedFd<'a>>,
}

/// The fd number the `i`th of [`Passed::extra`] has inside CRIU.
pub fn passed_fd(i: usize) -> i32 {
    4 + i as i32
}

impl Swrk {
    /// Starts `criu swrk 3` (`criu` is the global `--criu` path, or `criu` in PATH).
    pub fn start(criu: &Path, passed: Passed<'_>) -> Result<Swrk> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context(|| "socketpair for criu".into())?;
        let mut placed: Vec<RawFd> = vec![theirs.as_raw_fd()];
        placed.extend(passed.extra.iter().map(|f| f.as_raw_fd()));
        let stdio: Option<[RawFd; 3]> = passed.stdio.map(|s| s.map(|f| f.as_raw_fd()));
        let mut cmd = std::process::Command::new(criu);
        cmd.args(["swrk", "3"]);
        if stdio.is_none() {
            use std::process::Stdio;
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
        }
        // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
        unsafe {
            cmd.pre_exec(move || place_fds(stdio, &placed));
        }
        let child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::msg(format!(
                "criu {:?} not found: checkpoint and restore need CRIU installed",
                criu
            )),
            _ => Error::Io {
                context: format!("start {} swrk", criu.display()),
                source: e,
            },
        })?;
        // Ours closed, so a CRIU that dies is an EOF here, never a hang.
        drop(theirs);
        Ok(Swrk { child, sock: ours })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends one request; for a `keep_open` one (version, feature check) CRIU then waits for
    /// the next.
    pub fn send(&self, req: &Req) -> Result<()> {
        let b = req.encode_to_vec();
        loop {
            match nix::sys::socket::send(
                self.sock.as_raw_fd(),
                &b,
                nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
            ) {
                Err(Errno::EINTR) => continue,
                r => return r.map(|_| ()).context(|| "send a request to criu".into()),
            }
        }
    }

    /// Receives one response, with the fd CRIU sent along (the orphan pty master).
    pub fn recv(&self) -> Result<(Resp, Option<OwnedFd>)> {
        let mut buf = vec![0u8; 64 * 1024];
        let (n, fd) = crate::terminal::recv_with_fd(self.sock.as_fd(), &mut buf)
            .context(|| "receive from criu".into())?;
        if n == 0 {
            return Err(Error::msg("criu exited without answering"));
        }
        let resp = Resp::decode(&buf[..n])
            .map_err(|e| Error::msg(format!("undecodable message from criu: {e}")))?;
        Ok((resp, fd))
    }

    /// Asks CRIU's version and leaves it waiting for the real request.
    pub fn version(&self) -> Result<u32> {
        self.send(&Req {
            r#type: ReqType::Version as i32,
            keep_open: Some(true),
            ..Default::default()
        })?;
        let (resp, _) = self.recv()?;
        let v = match resp.version {
            Some(v) if resp.success => v,
            _ => return Err(Error::msg("criu did not report its version")),
        };
        Ok(v.major_number as u32 * 10000
            + v.minor_number as u32 * 100
            + v.sublevel.unwrap_or(0) as u32)
    }

    /// Which of `want`'s features CRIU has (the answer sets each asked one true or false).
    pub fn features(&self, want: rpc::Features) -> Result<rpc::Features> {
        self.send(&Req {
            r#type: ReqType::FeatureCheck as i32,
            features: Some(want),
            keep_open: Some(true),
            ..Default::default()
        })?;
        let (resp, _) = self.recv()?;
        resp.features
            .ok_or_else(|| Error::msg("criu did not answer the feature check"))
    }

    /// Sends `req` and answers every notification with `on_notify(script, pid, fd)` until
    /// the final response, which is returned; a failure names CRIU's log.
    pub fn call(
        &self,
        req: &Req,
        mut on_notify: impl FnMut(&str, i32, Option<OwnedFd>) -> Result<()>,
    ) -> Result<Resp> {
        self.send(req)?;
        loop {
            let (resp, fd) = self.recv()?;
            if !resp.success {
                return Err(failure(&resp));
            }
            if resp.r#type != ReqType::Notify as i32 {
                return Ok(resp);
            }
            let n = resp.notify.unwrap_or_default();
            on_notify(n.script.as_deref().unwrap_or(""), n.pid.unwrap_or(0), fd)?;
            self.send(&Req {
                r#type: ReqType::Notify as i32,
                notify_success: Some(true),
                ..Default::default()
            })?;
        }
    }

    /// Closes our end and reaps CRIU; returns whether it exited cleanly.
    pub fn finish(self) -> Result<bool> {
        let Swrk { mut child, sock } = self;
        drop(sock);
        let status = child.wait().context(|| "wait for criu".into())?;
        Ok(status.success())
    }
}

/// CRIU's own words when it has them, else the request type and errno, as runc reports it.
fn failure(resp: &Resp) -> Error {
    let kind = ReqType::try_from(resp.r#type)
        .map(|t| format!("{t:?}").to_uppercase())
        .unwrap_or_else(|_| resp.r#type.to_string());
    let errno = resp.cr_errno.unwrap_or(0);
    match resp.cr_errmsg.as_deref() {
        Some(m) if !m.is_empty() => Error::msg(format!(
            "criu failed: type {kind} errno {errno}: {}",
            m.trim_end()
        )),
        _ => Error::msg(format!("criu failed: type {kind} errno {errno}")),
    }
}

/// In the forked child: stdio, the socket at 3 and the rest from 4 on, all inheritable.
/// Sources are first moved above the targets so that no dup2 clobbers one not yet placed.
fn place_fds(stdio: Option<[RawFd; 3]>, placed: &[RawFd]) -> std::io::Result<()> {
    let floor = 4 + placed.len() as RawFd + 3;
    let lift = |fd: RawFd| -> std::io::Result<RawFd> {
        // SAFETY: plain fcntl on an fd we own.
        let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, floor) };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(r)
    };
    let stdio = stdio
        .map(|s| s.map(lift))
        .map(|s| s.into_iter().collect::<std::io::Result<Vec<_>>>())
        .transpose()?;
    let placed = placed
        .iter()
        .map(|&f| lift(f))
        .collect::<std::io::Result<Vec<_>>>()?;
    let targets = stdio
        .iter()
        .flatten()
        .copied()
        .zip(0..3)
        .chain(placed.into_iter().zip(3..));
    for (from, to) in targets {
        // SAFETY: dup2 onto a number we own; dup2 clears close-on-exec on the copy.
        if unsafe { libc::dup2(from, to) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The image and work directories of one checkpoint or restore, open: CRIU reads them as
/// `/proc/<our pid>/fd/N`, so they stay open here until CRIU answers.
pub struct Dirs {
    pub images_path: PathBuf,
    pub images: OwnedFd,
    pub work: Option<OwnedFd>,
    /// Where CRIU writes its log: the work dir if given, else the image dir.
    pub log_dir: PathBuf,
}

impl Dirs {
    /// `--image-path` (default `./checkpoint`, made if missing) and `--work-path` (made).
    pub fn open(a: &CriuArgs) -> Result<Dirs> {
        let images_path = match &a.image_path {
            Some(p) => absolute(p)?,
            None => absolute(Path::new("checkpoint"))?,
        };
        make_dir(&images_path, true)?;
        let images = open_dir(&images_path)?;
        let (work, log_dir) = match &a.work_path {
            Some(p) => {
                let p = absolute(p)?;
                make_dir(&p, false)?;
                (Some(open_dir(&p)?), p)
            }
            None => (None, images_path.clone()),
        };
        Ok(Dirs {
            images_path,
            images,
            work,
            log_dir,
        })
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    match p.is_absolute() {
        true => Ok(p.to_path_buf()),
        false => Ok(std::env::current_dir()
            .context(|| "current directory".into())?
            .join(p)),
    }
}

fn make_dir(p: &Path, recursive: bool) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new()
        .recursive(recursive)
        .mode(0o700)
        .create(p)
    {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(e).context(|| format!("create {}", p.display()))
        }
        _ => Ok(()),
    }
}

fn open_dir(p: &Path) -> Result<OwnedFd> {
    let fd = nix::fcntl::open(
        p,
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context(|| format!("open {}", p.display()))?;
    // SAFETY: open returned a new fd.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// `--manage-cgroups-mode`, as runc names the modes.
fn cgroups_mode(m: Option<&str>) -> Result<rpc::CgMode> {
    Ok(match m.unwrap_or("") {
        "" => rpc::CgMode::Default,
        "soft" => rpc::CgMode::Soft,
        "full" => rpc::CgMode::Full,
        "strict" => rpc::CgMode::Strict,
        "ignore" => rpc::CgMode::Ignore,
        _ => return Err(Error::msg("invalid manage-cgroups-mode value")),
    })
}

/// `--empty-ns`: only the network namespace, which is always left empty anyway (its
/// properties are the caller's to set up, as with runc).
fn empty_ns(list: &[String]) -> Result<u32> {
    for ns in list {
        if ns != "network" {
            return Err(Error::msg(format!("namespace {ns:?} is not supported")));
        }
    }
    Ok(libc::CLONE_NEWNET as u32)
}

/// The options both directions set the same way.
fn common_opts(a: &CriuArgs, dirs: &Dirs, log_file: &str) -> Result<rpc::Opts> {
    Ok(rpc::Opts {
        images_dir_fd: dirs.images.as_raw_fd(),
        work_dir_fd: dirs.work.as_ref().map(|w| w.as_raw_fd()),
        log_level: Some(4),
        log_file: Some(log_file.into()),
        manage_cgroups: Some(true),
        manage_cgroups_mode: Some(cgroups_mode(a.manage_cgroups_mode.as_deref())? as i32),
        notify_scripts: Some(true),
        shell_job: Some(a.shell_job),
        ext_unix_sk: Some(a.ext_unix_sk),
        tcp_established: Some(a.tcp_established),
        file_locks: Some(a.file_locks),
        empty_ns: Some(empty_ns(&a.empty_ns)?),
        orphan_pts_master: Some(true),
        auto_dedup: Some(a.auto_dedup),
        lazy_pages: Some(a.lazy_pages),
        ..Default::default()
    })
}

/// CRIU's configuration file for a container: the `org.criu.config` annotation (empty:
/// none), else runc's `/etc/criu/runc.conf`, so that a host's settings for runc hold for
/// hull too. Settings in it override the request's.
fn config_file(spec: &oci_spec::runtime::Spec) -> Option<String> {
    match spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get("org.criu.config"))
    {
        Some(f) if f.is_empty() => None,
        Some(f) => Some(f.clone()),
        None => Some("/etc/criu/runc.conf".into()),
    }
}

/// A failed CRIU run, naming its log; CRIU's own reason if its answer had none (older
/// CRIUs send no message): the log's first error line, the cause (later ones unwind).
fn with_log(e: Error, log: &Path) -> Error {
    let text = e.to_string();
    let first = match text.contains("Error (") {
        true => None,
        false => std::fs::read_to_string(log).ok().and_then(|t| {
            t.lines()
                .find(|l| l.contains("Error ("))
                .map(|l| l.trim().to_string())
        }),
    };
    match first {
        Some(l) => Error::msg(format!("{text}: {l} (log: {})", log.display())),
        None => Error::msg(format!("{text} (log: {})", log.display())),
    }
}

/// Starts CRIU and checks that it is new enough for the container (runc's bounds).
fn start_checked(criu: &Path, spec: &oci_spec::runtime::Spec, passed: Passed<'_>) -> Result<Swrk> {
    let swrk = Swrk::start(criu, passed)?;
    let v = swrk
        .version()
        .map_err(|e| Error::msg(format!("CRIU version check failed: {e}")))?;
    let min = min_version(spec);
    if v < min {
        return Err(Error::msg(format!(
            "CRIU version {v} must be {min} or higher"
        )));
    }
    Ok(swrk)
}

/// External mounts, as CRIU keys them (the mount point inside the container) and names
/// them in the image: bind mounts by their destination, masked files by `/dev/null`,
/// device nodes by their path. On restore the names map back to host paths.
struct ExtMount {
    /// The mount point in the container.
    dest: String,
    /// The name in the image.
    name: String,
    /// What it is bound from on restore.
    source: PathBuf,
}

/// The container's external mounts, from its plan: what it binds from the host. Masked
/// files are binds of /dev/null; with `init` (a dump) only those that exist in the
/// container as files (masked directories are a tmpfs, CRIU's own to dump).
fn external_mounts(plan: &Plan, init: Option<i32>) -> Vec<ExtMount> {
    let mut out = Vec::new();
    for m in &plan.mounts {
        if let MountKind::Bind { source, .. } = &m.kind {
            let dest = resolved_dest(&plan.rootfs, &m.dest);
            out.push(ExtMount {
                name: dest.clone(),
                dest,
                source: source.clone(),
            });
        }
    }
    let masked_file = |p: &str| match init {
        Some(pid) => std::fs::metadata(format!("/proc/{pid}/root{p}")).is_ok_and(|m| !m.is_dir()),
        None => true,
    };
    for p in plan.masked_paths.iter().filter(|p| masked_file(p)) {
        out.push(ExtMount {
            dest: p.clone(),
            name: "/dev/null".into(),
            source: "/dev/null".into(),
        });
    }
    for d in &plan.devices {
        if !out.iter().any(|e| e.dest == d.path) {
            out.push(ExtMount {
                dest: d.path.clone(),
                name: d.path.clone(),
                source: d.path.clone().into(),
            });
        }
    }
    out
}

/// A destination as the container sees it once its symlinks inside the rootfs are
/// followed (a bind on `/conf -> /real/conf` is mounted at `/real/conf`).
fn resolved_dest(rootfs: &Path, dest: &str) -> String {
    let Ok(root) = std::fs::File::open(rootfs) else {
        return dest.to_string();
    };
    match crate::rootfs::resolve::open_in_root(root.as_raw_fd(), dest, libc::O_PATH) {
        Ok(fd) => match std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())) {
            Ok(p) => match p.strip_prefix(rootfs) {
                Ok(rel) => format!("/{}", rel.display()),
                Err(_) => dest.to_string(),
            },
            Err(_) => dest.to_string(),
        },
        Err(_) => dest.to_string(),
    }
}

/// The plan the container was made from (its mounts and devices name what CRIU must
/// treat as external).
fn plan_of(state: &crate::container::State) -> Result<Plan> {
    Plan::build(crate::launch::plan::PlanInput {
        spec: &state.config,
        bundle: &state.bundle,
        rootfs: &state.rootfs,
        cgroup: state.cgroup.clone(),
        no_pivot: false,
        keyring_id: None,
        passwd: None,
    })
}

/// Namespaces the container joined rather than made (net, pid), which CRIU leaves out of
/// the image and a restore joins again: by inode, `net[INODE]:extRootNetNS`.
fn external_namespaces(spec: &oci_spec::runtime::Spec) -> Result<Vec<String>> {
    use oci_spec::runtime::LinuxNamespaceType as T;
    let mut out = Vec::new();
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().clone());
    for ns in namespaces.iter().flatten() {
        let (kind, key) = match ns.typ() {
            T::Network => ("net", EXT_NET),
            T::Pid => ("pid", EXT_PID),
            _ => continue,
        };
        if let Some(path) = ns.path() {
            let st = nix::sys::stat::stat(path.as_path())
                .context(|| format!("stat {}", path.display()))?;
            out.push(format!("{kind}[{}]:{key}", st.st_ino));
        }
    }
    Ok(out)
}

/// The names CRIU's images give joined namespaces.
const EXT_NET: &str = "extRootNetNS";
const EXT_PID: &str = "extRootPidNS";

/// Fails, naming them, if CRIU lacks any of the features asked for.
fn require_features(swrk: &Swrk, want: rpc::Features) -> Result<()> {
    let have = swrk
        .features(want.clone())
        .map_err(|e| Error::msg(format!("CRIU feature check failed: {e}")))?;
    let mut missing = Vec::new();
    if want.mem_track == Some(true) && have.mem_track != Some(true) {
        missing.push("MemTrack");
    }
    if want.lazy_pages == Some(true) && have.lazy_pages != Some(true) {
        missing.push("LazyPages");
    }
    match missing.is_empty() {
        true => Ok(()),
        false => Err(Error::msg(format!(
            "criu is missing features: [{}]",
            missing.join(" ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(namespaces: serde_json::Value) -> oci_spec::runtime::Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "linux": {"namespaces": namespaces}
        }))
        .unwrap()
    }

    #[test]
    fn joined_net_and_pid_namespaces_need_newer_criu() {
        let own = spec_with(serde_json::json!([{"type": "pid"}, {"type": "network"}]));
        assert_eq!(min_version(&own), 30000);
        let net = spec_with(serde_json::json!([
            {"type": "pid"},
            {"type": "network", "path": "/proc/1/ns/net"},
            {"type": "uts", "path": "/proc/1/ns/uts"}
        ]));
        assert_eq!(min_version(&net), 31100);
        let both = spec_with(serde_json::json!([
            {"type": "network", "path": "/proc/1/ns/net"},
            {"type": "pid", "path": "/proc/1/ns/pid"}
        ]));
        assert_eq!(min_version(&both), 31500);
    }
}

//! Shared helpers for the integration tests: the real hull binary, as root, on busybox
//! bundles, each test with its own `--root`, and a leak check after each container.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::{json, Value};

pub const HULL: &str = env!("CARGO_BIN_EXE_hull");

/// Accepts one connection on `listener` and takes the message and the fd sent on it with
/// SCM_RIGHTS (a console socket's pty master, a seccomp agent's listener).
pub fn accept_fd(listener: &std::os::unix::net::UnixListener) -> (std::os::fd::OwnedFd, Vec<u8>) {
    use std::os::fd::{AsRawFd, FromRawFd};
    let (conn, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::empty(),
    )
    .unwrap();
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
            fd = fds.first().copied();
        }
    }
    let n = msg.bytes;
    buf.truncate(n);
    // SAFETY: the kernel installed this fd for us.
    (
        unsafe { std::os::fd::OwnedFd::from_raw_fd(fd.expect("an fd")) },
        buf,
    )
}

/// Skips (with the reason printed) unless we are root with busybox available.
#[macro_export]
macro_rules! require_root {
    () => {
        if let Some(why) = common::cannot_run() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

pub fn cannot_run() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("integration tests need root".into());
    }
    if busybox().is_none() {
        return Some("busybox is not installed (apt-get install busybox-static)".into());
    }
    None
}

fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// One busybox rootfs shared by every test of a test binary (read-only use).
pub fn shared_rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hull-test-rootfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        make_rootfs(&dir);
        dir
    })
}

/// A busybox rootfs at `dir`: /bin with every applet, /etc/passwd and group with root
/// and `user` (1000).
pub fn make_rootfs(dir: &Path) {
    let bb = busybox().expect("busybox");
    for d in [
        "bin",
        "proc",
        "sys",
        "dev",
        "tmp",
        "etc",
        "root",
        "home/user",
    ] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::copy(&bb, dir.join("bin/busybox")).unwrap();
    let list = Command::new(&bb).arg("--list").output().unwrap();
    for app in String::from_utf8_lossy(&list.stdout).lines() {
        if app != "busybox" {
            std::os::unix::fs::symlink("busybox", dir.join("bin").join(app)).unwrap();
        }
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\nuser:x:1000:\n").unwrap();
}

/// tests/helpers/NAME.c built static (runs in a busybox rootfs), once per test binary; None
/// with the reason when there is no C compiler.
pub fn helper(name: &str) -> Result<PathBuf, String> {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap();
    if let Some((_, p)) = built.iter().find(|(n, _)| n == name) {
        return Ok(p.clone());
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/helpers/{name}.c"));
    let out = std::env::temp_dir().join(format!("hull-helper-{}-{name}", std::process::id()));
    let cc = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .map_err(|e| format!("no C compiler for {}: {e}", src.display()))?;
    if !cc.status.success() {
        return Err(format!(
            "cc {}: {}",
            src.display(),
            String::from_utf8_lossy(&cc.stderr)
        ));
    }
    built.push((name.to_string(), out.clone()));
    Ok(out)
}

/// A bundle: a temp dir with config.json whose root.path is the shared rootfs.
pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub config: Value,
}

impl Bundle {
    /// `hull spec`'s config with `args`, no terminal.
    pub fn new(args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("hull-bundle-")
            .tempdir()
            .unwrap();
        let out = Command::new(HULL)
            .args(["spec", "--bundle"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "hull spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap())
                .unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        config["root"]["path"] = json!(shared_rootfs());
        // The shared rootfs is written by nothing but the runtime's cwd creation.
        config["root"]["readonly"] = json!(true);
        let b = Bundle { dir, config };
        b.save();
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Like `new`, with a writable rootfs of its own (`<bundle>/rootfs`) to tamper with.
    pub fn with_own_rootfs(args: &[&str]) -> Bundle {
        let mut b = Bundle::new(args);
        make_rootfs(&b.path().join("rootfs"));
        b.edit(|c| {
            c["root"]["path"] = json!("rootfs");
            c["root"]["readonly"] = json!(false);
        });
        b
    }

    pub fn rootfs(&self) -> PathBuf {
        self.path().join("rootfs")
    }

    pub fn save(&self) {
        std::fs::write(
            self.dir.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// Edits the config and saves it.
    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) -> &mut Self {
        f(&mut self.config);
        self.save();
        self
    }
}

/// hull with a private `--root`.
pub struct Hull {
    pub root: tempfile::TempDir,
}

impl Default for Hull {
    fn default() -> Self {
        Hull {
            root: tempfile::Builder::new()
                .prefix("hull-root-")
                .tempdir()
                .unwrap(),
        }
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Hull {
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(HULL);
        c.arg("--root").arg(self.root.path());
        c.stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd().args(args).output().unwrap().into()
    }

    /// `run` in the foreground: output and exit code of the container.
    pub fn run_container(&self, bundle: &Bundle, id: &str) -> Run {
        self.run(&["run", "--bundle", bundle.path().to_str().unwrap(), id])
    }

    /// Runs hull with stdout/stderr in files: a created or detached container inherits
    /// them, so a pipe would stay open as long as the container lives.
    pub fn run_detached(&self, args: &[&str]) -> Run {
        let out = tempfile::NamedTempFile::new().unwrap();
        let err = tempfile::NamedTempFile::new().unwrap();
        let status = self
            .cmd()
            .args(args)
            .stdout(out.reopen().unwrap())
            .stderr(err.reopen().unwrap())
            .status()
            .unwrap();
        Run {
            code: status.code().unwrap_or(-1),
            stdout: std::fs::read_to_string(out.path()).unwrap(),
            stderr: std::fs::read_to_string(err.path()).unwrap(),
        }
    }

    /// `create` of `bundle` as `id`, extra args before the id.
    pub fn create_with(&self, bundle: &Bundle, id: &str, extra: &[&str]) -> Run {
        let mut args = vec!["create", "--bundle", bundle.path().to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(id);
        self.run_detached(&args)
    }

    /// `run -d` of `bundle` as `id`, which must succeed.
    pub fn run_d(&self, bundle: &Bundle, id: &str) {
        let r = self.run_detached(&["run", "-d", "--bundle", bundle.path().to_str().unwrap(), id]);
        assert_eq!(r.code, 0, "run -d {id}: {}", r.stderr);
    }

    pub fn create(&self, bundle: &Bundle, id: &str) -> Run {
        self.create_with(bundle, id, &[])
    }

    pub fn state(&self, id: &str) -> Value {
        let r = self.run(&["state", id]);
        assert_eq!(r.code, 0, "state {id}: {}", r.stderr);
        serde_json::from_str(&r.stdout).unwrap()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// Waits up to 5 s for `status`.
    pub fn wait_status(&self, id: &str, status: &str) {
        for _ in 0..500 {
            if self.status(id) == status {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("{id} never reached {status}: {}", self.status(id));
    }

    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.root.path().join(id)
    }
}

/// Nothing of container `id` is left: state dir, cgroups, mounts of the bundle, processes
/// whose cwd or command line is in the bundle.
/// The default cgroup `/<id>` in every hierarchy (v1 controllers, cgroup2 roots).
fn default_cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(format!("/sys/fs/cgroup/{id}"))];
    for h in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        dirs.push(h.path().join(id));
    }
    dirs
}

/// Removes the default cgroup of `id` once its processes are gone.
pub fn remove_default_cgroup(id: &str) {
    for dir in default_cgroup_dirs(id).iter().filter(|d| d.exists()) {
        for _ in 0..100 {
            if std::fs::remove_dir(dir).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

pub fn assert_no_leaks(hull: &Hull, id: &str, bundle: &Path) {
    assert!(
        !hull.state_dir(id).exists(),
        "state dir of {id} left behind"
    );
    for dir in default_cgroup_dirs(id) {
        assert!(!dir.exists(), "cgroup {} left behind", dir.display());
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let b = bundle.to_string_lossy();
    assert!(!mounts.contains(&*b), "mounts under {b} left behind");
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = p.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == std::process::id() as i32 {
            continue;
        }
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            assert!(
                !(cmd.contains(&*b) || cmd.contains(&format!(" {id}")))
                    || cmd.contains("hull-test-marker"),
                "process {pid} ({cmd}) of {id} left behind"
            );
        }
    }
}

/// Gives the container's process `cap` in its bounding, effective and permitted sets.
pub fn grant_cap(c: &mut Value, cap: &str) {
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(cap.into());
    }
}

/// A user namespace for `c` (ids 0..65536 mapped from `host_id`), without the cgroup mount
/// (bound from the host there: kept out to keep the tests simple).
pub fn with_user_ns(c: &mut Value, host_id: u32) {
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "user"}));
    let map = serde_json::json!([{"containerID": 0, "hostID": host_id, "size": 65536}]);
    c["linux"]["uidMappings"] = map.clone();
    c["linux"]["gidMappings"] = map;
    c["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["type"] != "cgroup");
}

/// A tmpfs at /mnt and CAP_MKNOD: room for device nodes the container makes itself.
pub fn mknod_scratch(c: &mut Value) {
    c["mounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs"}));
    grant_cap(c, "CAP_MKNOD");
}

/// Runs `args` in a fresh container to completion; returns its output. Checks no leaks.
pub fn run_in(edit: impl FnOnce(&mut Value), args: &[&str]) -> Run {
    let hull = Hull::default();
    let mut b = Bundle::new(args);
    b.edit(edit);
    let id = id("t");
    let r = hull.run_container(&b, &id);
    assert_no_leaks(&hull, &id, b.path());
    r
}

pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// A container id (and so the default cgroup's name) the host-wide leak check can find.
pub fn id(prefix: &str) -> String {
    format!("hull-{prefix}-{}-{}", std::process::id(), unique())
}

/// Deletes a container (`delete -f`) when a test panics before its own cleanup, so a
/// failing test leaves no process or cgroup for the suite's host-wide leak check.
pub struct DeleteOnPanic<'a> {
    hull: &'a Hull,
    id: String,
}

impl<'a> DeleteOnPanic<'a> {
    pub fn new(hull: &'a Hull, id: &str) -> Self {
        DeleteOnPanic {
            hull,
            id: id.to_string(),
        }
    }
}

impl Drop for DeleteOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.hull.run(&["delete", "-f", &self.id]);
        }
    }
}

/// Alive and not a zombie waiting for its reaper.
pub fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
}

/// The script of a process that `sigterm_when_ready` drives: it says "ready", and on
/// SIGTERM says "got-term" and exits with `code`.
pub fn term_trap_script(code: i32) -> String {
    format!("trap 'echo got-term; exit {code}' TERM; echo ready; while :; do sleep 0.05; done")
}

/// Spawns hull as `cmd` (running a `term_trap_script` process), sends hull SIGTERM once
/// the process is ready, and returns hull's exit code and the rest of the output.
pub fn sigterm_when_ready(cmd: &mut Command) -> (Option<i32>, String) {
    use std::io::Read;
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    out.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    (status.code(), rest)
}

/// The CVE-2019-5736 attacker, run inside a container whose /tmp is a tmpfs: it waits for
/// a process whose command line starts with /proc/self/exe (the runtime, made to run
/// inside), holds its `/proc/PID/exe` open, runs `drain` (which lets that process
/// finish), waits for it to exit (so that no running copy makes the file busy) and
/// reopens the file for writing. Its verdict, WROTE or REFUSED, goes to /tmp/result.
pub fn exe_attacker_script(drain: &str) -> String {
    format!(
        "for i in $(seq 500); do \
           p=$(grep -l '^/proc/self/exe' /proc/[0-9]*/cmdline 2>/dev/null | head -1); \
           [ -n \"$p\" ] && break; sleep 0.02; done; \
         d=${{p%/cmdline}}; \
         exec 3<$d/exe || {{ echo NOOPEN > /tmp/result; exit; }}; \
         {drain}; \
         while [ -e $d ]; do sleep 0.02; done; sleep 0.3; \
         if printf pwned 1<>/proc/self/fd/3; then echo WROTE; else echo REFUSED; fi > /tmp/result"
    )
}

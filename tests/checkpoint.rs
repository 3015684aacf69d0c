//! checkpoint and restore through CRIU: a container's memory, pipes, terminal
//! and cgroup carried across, and every failure leaving nothing behind. CRIU
//! needs a kernel it supports: where `criu check` fails (this host's), the tests skip
//! with its reason; they run in the VM of integration/vm-tests.sh.

mod common;

use common::{assert_no_leaks, id, Bundle, Hull};
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Skips (printing why) unless root, busybox and a CRIU that works on this kernel.
macro_rules! require_criu {
    () => {
        require_root!();
        if let Some(why) = criu_unusable() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

fn criu_unusable() -> Option<String> {
    static WHY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    WHY.get_or_init(
        || match std::process::Command::new("criu").arg("check").output() {
            Err(e) => Some(format!("criu is not installed: {e}")),
            Ok(o) if !o.status.success() => Some(format!(
                "`criu check` fails on this kernel: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
            )),
            Ok(_) => None,
        },
    )
    .clone()
}

fn criu_has(feature: &str) -> bool {
    std::process::Command::new("criu")
        .args(["check", "--feature", feature])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A process that counts the lines it reads: its count lives in memory only, so an
/// answer after a restore shows the memory came back.
const COUNTER: &str = "i=0; while read l; do i=$((i+1)); echo \"$i $l\"; done";

/// The stdio hull (and so the container) gets: pipes, as runc's tests use, since CRIU
/// cannot dump a file the container holds from outside its mounts (the host's /dev/null).
struct Pipes {
    to: std::fs::File,
    from: BufReader<std::fs::File>,
    /// The ends the container holds (kept until hull has run).
    theirs: Option<(OwnedFd, OwnedFd)>,
}

impl Pipes {
    fn new() -> Pipes {
        let (in_r, in_w) = nix::unistd::pipe().unwrap();
        let (out_r, out_w) = nix::unistd::pipe().unwrap();
        Pipes {
            to: in_w.into(),
            from: BufReader::new(out_r.into()),
            theirs: Some((in_r, out_w)),
        }
    }

    /// Runs hull with these pipes as its stdin, stdout and stderr.
    fn hull(&mut self, hull: &Hull, args: &[&str]) -> i32 {
        let (i, o) = self.theirs.take().expect("pipes used once");
        let status = hull
            .cmd()
            .args(args)
            .stdin(Stdio::from(i))
            .stdout(Stdio::from(o.try_clone().unwrap()))
            .stderr(Stdio::from(o))
            .status()
            .unwrap();
        status.code().unwrap_or(-1)
    }

    /// Sends a line, returns the answer line (10 s at most).
    fn ask(&mut self, line: &str) -> String {
        writeln!(self.to, "{line}").unwrap();
        let fd = self.from.get_ref().as_raw_fd();
        let mut fds = [nix::poll::PollFd::new(
            unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
            nix::poll::PollFlags::POLLIN,
        )];
        if self.from.buffer().is_empty() {
            let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(10_000u16)).unwrap();
            assert_eq!(n, 1, "no answer to {line:?}");
        }
        let mut answer = String::new();
        self.from.read_line(&mut answer).unwrap();
        answer.trim_end().to_string()
    }
}

/// A bundle whose process is `COUNTER` (or `script`), with a writable rootfs of its own.
fn bundle(script: &str) -> Bundle {
    Bundle::with_own_rootfs(&["sh", "-c", script])
}

struct Images {
    dir: tempfile::TempDir,
}

impl Images {
    fn new() -> Images {
        Images {
            dir: tempfile::Builder::new()
                .prefix("hull-cr-")
                .tempdir()
                .unwrap(),
        }
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}

fn checkpoint(hull: &Hull, id: &str, img: &Images, extra: &[&str]) -> common::Run {
    let (image, work) = (img.path("image"), img.path("work"));
    let mut args = vec!["checkpoint", "--image-path", &image, "--work-path", &work];
    args.extend_from_slice(extra);
    args.push(id);
    hull.run(&args)
}

fn restore_args<'a>(img: &'a Images, b: &'a Bundle, extra: &[&'a str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "restore",
        "-d",
        "--image-path",
        &img.path("image"),
        "--work-path",
        &img.path("work"),
        "--bundle",
        b.path().to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// `restore -d` on new pipes: its exit code, and the pipes.
fn try_restore(hull: &Hull, id: &str, img: &Images, b: &Bundle, extra: &[&str]) -> (i32, Pipes) {
    let mut pipes = Pipes::new();
    let mut args = restore_args(img, b, extra);
    args.push(id.to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (pipes.hull(hull, &args), pipes)
}

fn restore_with_pipes(hull: &Hull, id: &str, img: &Images, b: &Bundle, extra: &[&str]) -> Pipes {
    let (code, pipes) = try_restore(hull, id, img, b, extra);
    if code != 0 {
        let log = std::fs::read_to_string(img.path("work/restore.log")).unwrap_or_default();
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("Error")).collect();
        panic!("restore {id}: exit {code}; {errors:?}");
    }
    pipes
}

fn run_with_pipes(hull: &Hull, b: &Bundle, id: &str) -> Pipes {
    let mut pipes = Pipes::new();
    let code = pipes.hull(
        hull,
        &["run", "-d", "--bundle", b.path().to_str().unwrap(), id],
    );
    assert_eq!(code, 0, "run -d {id}");
    pipes
}

fn assert_checkpointed(hull: &Hull, id: &str, r: &common::Run) {
    assert_eq!(r.code, 0, "checkpoint {id}: {}", r.stderr);
    assert_eq!(r.stderr, "", "checkpoint says nothing when it works");
    let st = hull.run(&["state", id]);
    assert_ne!(st.code, 0, "the checkpointed container is gone");
    assert!(st.stderr.contains("does not exist"), "{}", st.stderr);
}

#[test]
fn a_counting_container_restored_twice_continues_its_count_on_new_pipes() {
    require_criu!();
    let hull = Hull::default();
    let b = bundle(COUNTER);
    let id = id("cr");
    let _g = common::DeleteOnPanic::new(&hull, &id);
    let img = Images::new();
    let mut p = run_with_pipes(&hull, &b, &id);
    assert_eq!(p.ask("a"), "1 a");
    let first_pid = hull.state(&id)["pid"].as_i64().unwrap();

    for (round, want) in [(1, "2 b"), (2, "3 b")] {
        let r = checkpoint(&hull, &id, &img, &[]);
        assert_checkpointed(&hull, &id, &r);
        assert!(
            !common::alive(first_pid) || round > 1,
            "the dumped init is gone"
        );
        let descriptors = std::fs::read_to_string(img.path("image/descriptors.json")).unwrap();
        assert!(descriptors.contains("pipe:["), "{descriptors}");

        let mut q = restore_with_pipes(&hull, &id, &img, &b, &[]);
        assert_eq!(q.ask("b"), want, "round {round}: the count goes on");
        let st = hull.state(&id);
        assert_eq!(st["status"], "running");
        let pid = st["pid"].as_i64().unwrap();
        assert!(common::alive(pid));
        // A restored container is a normal one: exec, ps, pause, resume.
        let e = hull.run(&["exec", &id, "sh", "-c", "echo $$ >/dev/null; echo in"]);
        assert_eq!((e.code, e.stdout.trim()), (0, "in"), "{}", e.stderr);
        let ps = hull.run(&["ps", &id]);
        assert!(ps.stdout.contains(&pid.to_string()), "{}", ps.stdout);
        assert_eq!(hull.run(&["pause", &id]).code, 0);
        assert_eq!(hull.status(&id), "paused");
        assert_eq!(hull.run(&["resume", &id]).code, 0);
        p = q;
    }
    assert_eq!(p.ask("c"), "4 c");
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn pre_dump_then_dump_with_parent_and_leave_running() {
    require_criu!();
    if !criu_has("mem_dirty_track") {
        eprintln!("skipped: this kernel has no memory dirty tracking (criu check --feature mem_dirty_track)");
        return;
    }
    let hull = Hull::default();
    let b = bundle(COUNTER);
    let id = id("crpre");
    let _g = common::DeleteOnPanic::new(&hull, &id);
    let img = Images::new();
    let mut p = run_with_pipes(&hull, &b, &id);
    assert_eq!(p.ask("a"), "1 a");

    let parent = img.path("parent");
    let r = hull.run(&["checkpoint", "--pre-dump", "--image-path", &parent, &id]);
    assert_eq!(r.code, 0, "pre-dump: {}", r.stderr);
    assert_eq!(hull.status(&id), "running", "a pre-dump leaves it running");
    assert!(
        Path::new(&parent).join("pagemap-1.img").exists()
            || std::fs::read_dir(&parent).unwrap().count() > 0
    );
    assert_eq!(p.ask("b"), "2 b");

    let r = checkpoint(
        &hull,
        &id,
        &img,
        &["--parent-path", "../parent", "--leave-running"],
    );
    assert_eq!(r.code, 0, "dump: {}", r.stderr);
    assert!(
        std::fs::symlink_metadata(img.path("image/parent")).is_ok(),
        "CRIU links the dump to its parent"
    );
    assert_eq!(hull.status(&id), "running", "--leave-running");
    assert_eq!(p.ask("c"), "3 c");
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());

    // The image is of the moment of the dump: two lines counted.
    let mut q = restore_with_pipes(&hull, &id, &img, &b, &[]);
    assert_eq!(q.ask("d"), "3 d");
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn restore_under_a_new_id_into_a_new_cgroup() {
    require_criu!();
    let hull = Hull::default();
    let mut b = bundle(COUNTER);
    let old = id("crold");
    let new = id("crnew");
    let _g = common::DeleteOnPanic::new(&hull, &old);
    let _h = common::DeleteOnPanic::new(&hull, &new);
    let old_cg = format!("/{old}");
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(old_cg);
        c["linux"]["resources"]["pids"] = json!({"limit": 100});
    });
    let img = Images::new();
    let mut p = run_with_pipes(&hull, &b, &old);
    assert_eq!(p.ask("a"), "1 a");
    let r = checkpoint(&hull, &old, &img, &["--manage-cgroups-mode", "ignore"]);
    assert_checkpointed(&hull, &old, &r);
    let cgroup_dir = |name: &str| cgroup_root().join(name.trim_start_matches('/'));
    assert!(
        !cgroup_dir(&old_cg).exists(),
        "the old cgroup went with the container"
    );

    let new_cg = format!("/{new}");
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(new_cg);
        c["linux"]["resources"]["pids"] = json!({"limit": 42});
    });
    let mut q = restore_with_pipes(&hull, &new, &img, &b, &["--manage-cgroups-mode", "ignore"]);
    assert_eq!(q.ask("b"), "2 b");
    let pid = hull.state(&new)["pid"].as_i64().unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cg.contains(&new_cg), "restored into the new cgroup: {cg}");
    assert!(
        !cgroup_dir(&old_cg).exists(),
        "the old cgroup is not made again"
    );
    let pids_max = pids_max_of(&new_cg);
    assert_eq!(pids_max.trim(), "42", "the new config's limits");
    assert_eq!(hull.run(&["delete", "-f", &new]).code, 0);
    assert_no_leaks(&hull, &new, b.path());
    assert_no_leaks(&hull, &old, b.path());
}

#[test]
fn an_established_loopback_tcp_connection_survives_with_tcp_established() {
    require_criu!();
    let hull = Hull::default();
    // A counting server on 127.0.0.1 and a client relaying the container's stdio to it:
    // an answer after the restore comes over the connection made before the dump.
    let b = bundle(
        "nc -l -p 7000 -e /count.sh & \
         until nc 127.0.0.1 7000 2>/dev/null; do sleep 0.1; done",
    );
    let script = b.rootfs().join("count.sh");
    std::fs::write(&script, format!("#!/bin/sh\n{COUNTER}\n")).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let id = id("crtcp");
    let _g = common::DeleteOnPanic::new(&hull, &id);
    let img = Images::new();
    let mut p = run_with_pipes(&hull, &b, &id);
    assert_eq!(p.ask("a"), "1 a");

    let r = checkpoint(&hull, &id, &img, &[]);
    assert_ne!(
        r.code, 0,
        "an established connection needs --tcp-established"
    );
    assert!(
        r.stderr.contains("dump.log"),
        "names CRIU's log: {}",
        r.stderr
    );
    assert_eq!(
        hull.status(&id),
        "running",
        "a failed dump leaves it running"
    );
    assert_eq!(p.ask("b"), "2 b");

    let r = checkpoint(&hull, &id, &img, &["--tcp-established"]);
    assert_checkpointed(&hull, &id, &r);
    let streams = std::fs::read_dir(img.path("image"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("tcp-stream-")
        })
        .count();
    assert_eq!(streams, 2, "both ends of the connection are in the image");

    let (code, mut q) = try_restore(&hull, &id, &img, &b, &["--tcp-established"]);
    if code != 0 {
        // CRIU 3.17 on Debian's 6.1 kernel restores the sockets before the new network
        // namespace's loopback ("Can't connect inet socket back: Network is
        // unreachable"); runc fails the same. Nothing may be left of the failed restore.
        let log = std::fs::read_to_string(img.path("work/restore.log")).unwrap_or_default();
        assert!(
            log.contains("Network is unreachable"),
            "restore failed: {log}"
        );
        assert_no_leaks(&hull, &id, b.path());
        eprintln!("skipped: the restore of the connection: CRIU cannot reconnect a loopback TCP socket in a new network namespace here");
        return;
    }
    assert_eq!(
        q.ask("c"),
        "3 c",
        "the connection and the server's count came back"
    );
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn lazy_pages_are_served_to_a_restore_under_a_new_id() {
    require_criu!();
    if !criu_has("uffd-noncoop") {
        eprintln!("skipped: this kernel has no userfaultfd for lazy pages (criu check --feature uffd-noncoop)");
        return;
    }
    let hull = Hull::default();
    let b = bundle(COUNTER);
    let old = id("crlazy");
    let new = id("crlazy2");
    let _g = common::DeleteOnPanic::new(&hull, &old);
    let _h = common::DeleteOnPanic::new(&hull, &new);
    let img = Images::new();
    let mut p = run_with_pipes(&hull, &b, &old);
    assert_eq!(p.ask("a"), "1 a");

    // The dump serves the memory from a page server and says so on --status-fd.
    let port = free_port();
    let (ready_r, ready_w) = nix::unistd::pipe().unwrap();
    let (image, work) = (img.path("image"), img.path("work"));
    let server = format!("127.0.0.1:{port}");
    let mut dump = hull.cmd();
    dump.args(["checkpoint", "--lazy-pages", "--page-server", &server])
        .args([
            "--status-fd",
            "3",
            "--image-path",
            &image,
            "--work-path",
            &work,
            &old,
        ]);
    let ready_fd = ready_w.as_raw_fd();
    // SAFETY: dup2 only, between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut dump, move || {
            match libc::dup2(ready_fd, 3) {
                -1 => Err(std::io::Error::last_os_error()),
                _ => Ok(()),
            }
        });
    }
    let mut dump = dump.stderr(Stdio::piped()).spawn().unwrap();
    drop(ready_w);
    let mut ready = std::fs::File::from(ready_r);
    let mut byte = [1u8; 1];
    let n = ready.read(&mut byte).unwrap();
    assert_eq!(
        (n, byte[0]),
        (1, 0),
        "one NUL byte once the page server is up"
    );

    // CRIU's lazy-pages daemon fetches the pages from it for the restored process.
    let mut daemon = std::process::Command::new("criu")
        .args(["lazy-pages", "--page-server", "--address", "127.0.0.1"])
        .args(["--port", &port.to_string(), "-D", &image, "-W", &work, "-o"])
        .arg("lazy-pages.log")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    // The restore connects to the daemon's socket in the work dir.
    let socket = Path::new(&work).join("lazy-pages.socket");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "criu lazy-pages made no socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut q = restore_with_pipes(&hull, &new, &img, &b, &["--lazy-pages"]);
    assert_eq!(q.ask("b"), "2 b", "the restored memory, fetched lazily");

    let status = dump.wait().unwrap();
    let mut err = String::new();
    dump.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        status.success(),
        "the dump ends once its pages are taken: {err}"
    );
    assert!(daemon.wait().unwrap().success(), "criu lazy-pages");
    assert_eq!(q.ask("c"), "3 c");
    let r = hull.run(&["state", &old]);
    assert!(
        r.stderr.contains("does not exist"),
        "the dumped container is gone: {}",
        r.stderr
    );
    assert_no_leaks(&hull, &old, b.path());
    assert_eq!(hull.run(&["delete", "-f", &new]).code, 0);
    assert_no_leaks(&hull, &new, b.path());
}

/// A TCP port on 127.0.0.1 nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The cgroup2 root, or the pids hierarchy on a v1 host.
fn cgroup_root() -> std::path::PathBuf {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "/sys/fs/cgroup".into()
    } else {
        "/sys/fs/cgroup/pids".into()
    }
}

fn pids_max_of(cg: &str) -> String {
    std::fs::read_to_string(
        cgroup_root()
            .join(cg.trim_start_matches('/'))
            .join("pids.max"),
    )
    .unwrap()
}

#[test]
fn a_terminal_container_comes_back_on_a_new_console_socket() {
    require_criu!();
    let hull = Hull::default();
    let mut b = bundle("i=0; while read l; do i=$((i+1)); echo \"n=$i\"; done");
    b.edit(|c| c["process"]["terminal"] = json!(true));
    let id = id("crtty");
    let _g = common::DeleteOnPanic::new(&hull, &id);
    let img = Images::new();
    let sockdir = tempfile::tempdir().unwrap();

    let (master, kind) = with_console(&sockdir.path().join("a.sock"), |sock| {
        let r = hull.run_detached(&[
            "run",
            "-d",
            "--console-socket",
            sock,
            "--bundle",
            b.path().to_str().unwrap(),
            &id,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    });
    assert_eq!(kind, b"/dev/ptmx");
    let mut m = std::fs::File::from(master);
    m.write_all(b"x\n").unwrap();
    read_until(&mut m, "n=1");

    let r = checkpoint(&hull, &id, &img, &[]);
    assert_checkpointed(&hull, &id, &r);
    let (master, _) = with_console(&sockdir.path().join("b.sock"), |sock| {
        let mut args = restore_args(&img, &b, &["--console-socket", sock]);
        args.push(id.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = hull.run_detached(&args);
        assert_eq!(r.code, 0, "restore: {}", r.stderr);
    });
    let mut m = std::fs::File::from(master);
    m.write_all(b"y\n").unwrap();
    read_until(&mut m, "n=2");
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

/// Listens on `path`, runs `f` with it, and returns the pty master sent there.
fn with_console(path: &Path, f: impl FnOnce(&str)) -> (OwnedFd, Vec<u8>) {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    let accept = std::thread::spawn(move || common::accept_fd(&listener));
    f(path.to_str().unwrap());
    accept.join().unwrap()
}

fn read_until(m: &mut std::fs::File, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    while !seen.contains(want) {
        assert!(Instant::now() < deadline, "never saw {want:?}: {seen:?}");
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(m),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(200u16)).unwrap() == 0 {
            continue;
        }
        let n = m.read(&mut buf).unwrap();
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

#[test]
fn failures_say_why_in_one_line_and_leave_nothing() {
    require_criu!();
    let hull = Hull::default();
    let b = bundle(COUNTER);
    let img = Images::new();

    // A created container cannot be checkpointed; it stays created.
    let created = id("crcreated");
    let _g = common::DeleteOnPanic::new(&hull, &created);
    assert_eq!(hull.create(&b, &created).code, 0);
    let r = checkpoint(&hull, &created, &img, &[]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.trim(),
        "hull: Container cannot be checkpointed in created state"
    );
    assert_eq!(hull.status(&created), "created");
    assert_eq!(hull.run(&["delete", "-f", &created]).code, 0);
    assert_no_leaks(&hull, &created, b.path());

    // No CRIU: the container runs on.
    let id = id("crfail");
    let _h = common::DeleteOnPanic::new(&hull, &id);
    let mut p = run_with_pipes(&hull, &b, &id);
    assert_eq!(p.ask("a"), "1 a");
    let r = hull.run(&[
        "--criu",
        "/nonexistent/criu",
        "checkpoint",
        "--image-path",
        &img.path("x"),
        &id,
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("not found") && r.stderr.contains("/nonexistent/criu"),
        "{}",
        r.stderr
    );
    assert_eq!(hull.status(&id), "running");

    // CRIU failing: a container holding a file from outside its mounts (the host's
    // /dev/null as stdin) cannot be dumped. One line naming CRIU's log; it runs on,
    // neither stopped nor left frozen.
    let held = common::id("crheld");
    let _i = common::DeleteOnPanic::new(&hull, &held);
    let sleeper = Bundle::with_own_rootfs(&["sleep", "1000"]);
    hull.run_d(&sleeper, &held);
    let r = checkpoint(&hull, &held, &img, &[]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    assert!(
        r.stderr.contains("work/dump.log"),
        "names CRIU's log: {}",
        r.stderr
    );
    assert_eq!(hull.status(&held), "running");
    assert_eq!(hull.run(&["delete", "-f", &held]).code, 0);
    assert_no_leaks(&hull, &held, sleeper.path());

    // A bad --parent-path is refused before CRIU runs.
    let r = checkpoint(&hull, &id, &img, &["--pre-dump", "--parent-path", "/abs"]);
    assert!(
        r.stderr.contains("--parent-path must be relative"),
        "{}",
        r.stderr
    );
    let r = checkpoint(
        &hull,
        &id,
        &img,
        &["--pre-dump", "--parent-path", "./missing"],
    );
    assert!(r.stderr.contains("invalid --parent-path"), "{}", r.stderr);
    assert_eq!(p.ask("b"), "2 b");

    // Restore from a directory without images: no container, no cgroup, no process.
    let other = common::id("crnone");
    let empty = Images::new();
    std::fs::create_dir(empty.path("image")).unwrap();
    let mut args = restore_args(&empty, &b, &[]);
    args.push(other.clone());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = hull.run_detached(&args);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("descriptors.json"), "{}", r.stderr);
    assert_no_leaks(&hull, &other, b.path());

    // CRIU failing half-way through a restore (a damaged image): the same.
    let r = checkpoint(&hull, &id, &img, &[]);
    assert_checkpointed(&hull, &id, &r);
    std::fs::write(img.path("image/pstree.img"), b"damaged").unwrap();
    let (code, mut q) = try_restore(&hull, &id, &img, &b, &[]);
    assert_eq!(code, 1);
    let mut err = String::new();
    q.from.read_line(&mut err).unwrap();
    assert!(err.contains("work/restore.log"), "names CRIU's log: {err}");
    assert_no_leaks(&hull, &id, b.path());
}

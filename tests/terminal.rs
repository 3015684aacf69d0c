//! Terminals and fd passing: the pty master over --console-socket (a receiver here, as
//! containerd's shim and conmon have), consoleSize, exec -t, a foreground run -t, and
//! --pidfd-socket.

mod common;

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

use common::{assert_no_leaks, id, Bundle, Hull};
use serde_json::json;

/// A console socket in a temp dir, as the shim makes one.
struct Receiver {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    listener: UnixListener,
}

impl Receiver {
    fn new() -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.sock");
        let listener = UnixListener::bind(&path).unwrap();
        Receiver {
            _dir: dir,
            path,
            listener,
        }
    }

    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Accepts one connection and takes the fd sent on it with SCM_RIGHTS.
    fn receive(&self) -> (OwnedFd, String) {
        self.listener.set_nonblocking(false).unwrap();
        let (fd, name) = common::accept_fd(&self.listener);
        (fd, String::from_utf8_lossy(&name).into_owned())
    }
}

/// Everything the process writes to the pty, until it hangs up.
fn read_all(master: OwnedFd) -> String {
    let mut f = std::fs::File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // EIO: every peer is closed.
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn tty_bundle(args: &[&str]) -> Bundle {
    let mut b = Bundle::new(args);
    b.edit(|c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["consoleSize"] = json!({"height": 33, "width": 101});
    });
    b
}

#[test]
fn create_sends_the_pty_master_to_the_console_socket() {
    require_root!();
    let hull = Hull::default();
    let b = tty_bundle(&[
        "sh",
        "-c",
        "tty; stty size; echo $TERM; ls -l /proc/self/fd/0",
    ]);
    let id = id("console");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    let rx = Receiver::new();
    let r = hull.create_with(&b, &id, &["--console-socket", rx.path()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (master, name) = rx.receive();
    assert_eq!(name, "/dev/ptmx");
    let st = nix::sys::stat::fstat(master.as_raw_fd()).unwrap();
    assert_eq!(st.st_rdev, libc::makedev(5, 2), "a pty master");
    assert_eq!(hull.run_detached(&["start", &id]).code, 0);
    let out = read_all(master);
    let lines: Vec<&str> = out.split("\r\n").collect();
    assert_eq!(lines[0], "/dev/pts/0", "{out:?}");
    assert_eq!(lines[1], "33 101", "consoleSize: {out:?}");
    assert_eq!(lines[2], "xterm", "{out:?}");
    assert!(
        lines[3].ends_with("/dev/pts/0"),
        "stdin is the pty: {out:?}"
    );
    hull.wait_status(&id, "stopped");
    assert_eq!(hull.run(&["delete", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn exec_tty_through_the_console_socket_and_in_the_foreground() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = id("exectty");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    hull.run_d(&b, &id);

    let rx = Receiver::new();
    let r = hull.run_detached(&[
        "exec",
        "-t",
        "-d",
        "--console-socket",
        rx.path(),
        &id,
        "sh",
        "-c",
        "tty; exit 3",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (master, _) = rx.receive();
    let out = read_all(master);
    assert!(out.starts_with("/dev/pts/"), "{out:?}");

    // Foreground: hull relays the pty to its own stdout and returns the exit code.
    let r = hull.run(&["exec", "-t", &id, "sh", "-c", "tty; echo out; exit 4"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stdout.starts_with("/dev/pts/"), "{:?}", r.stdout);
    assert!(
        r.stdout.contains("\nout\n"),
        "the relay clears ONLCR as runc does, so no \\r: {:?}",
        r.stdout
    );

    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn foreground_run_with_a_terminal() {
    require_root!();
    let r = common::run_in(
        |c| {
            c["process"]["terminal"] = json!(true);
            c["process"]["consoleSize"] = json!({"height": 10, "width": 20});
        },
        &["sh", "-c", "tty; stty size; exit 5"],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    // hull's stdin is not a terminal here, so consoleSize stays; the relay clears ONLCR
    // (runc does too), so lines end in "\n" as the process wrote them.
    assert_eq!(r.stdout, "/dev/pts/0\n10 20\n");
}

#[test]
fn console_socket_misuse_is_refused_and_leaves_nothing() {
    require_root!();
    let hull = Hull::default();
    let rx = Receiver::new();
    let cases: [(bool, Vec<&str>, &str); 3] = [
        (
            true,
            vec![],
            "cannot allocate tty if hull will detach without setting console socket",
        ),
        (
            false,
            vec!["--console-socket", rx.path()],
            "cannot use console socket if hull will not detach or allocate tty",
        ),
        (
            true,
            vec!["--console-socket", "/no/such/socket"],
            "connect to console socket /no/such/socket: no such file or directory",
        ),
    ];
    for (terminal, extra, want) in cases {
        let mut b = Bundle::new(&["true"]);
        b.edit(|c| c["process"]["terminal"] = json!(terminal));
        let id = id("badconsole");
        let _guard_id = common::DeleteOnPanic::new(&hull, &id);
        let r = hull.create_with(&b, &id, &extra);
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains(want), "{}", r.stderr);
        assert_no_leaks(&hull, &id, b.path());
    }
}

#[test]
fn pidfd_socket_receives_a_pidfd_of_the_init() {
    require_root!();
    let hull = Hull::default();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = id("pidfd");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    let rx = Receiver::new();
    let r = hull.create_with(&b, &id, &["--pidfd-socket", rx.path()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (fd, _) = rx.receive();
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    let pid = hull.state(&id)["pid"].as_i64().unwrap();
    assert!(info.contains(&format!("Pid:\t{pid}\n")), "{info}");
    // It really is the init: signalling through it kills the container.
    // SAFETY: plain syscall on our fd.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), 9, 0usize, 0u32) };
    assert_eq!(rc, 0);
    hull.wait_status(&id, "stopped");
    assert_eq!(hull.run(&["delete", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

#[test]
fn dev_console_is_the_terminal_and_never_a_symlink() {
    require_root!();
    let r = common::run_in(
        |c| c["process"]["terminal"] = json!(true),
        &[
            "sh",
            "-c",
            "stat -L -c '%t:%T %i' /dev/console /proc/self/fd/0",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{:?}", r.stdout);
    assert_eq!(lines[0], lines[1], "/dev/console is the process's pty");
    assert!(
        lines[0].starts_with("88:"),
        "a pts node (major 136): {:?}",
        r.stdout
    );

    // An image whose /dev/console points at a host file: refused, the file untouched.
    let host = tempfile::tempdir().unwrap();
    let canary = host.path().join("canary");
    std::fs::write(&canary, "canary").unwrap();
    let hull = Hull::default();
    let mut b = Bundle::with_own_rootfs(&["true"]);
    std::os::unix::fs::symlink(&canary, b.rootfs().join("dev/console")).unwrap();
    b.edit(|c| {
        c["process"]["terminal"] = json!(true);
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/dev");
    });
    let id = id("consolelink");
    let r = hull.run_container(&b, &id);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("/dev/console must be an ordinary file"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "canary");
    assert_no_leaks(&hull, &id, b.path());
}

/// Without a mount namespace nothing is mounted, so the rootfs has no /dev: the terminal
/// comes from the host's devpts, opened before the chroot (runc's host-mntns.bats).
#[test]
fn a_terminal_without_a_mount_namespace() {
    require_root!();
    let hull = Hull::default();
    let mut b = tty_bundle(&["sh", "-c", "stty size; echo Hello"]);
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "mount");
        c["linux"]["maskedPaths"] = json!([]);
        c["linux"]["readonlyPaths"] = json!([]);
    });
    let id = id("nomntns");
    let _guard_id = common::DeleteOnPanic::new(&hull, &id);
    let rx = Receiver::new();
    let r = hull.create_with(&b, &id, &["--console-socket", rx.path()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (master, _) = rx.receive();
    assert_eq!(hull.run_detached(&["start", &id]).code, 0);
    assert_eq!(read_all(master), "33 101\r\nHello\r\n");
    hull.wait_status(&id, "stopped");
    assert_eq!(hull.run(&["delete", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

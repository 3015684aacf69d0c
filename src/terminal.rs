//! Pseudo-terminals. The child opens the pty inside the container (its own devpts, after
//! pivot or setns), takes the peer with TIOCGPTPEER rather than by a path the container
//! could swap, and sends the master over a unix socket: the caller's `--console-socket`,
//! or our own socketpair when a foreground `run`/`exec` relays the terminal itself.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket::{
    connect, recvmsg, sendmsg, socket, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType, UnixAddr,
};

const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

/// Rows and columns, as `process.consoleSize` gives them.
pub type Size = (u16, u16);

/// Opens a new pty through `ptmx` (the container's /dev/ptmx) and returns (master, peer).
/// The master must be a real ptmx on a devpts (char 5:2): a container could have put
/// anything there.
pub fn open_pty(ptmx: &str) -> Result<(OwnedFd, OwnedFd), Errno> {
    let fd = nix::fcntl::open(
        ptmx,
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: open returned a new fd.
    let master = unsafe { OwnedFd::from_raw_fd(fd) };
    let st = nix::sys::stat::fstat(master.as_raw_fd())?;
    let fs = nix::sys::statfs::fstatfs(&master)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR
        || st.st_rdev != libc::makedev(5, 2)
        || fs.filesystem_type().0 as i64 != DEVPTS_SUPER_MAGIC
    {
        return Err(Errno::EPERM);
    }
    let unlock: libc::c_int = 0;
    // SAFETY: ioctls on our fd with valid arguments.
    unsafe {
        Errno::result(libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock))?;
        let peer = Errno::result(libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        ))?;
        Ok((master, OwnedFd::from_raw_fd(peer)))
    }
}

pub fn set_size(fd: BorrowedFd<'_>, (rows, cols): Size) -> Result<(), Errno> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a valid winsize.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) }).map(|_| ())
}

pub fn get_size(fd: BorrowedFd<'_>) -> Option<Size> {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills a winsize.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    // A terminal nobody sized (0x0) says nothing: keep the one we have.
    (r == 0 && ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Makes `peer` the controlling terminal of the process's session (made at its start)
/// and its stdio.
pub fn become_console(peer: OwnedFd) -> Result<(), Errno> {
    // SAFETY: TIOCSCTTY on our fd.
    Errno::result(unsafe { libc::ioctl(peer.as_raw_fd(), libc::TIOCSCTTY, 0) })?;
    for target in 0..3 {
        nix::unistd::dup2(peer.as_raw_fd(), target)?;
    }
    Ok(())
}

/// Connects to a caller's unix socket (`what`: console socket, pidfd socket), before
/// anything is made, so that a bad path fails cleanly.
pub fn connect_socket(path: &Path, what: &str) -> crate::error::Result<OwnedFd> {
    use crate::error::Context;
    connect_unix(path).context(|| format!("connect to {what} {}", path.display()))
}

/// A connected AF_UNIX stream socket (close-on-exec).
pub fn connect_unix(path: &Path) -> Result<OwnedFd, Errno> {
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    connect(sock.as_raw_fd(), &UnixAddr::new(path)?)?;
    Ok(sock)
}

/// Sends `fd` with SCM_RIGHTS along with `data` (a pty's name, as runc sends it; a
/// channel message; a seccomp agent's state).
pub fn send_fd(sock: RawFd, fd: BorrowedFd<'_>, data: &[u8]) -> Result<(), Errno> {
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(data)];
    loop {
        match sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
            Err(Errno::EINTR) => continue,
            r => return r.map(|_| ()),
        }
    }
}

/// Receives one message into `buf`: its length and the fd sent with it, if any.
pub fn recv_with_fd(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<(usize, Option<OwnedFd>), Errno> {
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = loop {
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(Errno::EINTR) => continue,
            r => break r?,
        }
    };
    let mut received = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: the kernel installed this fd for us.
                received = Some(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Ok((msg.bytes, received))
}

/// Receives one fd sent by `send_fd`.
pub fn recv_fd(sock: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    let mut buf = [0u8; 4096];
    recv_with_fd(sock, &mut buf)?.1.ok_or(Errno::EBADMSG)
}

/// Turns off the pty's newline translation.
pub fn clear_onlcr(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    use nix::sys::termios::{tcgetattr, tcsetattr, OutputFlags, SetArg};
    let mut t = tcgetattr(fd)?;
    t.output_flags.remove(OutputFlags::ONLCR);
    tcsetattr(fd, SetArg::TCSANOW, &t)
}

/// Puts the terminal on `fd` in raw mode; the returned guard restores it.
pub struct RawMode {
    fd: RawFd,
    saved: nix::sys::termios::Termios,
}

impl RawMode {
    pub fn enter(fd: BorrowedFd<'_>) -> Option<RawMode> {
        let saved = nix::sys::termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        nix::sys::termios::cfmakeraw(&mut raw);
        nix::sys::termios::tcsetattr(fd, nix::sys::termios::SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode {
            fd: fd.as_raw_fd(),
            saved,
        })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: the fd (our stdin) outlives the guard.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = nix::sys::termios::tcsetattr(fd, nix::sys::termios::SetArg::TCSANOW, &self.saved);
    }
}

/// Copies what is readable on `from` to `to`; false at EOF or error.
pub fn pump(from: BorrowedFd<'_>, to: impl AsFd) -> bool {
    let mut buf = [0u8; 8192];
    let n = match nix::unistd::read(from.as_raw_fd(), &mut buf) {
        Ok(0) | Err(_) => return false,
        Ok(n) => n,
    };
    let mut rest = &buf[..n];
    while !rest.is_empty() {
        match nix::unistd::write(to.as_fd(), rest) {
            Ok(w) => rest = &rest[w..],
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => continue,
            Err(_) => return false,
        }
    }
    true
}

/// The child's side of a [`ConsoleTarget`].
#[derive(Clone, Copy)]
pub struct ChildConsole {
    pub sock: RawFd,
    /// hull relays the pty itself: as runc, its output then keeps the process's bytes
    /// ("\n", not "\r\n"); a console socket's receiver gets the pty's defaults.
    pub relayed: bool,
}

/// Where the child's pty master goes: the caller's console socket, or back to us for a
/// foreground process whose terminal hull relays.
pub enum ConsoleTarget {
    Socket(OwnedFd),
    Relay { ours: OwnedFd, child: OwnedFd },
}

impl ConsoleTarget {
    pub fn open(console_socket: Option<&Path>) -> crate::error::Result<ConsoleTarget> {
        use crate::error::Context;
        match console_socket {
            Some(path) => connect_socket(path, "console socket").map(ConsoleTarget::Socket),
            None => {
                let (ours, child) = nix::sys::socket::socketpair(
                    AddressFamily::Unix,
                    SockType::Stream,
                    None,
                    SockFlag::SOCK_CLOEXEC,
                )
                .context(|| "socketpair for the console".into())?;
                Ok(ConsoleTarget::Relay { ours, child })
            }
        }
    }

    /// What the child needs: the fd it sends the master on, and whether hull relays it.
    pub fn child_end(&self) -> ChildConsole {
        match self {
            ConsoleTarget::Socket(s) => ChildConsole {
                sock: s.as_raw_fd(),
                relayed: false,
            },
            ConsoleTarget::Relay { child, .. } => ChildConsole {
                sock: child.as_raw_fd(),
                relayed: true,
            },
        }
    }

    /// Once the child has set up its terminal: the master to relay (None when it went to
    /// the caller's socket).
    pub fn into_master(self) -> crate::error::Result<Option<OwnedFd>> {
        use crate::error::Context;
        match self {
            ConsoleTarget::Socket(_) => Ok(None),
            ConsoleTarget::Relay { ours, child } => {
                drop(child);
                recv_fd(ours.as_fd())
                    .map(Some)
                    .context(|| "receive the pty master".into())
            }
        }
    }
}

/// runc's rules for `process.terminal` and `--console-socket`: a detached process with a
/// terminal needs the socket, and the socket is only for a detached one with a terminal.
pub fn check_console_args(
    terminal: bool,
    detach: bool,
    console_socket: Option<&Path>,
) -> crate::error::Result<()> {
    if detach && terminal && console_socket.is_none() {
        return Err(crate::error::Error::msg(
            "cannot allocate tty if hull will detach without setting console socket",
        ));
    }
    if (!detach || !terminal) && console_socket.is_some() {
        return Err(crate::error::Error::msg(
            "cannot use console socket if hull will not detach or allocate tty",
        ));
    }
    Ok(())
}

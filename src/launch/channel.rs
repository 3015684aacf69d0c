//! Parent <-> child channel: a SOCK_SEQPACKET socketpair carrying the messages below, one
//! datagram each. This table is the whole protocol; nothing else invents a message.
//!
//! | message       | sender | when                                              | answer        |
//! |---------------|--------|---------------------------------------------------|---------------|
//! | `Proceed`     | parent | child is in its cgroup, its id maps are written   | -             |
//! | `WantHooks`   | child  | namespaces and mounts are ready, before pivot     | `HooksDone`   |
//! | `HooksDone`   | parent | prestart + createRuntime ran; carries state JSON   | -             |
//! | `Ready`       | child  | fully set up; about to wait for `start` or exec   | `Detach`      |
//! | `Detach`      | parent | state recorded; the child may outlive the parent  | -             |
//! | `Failed`      | child  | a step failed: step name, errno, detail           | (parent ends) |
//! | `Init`        | stage 1| (two-stage plans) the init is cloned: its pid     | -             |
//! | `Listener`    | child  | seccomp is loaded; carries the NOTIFY listener fd | -             |
//! | `WantSource`  | child  | (user namespace) mount i is a bind: open its source | `Source`    |
//! | `Source`      | parent | errno, 0 with the source's O_PATH fd attached      | -             |
//!
//! The runtime's mount helper (see `send_source`) answers it on a channel of its own with
//! `Source` (the idmapped tree attached) or `Failed`.
//!
//! A closed socket (EOF) from the child means it died without a word (killed, crashed).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    Proceed,
    WantHooks,
    HooksDone(Vec<u8>),
    Ready,
    Detach,
    Failed {
        step: String,
        errno: i32,
        detail: String,
    },
    Init(i32),
    /// Comes with an fd (SCM_RIGHTS): take it with [`Channel::take_fd`].
    Listener,
    /// The index of a bind mount in the plan.
    WantSource(u32),
    /// 0 and an fd, or the errno of the open.
    Source(i32),
}

const MAX_MSG: usize = 1 << 20;

impl Msg {
    fn encode(&self) -> Vec<u8> {
        match self {
            Msg::Proceed => vec![1],
            Msg::WantHooks => vec![2],
            Msg::HooksDone(state) => [&[3u8][..], state].concat(),
            Msg::Ready => vec![4],
            Msg::Detach => vec![5],
            Msg::Failed {
                step,
                errno,
                detail,
            } => {
                let mut v = vec![6];
                v.extend_from_slice(&errno.to_le_bytes());
                v.extend_from_slice(&(step.len() as u32).to_le_bytes());
                v.extend_from_slice(step.as_bytes());
                v.extend_from_slice(detail.as_bytes());
                v
            }
            Msg::Init(pid) => [&[7u8][..], &pid.to_le_bytes()].concat(),
            Msg::Listener => vec![8],
            Msg::WantSource(i) => [&[9u8][..], &i.to_le_bytes()].concat(),
            Msg::Source(errno) => [&[10u8][..], &errno.to_le_bytes()].concat(),
        }
    }

    fn decode(b: &[u8]) -> Option<Msg> {
        Some(match *b.first()? {
            1 => Msg::Proceed,
            2 => Msg::WantHooks,
            3 => Msg::HooksDone(b[1..].to_vec()),
            4 => Msg::Ready,
            5 => Msg::Detach,
            6 => {
                let errno = i32::from_le_bytes(b.get(1..5)?.try_into().ok()?);
                let n = u32::from_le_bytes(b.get(5..9)?.try_into().ok()?) as usize;
                let step = String::from_utf8_lossy(b.get(9..9 + n)?).into_owned();
                let detail = String::from_utf8_lossy(b.get(9 + n..)?).into_owned();
                Msg::Failed {
                    step,
                    errno,
                    detail,
                }
            }
            7 => Msg::Init(i32::from_le_bytes(b.get(1..5)?.try_into().ok()?)),
            8 => Msg::Listener,
            9 => Msg::WantSource(u32::from_le_bytes(b.get(1..5)?.try_into().ok()?)),
            10 => Msg::Source(i32::from_le_bytes(b.get(1..5)?.try_into().ok()?)),
            _ => return None,
        })
    }
}

/// One end of the channel.
pub struct Channel {
    fd: OwnedFd,
    /// The fd that came with the last message, if any.
    received: std::cell::Cell<Option<OwnedFd>>,
}

impl Channel {
    /// (parent end, child end), both close-on-exec.
    pub fn pair() -> Result<(Channel, Channel), Errno> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        let end = |fd| Channel {
            fd,
            received: Default::default(),
        };
        Ok((end(a), end(b)))
    }

    pub fn send(&self, m: &Msg) -> Result<(), Errno> {
        let data = m.encode();
        loop {
            match send(self.fd.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL) {
                Err(Errno::EINTR) => continue,
                r => return r.map(|_| ()),
            }
        }
    }

    /// Sends `m` with `fd` attached.
    pub fn send_with_fd(&self, m: &Msg, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        crate::terminal::send_fd(self.fd.as_raw_fd(), fd, &m.encode())
    }

    /// Next message; Ok(None) when the other end closed. An fd that came with it is kept
    /// for [`Channel::take_fd`].
    pub fn recv(&self) -> Result<Option<Msg>, Errno> {
        let mut buf = vec![0u8; MAX_MSG];
        let (n, fd) = crate::terminal::recv_with_fd(self.fd.as_fd(), &mut buf)?;
        if fd.is_some() {
            self.received.set(fd);
        }
        match n {
            0 => Ok(None),
            n => Msg::decode(&buf[..n]).map(Some).ok_or(Errno::EBADMSG),
        }
    }

    /// The fd that came with the last message.
    pub fn take_fd(&self) -> Option<OwnedFd> {
        self.received.take()
    }

    /// A message already waiting, without blocking.
    pub fn try_recv(&self) -> Option<Msg> {
        let mut buf = vec![0u8; MAX_MSG];
        match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(n) if n > 0 => Msg::decode(&buf[..n]),
            _ => None,
        }
    }

    // Intent-named calls, child side.

    /// Blocks until the parent has placed us in the cgroup and written the id maps.
    pub fn wait_for_proceed(&self) -> Result<(), Errno> {
        self.expect(|m| matches!(m, Msg::Proceed)).map(|_| ())
    }

    /// Asks the parent to run prestart/createRuntime hooks; returns the state JSON for ours.
    pub fn request_hooks(&self) -> Result<Vec<u8>, Errno> {
        self.send(&Msg::WantHooks)?;
        match self.expect(|m| matches!(m, Msg::HooksDone(_)))? {
            Msg::HooksDone(s) => Ok(s),
            _ => Err(Errno::EBADMSG),
        }
    }

    /// Asks the parent for the source of bind mount `index`, opened in our mount namespace.
    pub fn request_source(&self, index: usize) -> Result<OwnedFd, Errno> {
        self.send(&Msg::WantSource(index as u32))?;
        match self.expect(|m| matches!(m, Msg::Source(_)))? {
            Msg::Source(0) => self.take_fd().ok_or(Errno::EBADMSG),
            Msg::Source(errno) => Err(Errno::from_raw(errno)),
            _ => Err(Errno::EBADMSG),
        }
    }

    /// Reports that setup is complete and waits until the parent lets go.
    pub fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.fd)
    }

    pub fn report_ready_and_wait_detach(&self) -> Result<(), Errno> {
        self.send(&Msg::Ready)?;
        self.expect(|m| matches!(m, Msg::Detach)).map(|_| ())
    }

    pub fn report_failure(&self, step: &str, errno: i32, detail: &str) {
        let _ = self.send(&Msg::Failed {
            step: step.into(),
            errno,
            detail: detail.into(),
        });
    }

    fn expect(&self, want: impl Fn(&Msg) -> bool) -> Result<Msg, Errno> {
        match self.recv()? {
            Some(m) if want(&m) => Ok(m),
            Some(_) => Err(Errno::EBADMSG),
            None => Err(Errno::EPIPE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips() {
        let (a, b) = Channel::pair().unwrap();
        let msgs = [
            Msg::Proceed,
            Msg::WantHooks,
            Msg::HooksDone(b"{\"status\":\"created\"}".to_vec()),
            Msg::Ready,
            Msg::Detach,
            Msg::Init(4242),
            Msg::Failed {
                step: "mount /proc".into(),
                errno: 2,
                detail: "no such file".into(),
            },
        ];
        for m in &msgs {
            a.send(m).unwrap();
            assert_eq!(b.recv().unwrap().as_ref(), Some(m));
        }
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}

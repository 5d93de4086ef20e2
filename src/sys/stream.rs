//! Non-blocking stream connections as the daemon's listeners drive them (the control
//! socket, the metrics listener): what a failed `accept` means, writing what the peer
//! takes, and dropping what it sent before a close.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags};

/// Most connections a listener accepts per readiness event: the others wait for the next
/// turn, after everyone else had theirs.
pub const ACCEPT_BATCH: usize = 16;
/// How long a listener rests after `accept` failed for want of descriptors or memory.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What a failed `accept` means for the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptError {
    /// `EAGAIN`: no connection is waiting; done for this turn.
    Drained,
    /// `EINTR`, or `ECONNABORTED` (the peer gave up while queued): take the next.
    Retry,
    /// `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM` and the like: rest before trying again, or
    /// a listener that stays readable spins the loop.
    Exhausted,
}

impl AcceptError {
    pub fn of(e: &io::Error) -> AcceptError {
        match e.kind() {
            io::ErrorKind::WouldBlock => AcceptError::Drained,
            io::ErrorKind::Interrupted => AcceptError::Retry,
            _ if e.raw_os_error() == Some(libc::ECONNABORTED) => AcceptError::Retry,
            _ => AcceptError::Exhausted,
        }
    }
}

/// Sends `out[*written..]` as far as the socket takes it, advancing `written`. `Ok(true)`:
/// all of it is out; `Ok(false)`: the socket is full for now; `Err`: the peer is gone.
pub fn send_pending(fd: RawFd, out: &[u8], written: &mut usize) -> Result<bool, Errno> {
    while let Some(rest) = out.get(*written..).filter(|r| !r.is_empty()) {
        // MSG_NOSIGNAL: a peer that hung up must give us EPIPE, not SIGPIPE
        let flags = MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT;
        match socket::send(fd, rest, flags) {
            Ok(n) => *written += n,
            Err(Errno::EAGAIN) => return Ok(false),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Drops what the peer sent that will never be read (at most 64 KiB), so that our close is
/// a clean end of stream for it and not a reset, which could make it miss the answer just
/// sent.
pub fn discard_input(fd: RawFd) {
    let mut buf = [0u8; 4096];
    for _ in 0..16 {
        match socket::recv(fd, &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(n) if n > 0 => continue,
            Err(Errno::EINTR) => continue,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn accept_errors() {
        let of = |errno| AcceptError::of(&io::Error::from_raw_os_error(errno));
        assert_eq!(of(libc::EAGAIN), AcceptError::Drained);
        assert_eq!(of(libc::EINTR), AcceptError::Retry);
        assert_eq!(of(libc::ECONNABORTED), AcceptError::Retry);
        assert_eq!(of(libc::EMFILE), AcceptError::Exhausted);
        assert_eq!(of(libc::ENOBUFS), AcceptError::Exhausted);
    }

    #[test]
    fn sends_what_the_peer_takes_and_reports_a_full_socket() {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let big = vec![7u8; 4 << 20];
        let mut written = 0;
        assert_eq!(send_pending(a.as_raw_fd(), &big, &mut written), Ok(false));
        assert!(written > 0 && written < big.len());
        drop(b);
        assert_eq!(
            send_pending(a.as_raw_fd(), &big, &mut written),
            Err(Errno::EPIPE)
        );
        let (c, mut d) = UnixStream::pair().unwrap();
        let mut small = 0;
        assert_eq!(send_pending(c.as_raw_fd(), b"hi", &mut small), Ok(true));
        assert_eq!(small, 2);
        let mut got = [0u8; 2];
        d.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hi");
        drop(c);
        d.write_all(b"late").unwrap_or_default();
        discard_input(d.as_raw_fd());
    }
}

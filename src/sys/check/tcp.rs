//! A `tcp` check: the connect through the WAN completes before the deadline.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use socket2::Socket;

use super::{socket_errno, Error, Via};
use crate::check::{Cause, Outcome, Rtt, Step};
use crate::engine::Instant;
use crate::sys::poll::Ready;

/// A TCP connect in progress.
#[derive(Debug)]
pub struct TcpCheck {
    socket: Socket,
    started_at: Instant,
    deadline: Instant,
}

impl TcpCheck {
    pub fn start(
        now: Instant,
        deadline: Instant,
        via: &Via,
        addr: SocketAddr,
    ) -> Result<TcpCheck, Error> {
        let socket = via.connect(addr, true)?;
        // Closing sends a reset instead of a FIN: no TIME_WAIT left behind on either side
        // for a connection that carried nothing (what load-balancer health checks do).
        let _ = socket.set_linger(Some(Duration::ZERO));
        Ok(TcpCheck {
            socket,
            started_at: now,
            deadline,
        })
    }

    pub fn poll_at(&self) -> Instant {
        self.deadline
    }

    /// `POLLOUT` (or an error) on a connecting socket: the connect finished, and
    /// `SO_ERROR` says how.
    pub fn on_ready(&mut self, now: Instant, ready: Ready) -> Option<Outcome> {
        connected(&self.socket, ready).map(|result| {
            let connect = now - self.started_at;
            let rtt = Rtt {
                connect: Some(connect),
                ..Rtt::default()
            };
            match result {
                Ok(()) => Outcome::passed(rtt),
                Err(cause) => Outcome::failed(Step::Connect, cause, Rtt::default()),
            }
        })
    }

    pub fn on_timeout(&mut self, now: Instant) -> Option<Outcome> {
        (now >= self.deadline)
            .then(|| Outcome::failed(Step::Connect, Cause::Timeout, Rtt::default()))
    }
}

impl AsRawFd for TcpCheck {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// Whether a non-blocking connect has finished, and how: `None` while in progress.
pub(super) fn connected(socket: &Socket, ready: Ready) -> Option<Result<(), Cause>> {
    if !ready.any() {
        return None;
    }
    match socket_errno(socket) {
        0 if ready.writable => Some(Ok(())),
        // a hang-up without an error to read: poll would report it again and again
        0 if ready.error => Some(Err(Cause::Reset)),
        0 => None,
        errno => Some(Err(Cause::from_errno(errno))),
    }
}

//! `poll(2)` over raw descriptors and the monotonic clock: the two system calls the loop
//! is built on.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use crate::engine::Instant;

/// A reusable `pollfd` set: cleared and refilled every turn of the loop without allocating
/// once it has grown to the number of descriptors. Each descriptor carries the number of
/// its owner, so readiness goes back to whoever registered it.
#[derive(Debug, Default)]
pub struct Poller {
    fds: Vec<libc::pollfd>,
    owners: Vec<u8>,
}

/// What one descriptor is ready for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ready {
    pub readable: bool,
    pub writable: bool,
    /// `POLLERR`/`POLLHUP`/`POLLNVAL`: the owner should read to learn the error, or close.
    pub error: bool,
}

impl Ready {
    pub fn any(&self) -> bool {
        self.readable || self.writable || self.error
    }
}

impl Poller {
    pub fn clear(&mut self) {
        self.fds.clear();
        self.owners.clear();
    }

    /// Adds a descriptor (always for reading, optionally for writing) for owner 0; returns
    /// its slot.
    pub fn add(&mut self, fd: RawFd, want_write: bool) -> usize {
        self.add_for(0, fd, want_write)
    }

    /// Adds a descriptor on behalf of `owner` (always for reading, optionally for writing);
    /// returns its slot.
    pub fn add_for(&mut self, owner: u8, fd: RawFd, want_write: bool) -> usize {
        self.add_events(owner, fd, true, want_write)
    }

    /// Adds a descriptor on behalf of `owner` for reading and/or writing (errors and hang-ups
    /// are reported either way); returns its slot. A descriptor whose owner does not want to
    /// read now (a control client with an answer still to take) must not be polled for
    /// reading, or the loop would wake for it again and again.
    pub fn add_events(&mut self, owner: u8, fd: RawFd, read: bool, write: bool) -> usize {
        let events = if read { libc::POLLIN } else { 0 } | if write { libc::POLLOUT } else { 0 };
        self.fds.push(libc::pollfd {
            fd,
            events,
            revents: 0,
        });
        self.owners.push(owner);
        self.fds.len() - 1
    }

    /// The descriptors of `owner` in the order it added them, with their readiness after
    /// [`Poller::wait`].
    pub fn of_owner(&self, owner: u8) -> impl Iterator<Item = (RawFd, Ready)> + '_ {
        (0..self.fds.len())
            .filter(move |&slot| self.owners[slot] == owner)
            .map(|slot| (self.fd(slot), self.ready(slot)))
    }

    pub fn len(&self) -> usize {
        self.fds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }

    pub fn fd(&self, slot: usize) -> RawFd {
        self.fds.get(slot).map_or(-1, |p| p.fd)
    }

    /// Readiness of a slot after [`Poller::wait`].
    pub fn ready(&self, slot: usize) -> Ready {
        let r = self.fds.get(slot).map_or(0, |p| p.revents);
        Ready {
            readable: r & libc::POLLIN != 0,
            writable: r & libc::POLLOUT != 0,
            error: r & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0,
        }
    }

    /// Waits until a descriptor is ready or `timeout` passes (`None`: forever). `EINTR` is
    /// reported as zero ready descriptors, so the caller simply goes round its loop again.
    // The set holds raw descriptors (it is refilled every turn from parts that own them), so
    // `poll(2)` is called directly rather than through nix's `PollFd<'fd>` borrows.
    #[allow(unsafe_code)]
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        for p in &mut self.fds {
            p.revents = 0;
        }
        // Round up so a deadline 0.3 ms away does not become a busy 0 ms poll.
        let timeout_ms: libc::c_int = match timeout {
            None => -1,
            Some(d) => d
                .as_micros()
                .div_ceil(1000)
                .try_into()
                .unwrap_or(libc::c_int::MAX),
        };
        // SAFETY: `fds` is a valid, exclusively borrowed array of `len` pollfd structs for
        // the duration of the call.
        let n = unsafe {
            libc::poll(
                self.fds.as_mut_ptr(),
                self.fds.len() as libc::nfds_t,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(0)
            } else {
                Err(e)
            };
        }
        Ok(n as usize)
    }
}

/// `CLOCK_MONOTONIC` as an engine [`Instant`].
pub fn monotonic_now() -> Instant {
    // CLOCK_MONOTONIC is always there on Linux: the call cannot fail.
    let Ok(ts) = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) else {
        return Instant::ZERO;
    };
    let secs = u64::try_from(ts.tv_sec()).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec()).unwrap_or(0);
    Instant::from_micros(secs.saturating_mul(1_000_000).saturating_add(nanos / 1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn pipe_readiness_and_timeout() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let mut p = Poller::default();
        let slot = p.add(r.as_raw_fd(), false);
        assert_eq!(p.wait(Some(Duration::from_millis(1))).unwrap(), 0);
        assert!(!p.ready(slot).any());
        nix::unistd::write(&w, b"x").unwrap();
        assert_eq!(p.wait(Some(Duration::from_secs(5))).unwrap(), 1);
        assert!(p.ready(slot).readable);
        assert_eq!(p.fd(slot), r.as_raw_fd());
        assert!(!p.ready(99).any(), "an unknown slot is never ready");
    }

    #[test]
    fn hang_up_is_reported_as_error() {
        let (r, w) = nix::unistd::pipe().unwrap();
        drop(w);
        let mut p = Poller::default();
        let slot = p.add(r.as_raw_fd(), false);
        p.wait(Some(Duration::from_secs(5))).unwrap();
        assert!(p.ready(slot).error);
    }

    #[test]
    fn monotonic_clock_does_not_go_backwards() {
        let a = monotonic_now();
        let b = monotonic_now();
        assert!(b >= a);
    }
}

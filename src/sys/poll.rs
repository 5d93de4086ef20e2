//! `poll(2)` over raw descriptors and the monotonic clock: the two system calls the loop
//! is built on.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use crate::engine::Instant;

/// Readiness interest and result for one descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollFd {
    pub fd: RawFd,
    pub want_write: bool,
    pub readable: bool,
    pub writable: bool,
    /// `POLLERR`/`POLLHUP`/`POLLNVAL`: the owner should read to learn the error or close.
    pub error: bool,
}

impl PollFd {
    pub fn new(fd: RawFd, want_write: bool) -> PollFd {
        PollFd {
            fd,
            want_write,
            readable: false,
            writable: false,
            error: false,
        }
    }

    pub fn ready(&self) -> bool {
        self.readable || self.writable || self.error
    }
}

/// Waits until a descriptor is ready or `timeout` passes (`None`: forever). `EINTR` is
/// reported as zero ready descriptors, so the caller simply goes round its loop again.
pub fn poll(fds: &mut [PollFd], timeout: Option<Duration>) -> io::Result<usize> {
    let mut raw: Vec<libc::pollfd> = fds
        .iter()
        .map(|p| libc::pollfd {
            fd: p.fd,
            events: libc::POLLIN | if p.want_write { libc::POLLOUT } else { 0 },
            revents: 0,
        })
        .collect();
    // Round up so a deadline 0.3 ms away does not become a busy 0 ms poll.
    let timeout_ms: libc::c_int = match timeout {
        None => -1,
        Some(d) => d
            .as_micros()
            .div_ceil(1000)
            .try_into()
            .unwrap_or(libc::c_int::MAX),
    };
    // SAFETY: `raw` is a valid, exclusively borrowed array of `raw.len()` pollfd structs
    // for the duration of the call.
    let n = unsafe { libc::poll(raw.as_mut_ptr(), raw.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(0)
        } else {
            Err(e)
        };
    }
    for (p, r) in fds.iter_mut().zip(&raw) {
        p.readable = r.revents & libc::POLLIN != 0;
        p.writable = r.revents & libc::POLLOUT != 0;
        p.error = r.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0;
    }
    Ok(n as usize)
}

/// `CLOCK_MONOTONIC` as an engine [`Instant`].
pub fn monotonic_now() -> Instant {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC is always available on
    // Linux, so the call cannot fail with these arguments.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    Instant::from_micros(secs.saturating_mul(1_000_000).saturating_add(nanos / 1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn pipe_readiness_and_timeout() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let mut fds = [PollFd::new(r.as_raw_fd(), false)];
        assert_eq!(poll(&mut fds, Some(Duration::from_millis(1))).unwrap(), 0);
        assert!(!fds[0].ready());
        nix::unistd::write(&w, b"x").unwrap();
        assert_eq!(poll(&mut fds, Some(Duration::from_secs(5))).unwrap(), 1);
        assert!(fds[0].readable);
    }

    #[test]
    fn monotonic_clock_does_not_go_backwards() {
        let a = monotonic_now();
        let b = monotonic_now();
        assert!(b >= a);
    }
}

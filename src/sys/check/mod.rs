//! HTTP, DNS and TCP checks through one WAN: non-blocking sockets in the one poll loop.
//!
//! Every check opens its own socket, non-blocking, bound with `SO_BINDTODEVICE` to the
//! WAN's interface and to its source address (an ephemeral port the kernel picks at
//! random), so it leaves by that WAN whatever the default route says, and a WAN without a
//! route fails with "no route" instead of sneaking out by another. Nothing blocks: a TCP
//! `connect` returns `EINPROGRESS` and completes on `POLLOUT` (its result read from
//! `SO_ERROR`), a DNS query is one `send` on a connected UDP socket (the kernel delivers
//! only datagrams from the server's address and port; the answer must also echo our
//! random id and question), reads are bounded. Time comes from the caller as `now`; each
//! check says when it next needs a call ([`Check::poll_at`]).
//!
//! - [`TcpCheck`] (`tcp.rs`): the connect completes.
//! - [`HttpCheck`] (`http.rs`): look the host name up if needed, connect, send the `GET`,
//!   read at most [`http::MAX_RESPONSE`] bytes and judge them (`check::expect`).
//! - [`DnsCheck`] (`dns.rs`): one query per server in turn until one answers.
//!
//! # Driving a check from the poll loop
//!
//! ```text
//! start:   Check::start(now, deadline, &via, target, cached) per target and round;
//!          Err(e) -> the check failed: e.failed() (usually "no route").
//! poll:    poller.add(check.fd(), check.interest() == Interest::Write);
//!          wake up by check.poll_at() at the latest. The descriptor may change between
//!          calls (a lookup before an HTTP connect, the next DNS server): re-add it every
//!          turn, as the loop does for every descriptor.
//! ready:   check.on_ready(now, poller.ready(slot)) -> Some(outcome): done, drop it.
//! timer:   check.on_timeout(now) -> Some(outcome) once the deadline has passed
//!          ("timeout"); before that it may move on to the next DNS server.
//! ```
//!
//! An [`Outcome`] carries the result, the cause in words, the
//! round-trip times and, for a lookup, the address and TTL to keep in the WAN's
//! [`Cache`](crate::check::cache::Cache).

mod dns;
mod error;
pub mod http;
mod tcp;

pub use dns::DnsCheck;
pub use error::{Error, Op};
pub use http::HttpCheck;
pub use tcp::TcpCheck;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::check::Outcome;
use crate::config::Target;
use crate::engine::Instant;
use crate::sys::poll::Ready;

/// `IFNAMSIZ`, including the terminating NUL.
const IFNAMSIZ: usize = 16;
/// Port of a DNS server.
const DNS_PORT: u16 = 53;

/// The way out: the WAN's interface and, when it has one, its source address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    ifname: heapless::String<IFNAMSIZ>,
    source: Option<IpAddr>,
}

impl Via {
    pub fn new(ifname: &str, source: Option<IpAddr>) -> Result<Via, Error> {
        let bad = || Error::BadInterface {
            name: ifname.to_string(),
        };
        if ifname.is_empty() || ifname.len() >= IFNAMSIZ || ifname.contains(['\0', '/']) {
            return Err(bad());
        }
        let mut name = heapless::String::new();
        name.push_str(ifname).map_err(|()| bad())?;
        Ok(Via {
            ifname: name,
            source,
        })
    }

    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// A non-blocking socket bound to the interface and source address, connecting to
    /// `dest` (`connect` in progress for TCP, done for UDP).
    fn connect(&self, dest: SocketAddr, tcp: bool) -> Result<Socket, Error> {
        let (ty, proto) = if tcp {
            (Type::STREAM, Protocol::TCP)
        } else {
            (Type::DGRAM, Protocol::UDP)
        };
        let socket = Socket::new(Domain::for_address(dest), ty.nonblocking(), Some(proto))
            .map_err(Error::io(Op::Socket))?;
        socket
            .bind_device(Some(self.ifname.as_bytes()))
            .map_err(Error::io(Op::BindDevice))?;
        if let Some(source) = self.source {
            if source.is_ipv4() != dest.is_ipv4() {
                let dest = dest.ip();
                return Err(Error::FamilyMismatch { source, dest });
            }
            // port 0: an ephemeral port, random in Linux's choice
            let local = SockAddr::from(SocketAddr::new(source, 0));
            socket.bind(&local).map_err(Error::io(Op::Bind))?;
        }
        match socket.connect(&SockAddr::from(dest)) {
            Ok(()) => Ok(socket),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(socket),
            Err(e) => Err(Error::Io {
                op: Op::Connect,
                source: e,
            }),
        }
    }
}

/// What a check waits for on its descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    Read,
    /// A TCP connect in progress, or a request not all sent.
    Write,
}

/// One running check of any kind.
#[derive(Debug)]
pub enum Check {
    Tcp(TcpCheck),
    /// Boxed: it carries its request and response buffers.
    Http(Box<HttpCheck>),
    /// Boxed: it carries the name in wire form.
    Dns(Box<DnsCheck>),
}

impl Check {
    /// Starts a check of `target` through `via`, to finish by `deadline`. `cached` is the
    /// WAN's cached address for an http target's host name, if it has one.
    pub fn start(
        now: Instant,
        deadline: Instant,
        via: &Via,
        target: &Target,
        cached: Option<IpAddr>,
    ) -> Result<Check, Error> {
        match target {
            Target::Icmp(_) => Err(Error::NotACheck),
            Target::Tcp(addr) => TcpCheck::start(now, deadline, via, *addr).map(Check::Tcp),
            Target::Http(h) => {
                HttpCheck::start(now, deadline, via, h, cached).map(|c| Check::Http(Box::new(c)))
            }
            Target::Dns(d) => {
                let server = SocketAddr::new(d.server, DNS_PORT);
                DnsCheck::start(now, deadline, via, &[server], &d.name, d.qtype())
                    .map(|c| Check::Dns(Box::new(c)))
            }
        }
    }

    /// The descriptor to poll now.
    pub fn fd(&self) -> RawFd {
        match self {
            Check::Tcp(c) => c.as_raw_fd(),
            Check::Http(c) => c.as_raw_fd(),
            Check::Dns(c) => c.as_raw_fd(),
        }
    }

    pub fn interest(&self) -> Interest {
        match self {
            Check::Tcp(_) => Interest::Write,
            Check::Http(c) => c.interest(),
            Check::Dns(_) => Interest::Read,
        }
    }

    /// When [`Check::on_timeout`] must be called at the latest.
    pub fn poll_at(&self) -> Instant {
        match self {
            Check::Tcp(c) => c.poll_at(),
            Check::Http(c) => c.poll_at(),
            Check::Dns(c) => c.poll_at(),
        }
    }

    /// The descriptor is ready (or in error): make progress. `Some` once finished.
    pub fn on_ready(&mut self, now: Instant, ready: Ready) -> Option<Outcome> {
        match self {
            Check::Tcp(c) => c.on_ready(now, ready),
            Check::Http(c) => c.on_ready(now, ready),
            Check::Dns(c) => c.on_ready(now),
        }
    }

    /// Time passed: `Some(timeout)` once the deadline is reached.
    pub fn on_timeout(&mut self, now: Instant) -> Option<Outcome> {
        match self {
            Check::Tcp(c) => c.on_timeout(now),
            Check::Http(c) => c.on_timeout(now),
            Check::Dns(c) => c.on_timeout(now),
        }
    }
}

impl AsRawFd for Check {
    fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}

/// A random 16-bit value from the kernel (`getrandom(2)`, which never blocks once the
/// system has booted), for DNS query ids. Should the call fail, the monotonic clock's
/// microseconds, mixed, stand in: weaker, but an off-path forger would still have to guess.
///
/// The system call, not libc's wrapper: in the x86_64 static musl release build (LTO) the
/// call to libc's `getrandom` jumped to address 0, and the daemon crashed on its first DNS
/// check. The symbol was left undefined, most likely because std declares it weakly (with
/// a system-call fallback of its own). The system call has no symbol to lose.
#[allow(unsafe_code)]
pub fn random_u16() -> u16 {
    let mut b = [0u8; 2];
    // SAFETY: `b` is a valid, writable buffer of `b.len()` bytes for the whole call; the
    // kernel writes at most that many. getrandom(2) takes (buf, buflen, flags).
    let n = unsafe { libc::syscall(libc::SYS_getrandom, b.as_mut_ptr(), b.len(), 0u32) };
    if n == 2 {
        return u16::from_ne_bytes(b);
    }
    let t = crate::sys::poll::monotonic_now().micros;
    let x = t.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x >> 48) as u16
}

/// Reads until the buffer is full, the peer closed (`Ok(true)`), or no more data is waiting
/// (`Ok(false)`); returns how many bytes were added to `len`.
fn read_some(socket: &Socket, buf: &mut [u8], len: &mut usize) -> io::Result<bool> {
    use std::io::Read;
    while *len < buf.len() {
        match (&*socket).read(&mut buf[*len..]) {
            Ok(0) => return Ok(true),
            Ok(n) => *len += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// The error a socket reports (`SO_ERROR`), as an errno; 0 if none.
fn socket_errno(socket: &Socket) -> i32 {
    match socket.take_error() {
        Ok(None) => 0,
        Ok(Some(e)) | Err(e) => e.raw_os_error().unwrap_or(libc::EIO),
    }
}

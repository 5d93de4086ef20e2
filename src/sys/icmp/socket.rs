//! The probe socket of one WAN and family: open (raw, else ping socket), send, drain.
//!
//! # Raw versus ping sockets
//!
//! A raw socket (`SOCK_RAW`, `IPPROTO_ICMP`/`IPPROTO_ICMPV6`, needs `CAP_NET_RAW`) sees every
//! echo reply arriving on its interface, so it filters by a random identifier of its own.
//! IPv4 raw sockets deliver the IP header in front of the ICMP message; IPv6 ones do not.
//! A ping socket (`SOCK_DGRAM`, allowed by `net.ipv4.ping_group_range`) gets an identifier
//! from the kernel (its local "port"), receives only replies carrying it, and never sees an
//! IP header. [`Prober::open`] tries raw first and falls back to ping when the kernel refuses
//! (`EPERM`/`EACCES`), with a log line.
//!
//! # Rebuilding
//!
//! `SO_BINDTODEVICE` binds by interface *index*, resolved when the option is set. A socket
//! bound to an interface that disappeared (USB modem replug, PPP redial) stays bound to the
//! dead index and sees 100 % loss forever, even after an interface of the same name comes
//! back. The daemon must therefore call [`Prober::reopen`] (or drop and [`Prober::open`]
//! again) whenever the WAN's link is re-created or its addresses change. Opening is cheap
//! (a few system calls, no allocation besides the socket) and has no global side effects.
//!
//! # Time
//!
//! Expiry is judged on the caller's timeline (`now`). The RTT is measured with this module's
//! own `CLOCK_MONOTONIC` reads taken right before `sendto` and right after `recvfrom`
//! returns, so a busy loop iteration does not inflate it. Kernel receive timestamps
//! (`SO_TIMESTAMPNS`) are not used: they are `CLOCK_REALTIME`, and qemu-user lacks them.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use nix::sys::socket::{recvfrom, SockaddrStorage};
use socket2::{SockAddr, Socket};

use super::error::{Error, Op};
use super::matcher::{Stats, Tracker, Verdict};
use super::open::{checked_ifname, open_socket, IFNAMSIZ};
use super::packet::{ipv4_payload, EchoKind, EchoRepr, ProbePayload, HEADER_LEN};
use super::quoted::Message;
use super::{process_cookie, random_u16};
use crate::engine::{Family, Instant};

/// Most datagrams read per [`Prober::recv`] call; `poll` is level-triggered, so the rest
/// wakes the loop again and one flooded WAN cannot starve the others.
pub const RECV_BATCH: usize = 32;
/// Receive buffer: an IPv4 header with options and any echo reply up to the usual MTU.
const RX_BUF_LEN: usize = 1536;

/// Which kind of socket a prober uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// `SOCK_RAW`: own identifier, ICMP filter.
    Raw,
    /// `SOCK_DGRAM` ping socket: kernel-chosen identifier.
    Ping,
}

/// Which socket kinds [`Prober::open_with`] may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// Raw, falling back to ping when raw sockets are refused. What the daemon uses.
    Auto,
    RawOnly,
    PingOnly,
}

/// What [`Prober::recv_events`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A verified echo reply: `Input::Reply`.
    Reply(Reply),
    /// A router reported the probe undeliverable (ICMP destination unreachable or time
    /// exceeded quoting it): `Input::ProbeFailed` with `ProbeError::IcmpError`.
    Failed {
        target_idx: u8,
        seq: u16,
        received_at: Instant,
        msg_type: u8,
        code: u8,
    },
}

/// A verified echo reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub target_idx: u8,
    pub seq: u16,
    /// On the caller's timeline: `now` of the `recv` call plus the time spent in it.
    pub received_at: Instant,
    pub rtt: Duration,
}

/// Echo probes through one WAN interface for one address family.
pub struct Prober {
    socket: Socket,
    kind: SocketKind,
    preference: Preference,
    family: Family,
    ifname: heapless::String<IFNAMSIZ>,
    tracker: Tracker,
    /// Receive buffer, allocated once at open.
    rx: Box<[u8]>,
}

impl Prober {
    /// Opens a probe socket bound to `ifname`: raw, else a ping socket.
    pub fn open(ifname: &str, family: Family) -> Result<Prober, Error> {
        Self::open_with(ifname, family, Preference::Auto)
    }

    /// Opens with an explicit socket preference (tests force the ping fallback with it).
    pub fn open_with(
        ifname: &str,
        family: Family,
        preference: Preference,
    ) -> Result<Prober, Error> {
        let name = checked_ifname(ifname)?;
        let (socket, kind, ping_ident) = open_socket(&name, family, preference)?;
        let ident = ping_ident.unwrap_or_else(random_u16);
        Ok(Prober {
            socket,
            kind,
            preference,
            family,
            ifname: name,
            tracker: Tracker::new(process_cookie(), ident),
            rx: vec![0; RX_BUF_LEN].into_boxed_slice(),
        })
    }

    /// Replaces the socket with a fresh one bound to the interface's current index, keeping
    /// counters and (raw sockets) the identifier and outstanding probes. On error the old
    /// socket stays in place.
    pub fn reopen(&mut self) -> Result<(), Error> {
        let (socket, kind, ping_ident) = open_socket(&self.ifname, self.family, self.preference)?;
        self.socket = socket;
        self.kind = kind;
        if let Some(ident) = ping_ident {
            self.tracker.set_ident(ident);
        }
        Ok(())
    }

    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    pub fn family(&self) -> Family {
        self.family
    }

    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    pub fn kind(&self) -> SocketKind {
        self.kind
    }

    /// The echo identifier in use.
    pub fn ident(&self) -> u16 {
        self.tracker.ident()
    }

    pub fn stats(&self) -> Stats {
        self.tracker.stats()
    }

    /// Probes sent and not yet purged (outstanding or recently answered).
    pub fn outstanding(&self) -> usize {
        self.tracker.len()
    }

    /// Sends one echo request to `addr`. On error nothing is recorded; the daemon reports
    /// `ProbeFailed` with [`Error::probe_error`].
    pub fn send(
        &mut self,
        now: Instant,
        target_idx: u8,
        addr: IpAddr,
        seq: u16,
    ) -> Result<(), Error> {
        if Family::of(addr) != self.family {
            return Err(Error::FamilyMismatch { addr });
        }
        let mut data = [0u8; ProbePayload::LEN];
        let mut tx = [0u8; HEADER_LEN + ProbePayload::LEN];
        let sent_us = monotonic_us();
        let payload = ProbePayload {
            cookie: *self.tracker.cookie(),
            sent_us,
            target_idx,
        };
        payload.emit(&mut data);
        let ident = self.tracker.ident();
        let repr = EchoRepr {
            family: self.family,
            kind: EchoKind::Request,
            ident,
            seq,
            data: &data,
        };
        // Cannot fail: `tx` is exactly `buffer_len()` long.
        let len = repr.emit(&mut tx).unwrap_or(0);
        let dst = SockAddr::from(SocketAddr::new(addr, 0));
        if let Err(source) = send_retrying(&self.socket, &tx[..len], &dst) {
            self.tracker.stats_mut().send_errors += 1;
            return Err(Error::Io {
                op: Op::Send,
                source,
            });
        }
        self.tracker.stats_mut().sent += 1;
        self.tracker.record(now, sent_us, target_idx, addr, seq);
        Ok(())
    }

    /// Drains up to [`RECV_BATCH`] datagrams, calls `out` for each valid reply (see
    /// [`super::matcher`] for what counts) and purges entries older than twice `timeout`.
    /// Returns the number of replies reported. ICMP errors are drained and counted but not
    /// reported (use [`Prober::recv_events`] for them). An error is a socket failure (not
    /// `EAGAIN`/`EINTR`); rebuilding the socket is the cure.
    pub fn recv(
        &mut self,
        now: Instant,
        timeout: Duration,
        out: &mut impl FnMut(Reply),
    ) -> Result<usize, Error> {
        let mut reported = 0;
        self.recv_events(now, timeout, &mut |event| {
            if let Event::Reply(reply) = event {
                reported += 1;
                out(reply);
            }
        })?;
        Ok(reported)
    }

    /// Like [`Prober::recv`], but also reports ICMP errors that fail an outstanding probe
    /// (raw sockets only). Returns the number of events reported.
    pub fn recv_events(
        &mut self,
        now: Instant,
        timeout: Duration,
        out: &mut impl FnMut(Event),
    ) -> Result<usize, Error> {
        let entry_us = monotonic_us();
        let mut reported = 0;
        // Taken out for the loop so `classify` can borrow the rest of `self`; no allocation.
        let mut rx = std::mem::take(&mut self.rx);
        let mut result = Ok(());
        for _ in 0..RECV_BATCH {
            let (len, src) = match recv_retrying(self.socket.as_raw_fd(), &mut rx) {
                Ok(Some(got)) => got,
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let rx_us = monotonic_us();
            let at = now + Duration::from_micros(rx_us.saturating_sub(entry_us));
            let meta = RxMeta {
                src,
                at,
                rx_us,
                timeout,
            };
            if let Some(event) = self.classify(&rx[..len.min(rx.len())], meta) {
                out(event);
                reported += 1;
            }
        }
        self.rx = rx;
        self.clear_socket_error();
        self.tracker.purge(now, timeout.saturating_mul(2));
        result.map(|()| reported)
    }

    /// Unconnected sockets without `IP_RECVERR` (ours) get no pending error from ICMP
    /// errors (`raw_err`, `ping_err`), and the lab confirms it. But should one ever be
    /// left, a non-blocking `recvfrom` on an empty queue never returns it and `poll` keeps
    /// reporting `POLLERR`: the loop would spin. `SO_ERROR` reads and clears it.
    fn clear_socket_error(&mut self) {
        if let Ok(Some(e)) = self.socket.take_error() {
            log::debug!("{}: pending socket error cleared: {e}", self.ifname);
        }
    }

    /// Parses one datagram and asks the tracker; `None` when it does not count (the
    /// tracker or the `malformed` counter has recorded why).
    fn classify(&mut self, bytes: &[u8], meta: RxMeta) -> Option<Event> {
        self.tracker.stats_mut().received += 1;
        let Some((src, message)) = parse_datagram(self.family, self.kind, bytes, meta.src) else {
            self.tracker.stats_mut().malformed += 1;
            return None;
        };
        let received_at = meta.at;
        match message {
            Message::Echo(echo) => {
                match self.tracker.check(received_at, meta.timeout, src, &echo) {
                    Verdict::Accepted {
                        target_idx,
                        seq,
                        sent_us,
                    } => {
                        let rtt = Duration::from_micros(meta.rx_us.saturating_sub(sent_us));
                        Some(Event::Reply(Reply {
                            target_idx,
                            seq,
                            received_at,
                            rtt,
                        }))
                    }
                    _ => None,
                }
            }
            Message::Error(err) => {
                match self.tracker.check_error(received_at, meta.timeout, &err) {
                    Verdict::Failed { target_idx, seq } => Some(Event::Failed {
                        target_idx,
                        seq,
                        received_at,
                        msg_type: err.msg_type,
                        code: err.code,
                    }),
                    _ => None,
                }
            }
        }
    }
}

/// What was known about a datagram when it was read.
#[derive(Clone, Copy)]
struct RxMeta {
    src: Option<IpAddr>,
    at: Instant,
    rx_us: u64,
    timeout: Duration,
}

impl core::fmt::Debug for Prober {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Prober")
            .field("ifname", &self.ifname)
            .field("family", &self.family)
            .field("kind", &self.kind)
            .field("fd", &self.socket.as_raw_fd())
            .field("ident", &self.tracker.ident())
            .field("outstanding", &self.tracker.len())
            .finish()
    }
}

impl AsRawFd for Prober {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

impl AsFd for Prober {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

/// The source address and ICMP message of one datagram as `recvfrom` returned it (`src`
/// is its address; a raw IPv4 datagram also carries one in its IP header), if well-formed.
pub fn parse_datagram(
    family: Family,
    kind: SocketKind,
    bytes: &[u8],
    src: Option<IpAddr>,
) -> Option<(IpAddr, Message<'_>)> {
    let (src, icmp) = match (family, kind) {
        (Family::V4, SocketKind::Raw) => {
            let (ip_src, icmp) = ipv4_payload(bytes).ok()?;
            (src.unwrap_or(IpAddr::V4(ip_src)), icmp)
        }
        _ => (src?, bytes),
    };
    Some((src, Message::parse(icmp, family).ok()?))
}

fn send_retrying(socket: &Socket, bytes: &[u8], dst: &SockAddr) -> io::Result<()> {
    loop {
        match socket.send_to(bytes, dst) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One datagram, or `None` when the socket is drained.
fn recv_retrying(fd: RawFd, buf: &mut [u8]) -> Result<Option<(usize, Option<IpAddr>)>, Error> {
    use nix::errno::Errno;
    loop {
        match recvfrom::<SockaddrStorage>(fd, buf) {
            Ok((len, addr)) => return Ok(Some((len, addr.and_then(|a| ip_of(&a))))),
            Err(Errno::EINTR) => continue,
            // A pending error derived from an ICMP error (see `clear_socket_error`): reading
            // it cleared it; the ICMP message itself is judged on its own.
            Err(e) if is_icmp_errno(e) => continue,
            Err(Errno::EAGAIN) => return Ok(None),
            Err(e) => {
                return Err(Error::Io {
                    op: Op::Recv,
                    source: e.into(),
                })
            }
        }
    }
}

/// Errnos the kernel derives from ICMP errors (`icmp_err_convert`, `icmpv6_err_convert`).
fn is_icmp_errno(e: nix::errno::Errno) -> bool {
    use nix::errno::Errno;
    matches!(
        e,
        Errno::ENETUNREACH
            | Errno::EHOSTUNREACH
            | Errno::ECONNREFUSED
            | Errno::EHOSTDOWN
            | Errno::EPROTO
            | Errno::EMSGSIZE
            | Errno::EACCES
            | Errno::EOPNOTSUPP
            | Errno::ENONET
    )
}

fn ip_of(addr: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    addr.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}

/// µs of `CLOCK_MONOTONIC` (the same clock the daemon's `Instant` comes from).
pub(crate) fn monotonic_us() -> u64 {
    crate::sys::poll::monotonic_now().micros
}

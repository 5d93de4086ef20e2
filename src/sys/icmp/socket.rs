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
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use nix::sys::socket::{recvfrom, SockaddrStorage};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::error::{Error, Op};
use super::matcher::{Stats, Tracker, Verdict};
use super::packet::{ipv4_payload, EchoKind, EchoPacket, EchoRepr, ProbePayload, HEADER_LEN};
use super::{process_cookie, random_u16};
use crate::engine::{Family, Instant};

/// `ICMP_FILTER` (`<linux/icmp.h>`): a `u32` mask on `SOL_RAW`, bit N set drops type N.
const ICMP_FILTER: libc::c_int = 1;
/// `ICMP6_FILTER` (`<netinet/icmp6.h>`): 256-bit mask on `IPPROTO_ICMPV6`, bit set drops.
const ICMP6_FILTER: libc::c_int = 1;
/// Most datagrams read per [`Prober::recv`] call; `poll` is level-triggered, so the rest
/// wakes the loop again and one flooded WAN cannot starve the others.
pub const RECV_BATCH: usize = 32;
/// Receive buffer: an IPv4 header with options and any echo reply up to the usual MTU.
const RX_BUF_LEN: usize = 1536;
const IFNAMSIZ: usize = 16;

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
    rx: [u8; RX_BUF_LEN],
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
            rx: [0; RX_BUF_LEN],
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
        if family_of(addr) != self.family {
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
    /// Returns the number of replies reported. An error is a socket failure (not
    /// `EAGAIN`/`EINTR`); rebuilding the socket is the cure.
    pub fn recv(
        &mut self,
        now: Instant,
        timeout: Duration,
        out: &mut impl FnMut(Reply),
    ) -> Result<usize, Error> {
        let entry_us = monotonic_us();
        let mut reported = 0;
        for _ in 0..RECV_BATCH {
            let Some((len, src)) = recv_retrying(self.socket.as_raw_fd(), &mut self.rx)? else {
                break;
            };
            let rx_us = monotonic_us();
            let at = now + Duration::from_micros(rx_us.saturating_sub(entry_us));
            self.tracker.stats_mut().received += 1;
            let bytes = &self.rx[..len.min(RX_BUF_LEN)];
            if let Some((target_idx, seq, sent_us)) = classify(
                self.family,
                self.kind,
                bytes,
                src,
                &mut self.tracker,
                at,
                timeout,
            ) {
                let rtt = Duration::from_micros(rx_us.saturating_sub(sent_us));
                out(Reply {
                    target_idx,
                    seq,
                    received_at: at,
                    rtt,
                });
                reported += 1;
            }
        }
        self.tracker.purge(now, timeout.saturating_mul(2));
        Ok(reported)
    }
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

/// Parses one datagram and asks the tracker; `None` when it does not count (the tracker or
/// the `malformed` counter has recorded why).
fn classify(
    family: Family,
    kind: SocketKind,
    bytes: &[u8],
    src: Option<IpAddr>,
    tracker: &mut Tracker,
    at: Instant,
    timeout: Duration,
) -> Option<(u8, u16, u64)> {
    let parsed = parse_datagram(family, kind, bytes, src);
    let Some((src, echo)) = parsed else {
        tracker.stats_mut().malformed += 1;
        return None;
    };
    match tracker.check(at, timeout, src, &echo) {
        Verdict::Accepted {
            target_idx,
            seq,
            sent_us,
        } => Some((target_idx, seq, sent_us)),
        _ => None,
    }
}

/// The source address and echo message of one datagram as `recvfrom` returned it (`src`
/// is its address; a raw IPv4 datagram also carries one in its IP header), if well-formed.
pub fn parse_datagram(
    family: Family,
    kind: SocketKind,
    bytes: &[u8],
    src: Option<IpAddr>,
) -> Option<(IpAddr, EchoRepr<'_>)> {
    let (src, icmp) = match (family, kind) {
        (Family::V4, SocketKind::Raw) => {
            let (ip_src, icmp) = ipv4_payload(bytes).ok()?;
            (src.unwrap_or(IpAddr::V4(ip_src)), icmp)
        }
        _ => (src?, bytes),
    };
    let packet = EchoPacket::new_checked(icmp).ok()?;
    let echo = EchoRepr::parse(&packet, family).ok()?;
    Some((src, echo))
}

fn checked_ifname(ifname: &str) -> Result<heapless::String<IFNAMSIZ>, Error> {
    let bad = ifname.is_empty() || ifname.len() >= IFNAMSIZ || ifname.contains(['\0', '/']);
    if bad {
        return Err(Error::BadInterface {
            name: ifname.to_string(),
        });
    }
    let mut name = heapless::String::new();
    name.push_str(ifname).map_err(|()| Error::BadInterface {
        name: ifname.to_string(),
    })?;
    Ok(name)
}

fn family_of(addr: IpAddr) -> Family {
    match addr {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

/// Opens per `preference`; returns the socket, its kind and, for ping sockets, the
/// kernel-chosen identifier.
fn open_socket(
    ifname: &str,
    family: Family,
    preference: Preference,
) -> Result<(Socket, SocketKind, Option<u16>), Error> {
    if preference == Preference::PingOnly {
        return open_ping(ifname, family).map(|(s, id)| (s, SocketKind::Ping, Some(id)));
    }
    let raw_err = match open_raw(ifname, family) {
        Ok(socket) => return Ok((socket, SocketKind::Raw, None)),
        Err(e) if preference == Preference::RawOnly || !e.is_permission() => return Err(e),
        Err(e) => e,
    };
    match open_ping(ifname, family) {
        Ok((socket, ident)) => {
            log::info!(
                "{ifname}: raw {family} ICMP refused ({raw_err}); probing with a ping socket"
            );
            Ok((socket, SocketKind::Ping, Some(ident)))
        }
        Err(ping_err) => Err(Error::NoSocket {
            raw: Box::new(raw_err),
            ping: Box::new(ping_err),
        }),
    }
}

fn open_raw(ifname: &str, family: Family) -> Result<Socket, Error> {
    let socket = Socket::new(domain_of(family), Type::RAW, Some(protocol_of(family)))
        .map_err(Error::io(Op::Socket))?;
    socket
        .bind_device(Some(ifname.as_bytes()))
        .map_err(Error::io(Op::BindDevice))?;
    set_echo_reply_filter(&socket, family).map_err(Error::io(Op::Filter))?;
    socket
        .set_nonblocking(true)
        .map_err(Error::io(Op::NonBlocking))?;
    Ok(socket)
}

fn open_ping(ifname: &str, family: Family) -> Result<(Socket, u16), Error> {
    let socket = Socket::new(domain_of(family), Type::DGRAM, Some(protocol_of(family)))
        .map_err(Error::io(Op::Socket))?;
    socket
        .bind_device(Some(ifname.as_bytes()))
        .map_err(Error::io(Op::BindDevice))?;
    // Binding to port 0 makes the kernel pick the identifier now, so it is known before the
    // first reply arrives.
    let any = match family {
        Family::V4 => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        Family::V6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    };
    socket
        .bind(&SockAddr::from(any))
        .map_err(Error::io(Op::Bind))?;
    let local = socket.local_addr().map_err(Error::io(Op::LocalAddr))?;
    let ident = local.as_socket().map(|a| a.port()).unwrap_or(0);
    socket
        .set_nonblocking(true)
        .map_err(Error::io(Op::NonBlocking))?;
    Ok((socket, ident))
}

fn domain_of(family: Family) -> Domain {
    match family {
        Family::V4 => Domain::IPV4,
        Family::V6 => Domain::IPV6,
    }
}

fn protocol_of(family: Family) -> Protocol {
    match family {
        Family::V4 => Protocol::ICMPV4,
        Family::V6 => Protocol::ICMPV6,
    }
}

/// Lets only echo replies through, so nothing else wakes the loop.
fn set_echo_reply_filter(socket: &Socket, family: Family) -> io::Result<()> {
    let reply = EchoKind::Reply.msg_type(family);
    set_type_filter(socket, family, &[reply])
}

/// Sets `ICMP_FILTER` (IPv4) or `ICMP6_FILTER` (IPv6) on a raw socket so that only the
/// ICMP types in `pass` are delivered. Types above 31 cannot pass the IPv4 filter (its mask
/// has 32 bits and higher types always pass; none are assigned).
pub fn set_type_filter(socket: &impl AsRawFd, family: Family, pass: &[u8]) -> io::Result<()> {
    match family {
        Family::V4 => {
            let mut mask = u32::MAX;
            for &t in pass.iter().filter(|&&t| t < 32) {
                mask &= !(1u32 << t);
            }
            setsockopt(socket, libc::SOL_RAW, ICMP_FILTER, &mask)
        }
        Family::V6 => {
            let mut mask = [u32::MAX; 8];
            for &t in pass {
                let t = usize::from(t);
                mask[t >> 5] &= !(1u32 << (t & 31));
            }
            setsockopt(socket, libc::IPPROTO_ICMPV6, ICMP6_FILTER, &mask)
        }
    }
}

fn setsockopt<T: Copy>(
    socket: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(std::mem::size_of::<T>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `value` points to a live, initialised `T` of `len` bytes for the whole call;
    // the kernel only reads it. The descriptor is borrowed from `socket` and open.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
    loop {
        match recvfrom::<SockaddrStorage>(fd, buf) {
            Ok((len, addr)) => return Ok(Some((len, addr.and_then(|a| ip_of(&a))))),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN) => return Ok(None),
            Err(e) => {
                return Err(Error::Io {
                    op: Op::Recv,
                    source: e.into(),
                })
            }
        }
    }
}

fn ip_of(addr: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    addr.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}

/// µs of `CLOCK_MONOTONIC` (the same clock the daemon's `Instant` comes from).
pub(crate) fn monotonic_us() -> u64 {
    use nix::time::{clock_gettime, ClockId};
    // CLOCK_MONOTONIC cannot fail on Linux; 0 would only make one RTT look huge.
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|t| (t.tv_sec() as u64).saturating_mul(1_000_000) + (t.tv_nsec() as u64) / 1000)
        .unwrap_or(0)
}

//! Opening a probe socket: raw with an ICMP type filter, or a ping socket, bound to the
//! WAN's interface and non-blocking. See [`super::Prober`] for when each is used.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::error::{Error, Op};
use super::packet::EchoKind;
use super::quoted::error_types;
use super::socket::{Preference, SocketKind};
use crate::engine::Family;

/// `ICMP_FILTER` (`<linux/icmp.h>`): a `u32` mask on `SOL_RAW`, bit N set drops type N.
const ICMP_FILTER: libc::c_int = 1;
/// `ICMP6_FILTER` (`<netinet/icmp6.h>`): 256-bit mask on `IPPROTO_ICMPV6`, bit set drops.
const ICMP6_FILTER: libc::c_int = 1;
/// `IFNAMSIZ`, including the terminating NUL.
pub(crate) const IFNAMSIZ: usize = 16;

pub(crate) fn checked_ifname(ifname: &str) -> Result<heapless::String<IFNAMSIZ>, Error> {
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

/// Opens per `preference`; returns the socket, its kind and, for ping sockets, the
/// kernel-chosen identifier.
pub(crate) fn open_socket(
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

/// Lets only echo replies and the ICMP errors that may quote a probe through, so nothing
/// else wakes the loop.
fn set_echo_reply_filter(socket: &Socket, family: Family) -> io::Result<()> {
    let [unreachable, time_exceeded] = error_types(family);
    let reply = EchoKind::Reply.msg_type(family);
    set_type_filter(socket, family, &[reply, unreachable, time_exceeded])
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

// The ICMP filters have no typed setter in nix.
#[allow(unsafe_code)]
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

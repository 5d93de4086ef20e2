//! rtnetlink wire format: a bounds-checked parser for what the kernel sends and the emitter
//! for the few requests the daemon makes. Pure: no sockets, fuzzed and golden-tested.
//!
//! Only the handful of structures the daemon needs are decoded (`nlmsghdr`, `nlmsgerr`,
//! `ifinfomsg`, `ifaddrmsg`, `rtmsg` and their attributes). Everything else is reported as
//! [`Body::Other`] with its type, never as an error.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::engine::{Family, Route};

mod emit;
pub use emit::{emit_dump, emit_get_link, emit_route, DumpKind, RouteOp};

// Netlink header (linux/netlink.h).
pub const NLMSG_HDRLEN: usize = 16;
pub const NLMSG_ALIGNTO: usize = 4;
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;
pub const NLM_F_REQUEST: u16 = 0x01;
pub const NLM_F_MULTI: u16 = 0x02;
pub const NLM_F_ACK: u16 = 0x04;
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_ROOT: u16 = 0x100;
pub const NLM_F_MATCH: u16 = 0x200;
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_APPEND: u16 = 0x800;

// rtnetlink message types (linux/rtnetlink.h).
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_GETROUTE: u16 = 26;

pub const AF_UNSPEC: u8 = 0;
pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

// Links (linux/if_link.h, linux/if.h).
pub const IFINFOMSG_LEN: usize = 16;
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_STATS64: u16 = 23;
pub const IFLA_OPERSTATE: u16 = 16;
pub const IFLA_CARRIER: u16 = 33;
pub const IFF_UP: u32 = 0x1;
pub const IFF_LOWER_UP: u32 = 0x1_0000;
/// `IFNAMSIZ`, including the terminating NUL.
pub const IFNAMSIZ: usize = 16;

// Addresses (linux/if_addr.h).
pub const IFADDRMSG_LEN: usize = 8;
pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const IFA_FLAGS: u16 = 8;
pub const IFA_F_DADFAILED: u32 = 0x08;
pub const IFA_F_TENTATIVE: u32 = 0x40;

// Routes (linux/rtnetlink.h).
pub const RTMSG_LEN: usize = 12;
pub const RTA_DST: u16 = 1;
pub const RTA_OIF: u16 = 4;
pub const RTA_GATEWAY: u16 = 5;
pub const RTA_PRIORITY: u16 = 6;
pub const RTA_MULTIPATH: u16 = 9;
pub const RTA_TABLE: u16 = 15;
pub const RTA_VIA: u16 = 18;
pub const RT_TABLE_UNSPEC: u8 = 0;
pub const RT_TABLE_MAIN: u8 = 254;
pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const RT_SCOPE_LINK: u8 = 253;
pub const RT_SCOPE_NOWHERE: u8 = 255;
pub const RTN_UNICAST: u8 = 1;

/// Upper bound on attributes read from one message: the kernel never sends more than a few
/// dozen for the structures decoded here; a flood of tiny attributes is hostile input.
pub const MAX_ATTRS: usize = 512;

/// Why bytes could not be decoded. Each error skips one message, or the rest of the buffer
/// when the netlink header itself is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer bytes than a netlink header.
    TruncatedHeader,
    /// `nlmsg_len` smaller than the header or beyond the buffer.
    BadLength { nlmsg_len: u32 },
    /// The fixed payload (`ifinfomsg`, `rtmsg`, ...) is cut short.
    TruncatedPayload { nlmsg_type: u16 },
    /// An attribute length is below 4 or runs past its message.
    BadAttr { nlmsg_type: u16, rta_type: u16 },
    /// More than [`MAX_ATTRS`] attributes.
    TooManyAttrs { nlmsg_type: u16 },
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ParseError::TruncatedHeader => f.write_str("truncated netlink header"),
            ParseError::BadLength { nlmsg_len } => write!(f, "bad nlmsg_len {nlmsg_len}"),
            ParseError::TruncatedPayload { nlmsg_type } => {
                write!(f, "truncated payload of message type {nlmsg_type}")
            }
            ParseError::BadAttr {
                nlmsg_type,
                rta_type,
            } => {
                write!(f, "bad attribute {rta_type} in message type {nlmsg_type}")
            }
            ParseError::TooManyAttrs { nlmsg_type } => {
                write!(f, "too many attributes in message type {nlmsg_type}")
            }
        }
    }
}

/// `IF_OPER_*` (RFC 2863 operational state); unknown values round-trip as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperState {
    Unknown,
    NotPresent,
    Down,
    LowerLayerDown,
    Testing,
    Dormant,
    Up,
    Other(u8),
}

impl From<u8> for OperState {
    fn from(v: u8) -> OperState {
        match v {
            0 => OperState::Unknown,
            1 => OperState::NotPresent,
            2 => OperState::Down,
            3 => OperState::LowerLayerDown,
            4 => OperState::Testing,
            5 => OperState::Dormant,
            6 => OperState::Up,
            n => OperState::Other(n),
        }
    }
}

/// Interface name, at most `IFNAMSIZ - 1` bytes.
pub type IfName = heapless::String<IFNAMSIZ>;

/// A link as `RTM_NEWLINK`/`RTM_DELLINK` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub ifindex: u32,
    pub name: IfName,
    /// `ifi_flags` (`IFF_*`).
    pub flags: u32,
    /// `IFF_UP`: administratively up.
    pub admin_up: bool,
    /// `IFLA_CARRIER` when present, else `IFF_LOWER_UP`.
    pub carrier: bool,
    pub operstate: Option<OperState>,
    /// `IFLA_STATS64` `(rx_bytes, tx_bytes)`.
    pub stats: Option<LinkStats>,
}

/// Byte counters from `IFLA_STATS64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// An address as `RTM_NEWADDR`/`RTM_DELADDR` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addr {
    pub ifindex: u32,
    pub family: Family,
    pub prefix_len: u8,
    /// `IFA_LOCAL` when present (the local end of a point-to-point link), else `IFA_ADDRESS`.
    pub address: IpAddr,
    pub scope: u8,
    /// `IFA_FLAGS` when present, else `ifa_flags`.
    pub flags: u32,
}

impl Addr {
    /// Whether probes can use it as a source: global scope and not (yet) refused by DAD.
    pub fn is_usable(&self) -> bool {
        self.scope == RT_SCOPE_UNIVERSE && self.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED) == 0
    }
}

/// Any route message (not only default routes); [`RouteMsg::default_route`] picks the ones
/// the daemon manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteMsg {
    /// `rtm_family` as sent (`AF_INET`, `AF_INET6`, or anything else).
    pub family: u8,
    pub dst_len: u8,
    /// `RTA_TABLE` when present, else `rtm_table`.
    pub table: u32,
    pub protocol: u8,
    pub scope: u8,
    pub kind: u8,
    pub metric: u32,
    /// `RTA_GATEWAY`, or the address of `RTA_VIA` (an IPv4 route via an IPv6 neighbour).
    pub gateway: Option<IpAddr>,
    pub oif: Option<u32>,
    /// The route has `RTA_MULTIPATH` next hops (ignored by the daemon).
    pub multipath: bool,
}

impl RouteMsg {
    /// The engine's view of this route if it is a unicast default route with one next hop.
    pub fn default_route(&self) -> Option<Route> {
        let family = family_of(self.family)?;
        if self.dst_len != 0 || self.kind != RTN_UNICAST || self.multipath {
            return None;
        }
        Some(Route {
            family,
            table: self.table,
            ifindex: self.oif?,
            gateway: self.gateway,
            metric: self.metric,
            protocol: self.protocol,
        })
    }
}

/// What one netlink message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `RTM_NEWLINK` (`new`) or `RTM_DELLINK`.
    Link { new: bool, link: Link },
    /// `RTM_NEWADDR` or `RTM_DELADDR` of an IPv4/IPv6 address.
    Addr { new: bool, addr: Addr },
    /// `RTM_NEWROUTE` or `RTM_DELROUTE`.
    Route { new: bool, route: RouteMsg },
    /// `NLMSG_ERROR`: `errno` 0 is an ACK, otherwise a positive errno.
    Error { errno: i32, request_seq: u32 },
    /// `NLMSG_DONE` closing a dump; `errno` is non-zero when the dump failed.
    Done { errno: i32 },
    /// A message of a known type but of an address family the daemon ignores.
    Ignored(u16),
    /// Any other message type (kept for counting).
    Other(u16),
}

/// One decoded netlink message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub nlmsg_type: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    pub body: Body,
}

/// Decodes every message of one datagram. A broken netlink header ends the iteration
/// (there is no way to find the next message); a broken payload skips just that message.
pub fn parse_messages(buf: &[u8]) -> Messages<'_> {
    Messages { rest: buf }
}

/// Iterator returned by [`parse_messages`].
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (msg, payload) = match split_message(self.rest) {
            Ok(split) => split,
            Err(e) => {
                self.rest = &[];
                return Some(Err(e));
            }
        };
        self.rest = msg.next;
        Some(parse_body(msg.nlmsg_type, payload).map(|body| Message {
            nlmsg_type: msg.nlmsg_type,
            flags: msg.flags,
            seq: msg.seq,
            pid: msg.pid,
            body,
        }))
    }
}

struct Header<'a> {
    nlmsg_type: u16,
    flags: u16,
    seq: u32,
    pid: u32,
    next: &'a [u8],
}

fn split_message(buf: &[u8]) -> Result<(Header<'_>, &[u8]), ParseError> {
    if buf.len() < NLMSG_HDRLEN {
        return Err(ParseError::TruncatedHeader);
    }
    let nlmsg_len = u32_at(buf, 0);
    let len = nlmsg_len as usize;
    if len < NLMSG_HDRLEN || len > buf.len() {
        return Err(ParseError::BadLength { nlmsg_len });
    }
    // The last message of a datagram may lack its alignment padding.
    let next = buf.get(align(len)..).unwrap_or(&[]);
    let header = Header {
        nlmsg_type: u16_at(buf, 4),
        flags: u16_at(buf, 6),
        seq: u32_at(buf, 8),
        pid: u32_at(buf, 12),
        next,
    };
    Ok((header, &buf[NLMSG_HDRLEN..len]))
}

fn parse_body(nlmsg_type: u16, payload: &[u8]) -> Result<Body, ParseError> {
    match nlmsg_type {
        NLMSG_ERROR => parse_error(payload),
        NLMSG_DONE => Ok(Body::Done {
            // Older kernels may send an empty NLMSG_DONE.
            errno: payload
                .get(..4)
                .map_or(0, |b| i32_at(b, 0).saturating_neg()),
        }),
        RTM_NEWLINK | RTM_DELLINK => parse_link(nlmsg_type, payload),
        RTM_NEWADDR | RTM_DELADDR => parse_addr(nlmsg_type, payload),
        RTM_NEWROUTE | RTM_DELROUTE => parse_route(nlmsg_type, payload),
        other => Ok(Body::Other(other)),
    }
}

fn parse_error(payload: &[u8]) -> Result<Body, ParseError> {
    // struct nlmsgerr { int error; struct nlmsghdr msg; } (the request header, maybe with
    // its payload and extended-ACK attributes after it).
    if payload.len() < 4 + NLMSG_HDRLEN {
        return Err(ParseError::TruncatedPayload {
            nlmsg_type: NLMSG_ERROR,
        });
    }
    Ok(Body::Error {
        errno: i32_at(payload, 0).saturating_neg(),
        request_seq: u32_at(payload, 4 + 8),
    })
}

fn parse_link(nlmsg_type: u16, payload: &[u8]) -> Result<Body, ParseError> {
    let truncated = ParseError::TruncatedPayload { nlmsg_type };
    let fixed = payload.get(..IFINFOMSG_LEN).ok_or(truncated)?;
    // The bridge (AF_BRIDGE) and IPv6 (AF_INET6) send their own per-port RTM_NEWLINK and
    // RTM_DELLINK to the same group; an RTM_DELLINK from the bridge only means "left the
    // bridge". Only AF_UNSPEC messages describe the device itself.
    if fixed[0] != AF_UNSPEC {
        return Ok(Body::Ignored(nlmsg_type));
    }
    let flags = u32_at(fixed, 8);
    let mut link = Link {
        ifindex: u32_at(fixed, 4),
        name: IfName::new(),
        flags,
        admin_up: flags & IFF_UP != 0,
        carrier: flags & IFF_LOWER_UP != 0,
        operstate: None,
        stats: None,
    };
    for attr in Attrs::new(nlmsg_type, &payload[IFINFOMSG_LEN..]) {
        let (rta_type, value) = attr?;
        match rta_type {
            IFLA_IFNAME => link.name = ifname(value),
            IFLA_CARRIER => link.carrier = value.first().is_some_and(|&c| c != 0),
            IFLA_OPERSTATE => link.operstate = value.first().map(|&s| OperState::from(s)),
            // struct rtnl_link_stats64 { rx_packets, tx_packets, rx_bytes, tx_bytes, ... }
            IFLA_STATS64 if value.len() >= 32 => {
                link.stats = Some(LinkStats {
                    rx_bytes: u64_at(value, 16),
                    tx_bytes: u64_at(value, 24),
                })
            }
            _ => {}
        }
    }
    Ok(Body::Link {
        new: nlmsg_type == RTM_NEWLINK,
        link,
    })
}

fn parse_addr(nlmsg_type: u16, payload: &[u8]) -> Result<Body, ParseError> {
    let truncated = ParseError::TruncatedPayload { nlmsg_type };
    let fixed = payload.get(..IFADDRMSG_LEN).ok_or(truncated)?;
    let Some(family) = family_of(fixed[0]) else {
        return Ok(Body::Ignored(nlmsg_type));
    };
    let (mut address, mut local, mut flags) = (None, None, u32::from(fixed[2]));
    for attr in Attrs::new(nlmsg_type, &payload[IFADDRMSG_LEN..]) {
        let (rta_type, value) = attr?;
        match rta_type {
            IFA_ADDRESS => address = ip_addr(family, value),
            IFA_LOCAL => local = ip_addr(family, value),
            IFA_FLAGS if value.len() >= 4 => flags = u32_at(value, 0),
            _ => {}
        }
    }
    let Some(address) = local.or(address) else {
        return Ok(Body::Ignored(nlmsg_type));
    };
    let addr = Addr {
        ifindex: u32_at(fixed, 4),
        family,
        prefix_len: fixed[1],
        address,
        scope: fixed[3],
        flags,
    };
    Ok(Body::Addr {
        new: nlmsg_type == RTM_NEWADDR,
        addr,
    })
}

fn parse_route(nlmsg_type: u16, payload: &[u8]) -> Result<Body, ParseError> {
    let truncated = ParseError::TruncatedPayload { nlmsg_type };
    let f = payload.get(..RTMSG_LEN).ok_or(truncated)?;
    let mut route = RouteMsg {
        family: f[0],
        dst_len: f[1],
        table: u32::from(f[4]),
        protocol: f[5],
        scope: f[6],
        kind: f[7],
        metric: 0,
        gateway: None,
        oif: None,
        multipath: false,
    };
    let family = family_of(f[0]);
    for attr in Attrs::new(nlmsg_type, &payload[RTMSG_LEN..]) {
        let (rta_type, value) = attr?;
        match (rta_type, family) {
            (RTA_TABLE, _) if value.len() >= 4 => route.table = u32_at(value, 0),
            (RTA_PRIORITY, _) if value.len() >= 4 => route.metric = u32_at(value, 0),
            (RTA_OIF, _) if value.len() >= 4 => route.oif = Some(u32_at(value, 0)),
            (RTA_GATEWAY, Some(fam)) => route.gateway = ip_addr(fam, value),
            (RTA_VIA, _) => route.gateway = via_addr(value),
            (RTA_MULTIPATH, _) => route.multipath = true,
            _ => {}
        }
    }
    Ok(Body::Route {
        new: nlmsg_type == RTM_NEWROUTE,
        route,
    })
}

/// Iterator over `struct rtattr` in a payload, bounds-checked and capped at [`MAX_ATTRS`].
struct Attrs<'a> {
    nlmsg_type: u16,
    rest: &'a [u8],
    count: usize,
}

impl<'a> Attrs<'a> {
    fn new(nlmsg_type: u16, rest: &'a [u8]) -> Attrs<'a> {
        Attrs {
            nlmsg_type,
            rest,
            count: 0,
        }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Fewer than 4 trailing bytes are padding, not an attribute.
        if self.rest.len() < 4 {
            return None;
        }
        self.count += 1;
        let nlmsg_type = self.nlmsg_type;
        if self.count > MAX_ATTRS {
            self.rest = &[];
            return Some(Err(ParseError::TooManyAttrs { nlmsg_type }));
        }
        let len = usize::from(u16_at(self.rest, 0));
        // Strip NLA_F_NESTED / NLA_F_NET_BYTEORDER.
        let rta_type = u16_at(self.rest, 2) & 0x3fff;
        if len < 4 || len > self.rest.len() {
            self.rest = &[];
            return Some(Err(ParseError::BadAttr {
                nlmsg_type,
                rta_type,
            }));
        }
        let value = &self.rest[4..len];
        self.rest = self.rest.get(align(len)..).unwrap_or(&[]);
        Some(Ok((rta_type, value)))
    }
}

/// `NLMSG_ALIGN` / `RTA_ALIGN`.
pub fn align(len: usize) -> usize {
    (len + NLMSG_ALIGNTO - 1) & !(NLMSG_ALIGNTO - 1)
}

fn family_of(af: u8) -> Option<Family> {
    match af {
        AF_INET => Some(Family::V4),
        AF_INET6 => Some(Family::V6),
        _ => None,
    }
}

fn af_of(family: Family) -> u8 {
    match family {
        Family::V4 => AF_INET,
        Family::V6 => AF_INET6,
    }
}

fn ip_addr(family: Family, value: &[u8]) -> Option<IpAddr> {
    match family {
        Family::V4 => {
            let b: [u8; 4] = value.get(..4)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(b)))
        }
        Family::V6 => {
            let b: [u8; 16] = value.get(..16)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
    }
}

/// `struct rtvia { __kernel_sa_family_t rtvia_family; __u8 rtvia_addr[]; }`
fn via_addr(value: &[u8]) -> Option<IpAddr> {
    let af = u16::from_ne_bytes(value.get(..2)?.try_into().ok()?);
    let family = family_of(u8::try_from(af).ok()?)?;
    ip_addr(family, &value[2..])
}

fn ifname(value: &[u8]) -> IfName {
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    let mut name = IfName::new();
    if let Ok(s) = core::str::from_utf8(&value[..end]) {
        // Longer than IFNAMSIZ cannot come from the kernel: keep the name empty.
        let _ = name.push_str(s);
    }
    name
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    u32_at(b, at) as i32
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(v)
}

// Captured bytes are host-endian (netlink is); the targets here are all little-endian.
#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn set_len(b: &mut [u8]) {
        let len = b.len() as u32;
        b[..4].copy_from_slice(&len.to_ne_bytes());
    }

    fn one(buf: &[u8]) -> Message {
        let mut it = parse_messages(buf);
        let m = it.next().expect("a message").expect("parses");
        assert!(it.next().is_none());
        m
    }

    fn wan1_v4(gateway: Option<&str>, metric: u32) -> Route {
        Route {
            family: Family::V4,
            table: 254,
            ifindex: 2,
            gateway: gateway.map(|g| g.parse().expect("address")),
            metric,
            protocol: 87,
        }
    }

    // ip route add default via 192.0.2.9 metric 100 proto 87 dev wan1   (wan1 = ifindex 2)
    const ADD_V4_GW: [u8; 52] = [
        0x34, 0, 0, 0, 0x18, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0, // nlmsghdr
        2, 0, 0, 0, 254, 87, 0, 1, 0, 0, 0,
        0, // rtmsg: inet, main, proto 87, universe, unicast
        8, 0, 5, 0, 192, 0, 2, 9, // RTA_GATEWAY
        8, 0, 6, 0, 100, 0, 0, 0, // RTA_PRIORITY
        8, 0, 4, 0, 2, 0, 0, 0, // RTA_OIF
    ];

    #[test]
    fn add_v4_route_with_gateway() {
        let mut buf = Vec::new();
        emit_route(&mut buf, RouteOp::Add, &wan1_v4(Some("192.0.2.9"), 100), 1);
        assert_eq!(buf, ADD_V4_GW);
    }

    // ip route add default metric 101 proto 87 dev wan2   (wan2 = ifindex 3)
    const ADD_V4_DEV: [u8; 44] = [
        0x2c, 0, 0, 0, 0x18, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0, // nlmsghdr
        2, 0, 0, 0, 254, 87, 253, 1, 0, 0, 0, 0, // rtmsg: scope link (device-only)
        8, 0, 6, 0, 101, 0, 0, 0, // RTA_PRIORITY
        8, 0, 4, 0, 3, 0, 0, 0, // RTA_OIF
    ];

    #[test]
    fn add_v4_device_only_route() {
        let mut buf = Vec::new();
        let route = Route {
            ifindex: 3,
            ..wan1_v4(None, 101)
        };
        emit_route(&mut buf, RouteOp::Add, &route, 1);
        assert_eq!(buf, ADD_V4_DEV);
    }

    // ip -6 route add default via 2001:db8:1::1 metric 100 proto 87 dev wan1
    const ADD_V6: [u8; 84] = [
        0x54, 0, 0, 0, 0x18, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0, // nlmsghdr
        10, 0, 0, 0, 254, 87, 0, 1, 0, 0, 0, 0, // rtmsg: inet6
        20, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // RTA_DST ::
        20, 0, 5, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        1, // RTA_GATEWAY
        8, 0, 6, 0, 100, 0, 0, 0, // RTA_PRIORITY
        8, 0, 4, 0, 2, 0, 0, 0, // RTA_OIF
    ];

    #[test]
    fn add_v6_route() {
        let mut buf = Vec::new();
        let route = Route {
            family: Family::V6,
            gateway: Some("2001:db8:1::1".parse().expect("address")),
            ..wan1_v4(None, 100)
        };
        emit_route(&mut buf, RouteOp::Add, &route, 1);
        assert_eq!(buf, ADD_V6);
    }

    // ip route append default via 192.0.2.9 metric 100 proto 87 dev wan1
    // (the same as the add but for the flags: REQUEST|ACK|CREATE|APPEND)
    #[test]
    fn append_v4_route_differs_from_add_only_in_flags() {
        let mut buf = Vec::new();
        emit_route(
            &mut buf,
            RouteOp::Append,
            &wan1_v4(Some("192.0.2.9"), 100),
            1,
        );
        let mut expected = ADD_V4_GW;
        expected[6..8].copy_from_slice(&[0x05, 0x0c]);
        assert_eq!(buf, expected);
    }

    // ip route del unicast default via 192.0.2.9 metric 100 proto 87 dev wan1
    const DEL_V4: [u8; 52] = [
        0x34, 0, 0, 0, 0x19, 0, 0x05, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, // REQUEST|ACK
        2, 0, 0, 0, 254, 87, 255, 1, 0, 0, 0, 0, // rtmsg: scope nowhere (any), unicast
        8, 0, 5, 0, 192, 0, 2, 9, // RTA_GATEWAY
        8, 0, 6, 0, 100, 0, 0, 0, // RTA_PRIORITY
        8, 0, 4, 0, 2, 0, 0, 0, // RTA_OIF
    ];

    #[test]
    fn del_v4_route() {
        let mut buf = Vec::new();
        emit_route(&mut buf, RouteOp::Del, &wan1_v4(Some("192.0.2.9"), 100), 1);
        assert_eq!(buf, DEL_V4);
    }

    #[test]
    fn route_in_a_table_above_255_uses_rta_table() {
        let mut buf = Vec::new();
        let route = Route {
            table: 1000,
            ..wan1_v4(None, 7)
        };
        emit_route(&mut buf, RouteOp::Add, &route, 1);
        assert_eq!(buf[20], RT_TABLE_UNSPEC);
        assert_eq!(&buf[28..36], &[8, 0, 15, 0, 0xe8, 0x03, 0, 0]);
    }

    #[test]
    fn v4_route_via_v6_gateway_uses_rta_via() {
        let mut buf = Vec::new();
        let route = Route {
            gateway: Some("fe80::1".parse().expect("address")),
            ..wan1_v4(None, 7)
        };
        emit_route(&mut buf, RouteOp::Add, &route, 1);
        assert_eq!(&buf[28..34], &[22, 0, 18, 0, 10, 0]);
        match one(&rewrite_type(&buf, RTM_NEWROUTE)).body {
            Body::Route { route: r, .. } => assert_eq!(r.default_route(), Some(route)),
            other => panic!("{other:?}"),
        }
    }

    /// A request parsed back as if the kernel had sent it.
    fn rewrite_type(buf: &[u8], nlmsg_type: u16) -> Vec<u8> {
        let mut b = buf.to_vec();
        b[4..6].copy_from_slice(&nlmsg_type.to_ne_bytes());
        b
    }

    #[test]
    fn emitted_routes_parse_back() {
        for op in [RouteOp::Add, RouteOp::Append, RouteOp::Del] {
            for route in [wan1_v4(Some("192.0.2.9"), 100), wan1_v4(None, 3)] {
                let mut buf = Vec::new();
                emit_route(&mut buf, op, &route, 1);
                match one(&buf).body {
                    Body::Route { route: r, .. } => assert_eq!(r.default_route(), Some(route)),
                    other => panic!("{other:?}"),
                }
            }
        }
    }

    // ip link show   (iproute2 adds IFLA_EXT_MASK; the kernel sends IFLA_STATS64 either way)
    const GETLINK_DUMP: [u8; 32] = [
        0x20, 0, 0, 0, 0x12, 0, 0x01, 0x03, 7, 0, 0, 0, 0, 0, 0, 0, // REQUEST|DUMP
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ifinfomsg: any family, any link
    ];
    // ip addr show
    const GETADDR_DUMP: [u8; 24] = [
        0x18, 0, 0, 0, 0x16, 0, 0x01, 0x03, 7, 0, 0, 0, 0, 0, 0, 0, // REQUEST|DUMP
        0, 0, 0, 0, 0, 0, 0, 0, // ifaddrmsg: any family
    ];
    // ip route show table main type unicast   (both families; iproute2 asks per family
    // and puts the table in RTA_TABLE, the kernel takes either)
    const GETROUTE_DUMP: [u8; 28] = [
        0x1c, 0, 0, 0, 0x1a, 0, 0x01, 0x03, 7, 0, 0, 0, 0, 0, 0, 0, // REQUEST|DUMP
        0, 0, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0, // rtmsg: any family, main table, unicast
    ];
    // ip -s link show dev wan1   (one link by index, no dump)
    const GETLINK_ONE: [u8; 32] = [
        0x20, 0, 0, 0, 0x12, 0, 0x01, 0x00, 7, 0, 0, 0, 0, 0, 0, 0, // REQUEST
        0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ifi_index 2
    ];

    #[test]
    fn dump_and_get_requests() {
        let cases: [(DumpKind, &[u8]); 3] = [
            (DumpKind::Links, &GETLINK_DUMP),
            (DumpKind::Addrs, &GETADDR_DUMP),
            (DumpKind::Routes, &GETROUTE_DUMP),
        ];
        for (kind, want) in cases {
            let mut buf = Vec::new();
            emit_dump(&mut buf, kind, 7);
            assert_eq!(buf, want, "{kind:?}");
        }
        let mut buf = Vec::new();
        emit_get_link(&mut buf, 2, 7);
        assert_eq!(buf, GETLINK_ONE);
    }

    // Kernel → us, captured in the lab gateway namespace (`lab.sh up P 1 --ipv6`, then the
    // dump requests above; `capture_kernel_messages` in tests/netlink_e2e.rs).

    // ip link show dev wan1   (RTM_NEWLINK, up, carrier, with IFLA_STATS64)
    const NEWLINK_WAN1: &str = include_str!("testdata/newlink_wan1.hex");

    #[test]
    fn parses_link_with_stats64() {
        let m = one(&hex(NEWLINK_WAN1));
        let Body::Link { new: true, link } = m.body else {
            panic!("{m:?}");
        };
        assert_eq!(link.ifindex, 2);
        assert_eq!(link.name, "wan1");
        assert!(link.admin_up && link.carrier);
        assert_eq!(link.operstate, Some(OperState::Up));
        let stats = LinkStats {
            rx_bytes: 180,
            tx_bytes: 110,
        };
        assert_eq!(link.stats, Some(stats));
    }

    // ip addr show dev wan1   (192.0.2.10/29)
    const NEWADDR_V4: &str = "500000001400020007000000995f0000021d80000200000008000100c000020a
        08000200c000020a0900030077616e3100000000080008008000000014000600ffffffffffffffff
        4c2001004c200100";

    #[test]
    fn parses_address() {
        let m = one(&hex(NEWADDR_V4));
        let Body::Addr { new: true, addr } = m.body else {
            panic!("{m:?}");
        };
        assert_eq!(addr.ifindex, 2);
        assert_eq!(addr.family, Family::V4);
        assert_eq!(addr.prefix_len, 29);
        assert_eq!(
            addr.address,
            "192.0.2.10".parse::<IpAddr>().expect("address")
        );
        assert!(addr.is_usable());
    }

    // ip route show default   (default via 192.0.2.9 dev wan1 proto dhcp)
    const NEWROUTE_V4: &str = "340000001800020007000000995f000002000000fe1000010000000008000f00
        fe00000008000500c00002090800040002000000";
    // ip -6 route show default   (default via 2001:db8:1::1 dev wan1 proto static metric 1024)
    const NEWROUTE_V6: &str = "740000001800020007000000995f00000a000000fe0400010000000008000f00
        fe00000008000600000400001400050020010db8000100000000000000000001080004000200000024000c00
        00000000000000000000000000000000000000000000000000000000000000000500140000000000";

    #[test]
    fn parses_default_routes() {
        let cases = [
            (NEWROUTE_V4, Family::V4, "192.0.2.9", 0, 16),
            (NEWROUTE_V6, Family::V6, "2001:db8:1::1", 1024, 4),
        ];
        for (bytes, family, gw, metric, protocol) in cases {
            let m = one(&hex(bytes));
            assert_eq!(m.flags, NLM_F_MULTI);
            let Body::Route { new: true, route } = m.body else {
                panic!("{m:?}");
            };
            let want = Route {
                family,
                table: 254,
                ifindex: 2,
                gateway: Some(gw.parse().expect("address")),
                metric,
                protocol,
            };
            assert_eq!(route.default_route(), Some(want));
        }
    }

    // ip route add default via 192.0.2.9 metric 5 proto 87 dev wan1   (ACK, capped)
    const ACK: &str = "240000000200000108000000995f00000000000034000000180005060800000000000000";
    // ... the same again: EEXIST, with the request echoed
    const EEXIST: &str = "480000000200000009000000995f0000efffffff3400000018000506090000000000
        000002000000fe5700010000000008000500c000020908000600050000000800040002000000";
    // ip route del unicast default via 192.0.2.9 metric 5 proto 87 dev wan1, twice: ESRCH
    const ESRCH: &str = "48000000020000000b000000995f0000fdffffff34000000190005000b0000000000
        000002000000fe57ff010000000008000500c000020908000600050000000800040002000000";
    // end of any dump
    const DONE: &str = "140000000300020007000000995f000000000000";

    #[test]
    fn parses_acks_errors_and_done() {
        let cases = [
            (ACK, 8, 0),
            (EEXIST, 9, libc::EEXIST),
            (ESRCH, 11, libc::ESRCH),
        ];
        for (bytes, seq, errno) in cases {
            let m = one(&hex(bytes));
            assert_eq!(m.seq, seq);
            assert_eq!(
                m.body,
                Body::Error {
                    errno,
                    request_seq: seq
                }
            );
        }
        let m = one(&hex(DONE));
        assert_eq!((m.seq, m.body), (7, Body::Done { errno: 0 }));
    }

    #[test]
    fn extreme_errno_values_do_not_overflow() {
        // Found by fuzzing: NLMSG_DONE / NLMSG_ERROR carrying i32::MIN.
        let mut done = hex(DONE);
        done[16..20].copy_from_slice(&i32::MIN.to_ne_bytes());
        assert_eq!(one(&done).body, Body::Done { errno: i32::MAX });
        let mut err = hex(ACK);
        err[16..20].copy_from_slice(&i32::MIN.to_ne_bytes());
        assert!(matches!(
            one(&err).body,
            Body::Error {
                errno: i32::MAX,
                ..
            }
        ));
    }

    #[test]
    fn several_messages_in_one_datagram() {
        let mut buf = hex(NEWROUTE_V4);
        buf.extend(hex(NEWADDR_V4));
        buf.extend(hex(DONE));
        let got: Vec<_> = parse_messages(&buf).collect();
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(Result::is_ok));
    }

    // Hostile input: never a panic, never an endless loop, errors where bytes lie.

    #[test]
    fn truncated_header() {
        for len in 1..NLMSG_HDRLEN {
            let got: Vec<_> = parse_messages(&hex(DONE)[..len]).collect();
            assert_eq!(got, [Err(ParseError::TruncatedHeader)]);
        }
        assert_eq!(parse_messages(&[]).count(), 0);
    }

    #[test]
    fn bad_nlmsg_len() {
        let good = hex(DONE);
        for nlmsg_len in [0u32, 4, 15, 21, 4096, u32::MAX] {
            let mut b = good.clone();
            b[..4].copy_from_slice(&nlmsg_len.to_ne_bytes());
            let got: Vec<_> = parse_messages(&b).collect();
            assert_eq!(got, [Err(ParseError::BadLength { nlmsg_len })]);
        }
    }

    #[test]
    fn unaligned_length_ends_the_datagram_cleanly() {
        // A 21-byte DONE-like message followed by 2 stray bytes: the next header would start
        // at offset 24, beyond the buffer.
        let mut b = hex(DONE);
        b[0] = 21;
        b.extend([0xaa, 0xbb, 0xcc]);
        let got: Vec<_> = parse_messages(&b).collect();
        assert_eq!(got.len(), 1);
        assert!(got[0].is_ok());
    }

    #[test]
    fn truncated_payloads_skip_one_message() {
        for ty in [RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, NLMSG_ERROR] {
            let mut b = hex(DONE); // 16-byte header + 4 bytes
            b[4..6].copy_from_slice(&ty.to_ne_bytes());
            b.extend(hex(DONE));
            let got: Vec<_> = parse_messages(&b).collect();
            let want = ParseError::TruncatedPayload { nlmsg_type: ty };
            assert_eq!(got[0], Err(want));
            assert!(got[1].is_ok());
        }
    }

    #[test]
    fn bad_attribute_lengths() {
        for rta_len in [0u16, 1, 3, 9, 200, u16::MAX] {
            let mut b = hex(NEWROUTE_V4);
            // The first attribute (RTA_TABLE) starts after header and rtmsg.
            b[28..30].copy_from_slice(&rta_len.to_ne_bytes());
            let got: Vec<_> = parse_messages(&b).collect();
            assert!(
                matches!(got[..], [Err(ParseError::BadAttr { .. })]),
                "{rta_len}"
            );
        }
    }

    #[test]
    fn short_attribute_values_are_ignored() {
        // RTA_GATEWAY with 2 bytes, RTA_OIF with 1: no gateway, no oif, no panic.
        let mut b = hex(NEWROUTE_V4)[..28].to_vec();
        b.extend([6, 0, 5, 0, 192, 0, 0, 0, 5, 0, 4, 0, 2, 0, 0, 0]);
        set_len(&mut b);
        let Body::Route { route, .. } = one(&b).body else {
            panic!("not a route");
        };
        assert_eq!((route.gateway, route.oif), (None, None));
    }

    #[test]
    fn bridge_port_link_messages_are_ignored() {
        let mut b = hex(NEWLINK_WAN1);
        b[16] = 7; // AF_BRIDGE
        assert_eq!(one(&b).body, Body::Ignored(RTM_NEWLINK));
        b[4..6].copy_from_slice(&RTM_DELLINK.to_ne_bytes());
        assert_eq!(one(&b).body, Body::Ignored(RTM_DELLINK));
    }

    #[test]
    fn unknown_types_and_families() {
        let mut b = hex(DONE);
        b[4..6].copy_from_slice(&999u16.to_ne_bytes());
        assert_eq!(one(&b).body, Body::Other(999));
        let mut b = hex(NEWADDR_V4);
        b[16] = 7; // ifa_family
        assert_eq!(one(&b).body, Body::Ignored(RTM_NEWADDR));
        let mut b = hex(NEWROUTE_V4);
        b[16] = 28; // AF_MPLS
        let Body::Route { route, .. } = one(&b).body else {
            panic!("not a route");
        };
        assert_eq!(route.default_route(), None);
    }

    #[test]
    fn a_flood_of_attributes_is_refused() {
        let mut b = hex(NEWROUTE_V4)[..28].to_vec();
        for _ in 0..10_000 {
            b.extend([4, 0, 99, 0]);
        }
        set_len(&mut b);
        let got: Vec<_> = parse_messages(&b).collect();
        let want = ParseError::TooManyAttrs {
            nlmsg_type: RTM_NEWROUTE,
        };
        assert_eq!(got, [Err(want)]);
    }

    #[test]
    fn multipath_routes_are_not_default_routes() {
        let mut b = hex(NEWROUTE_V4);
        b.extend([4, 0, RTA_MULTIPATH as u8, 0]);
        set_len(&mut b);
        let Body::Route { route, .. } = one(&b).body else {
            panic!("not a route");
        };
        assert!(route.multipath);
        assert_eq!(route.default_route(), None);
    }

    #[test]
    fn constants_match_libc() {
        assert_eq!(RTM_NEWROUTE, libc::RTM_NEWROUTE);
        assert_eq!(RTM_GETLINK, libc::RTM_GETLINK);
        assert_eq!(NLM_F_DUMP, libc::NLM_F_DUMP as u16);
        assert_eq!(NLM_F_EXCL, libc::NLM_F_EXCL as u16);
        assert_eq!(NLM_F_APPEND, libc::NLM_F_APPEND as u16);
        assert_eq!(RTA_MULTIPATH, libc::RTA_MULTIPATH);
        assert_eq!(RTA_TABLE, libc::RTA_TABLE);
        assert_eq!(IFLA_STATS64, libc::IFLA_STATS64);
        assert_eq!(IFLA_CARRIER, libc::IFLA_CARRIER);
        assert_eq!(RT_SCOPE_LINK, libc::RT_SCOPE_LINK);
        assert_eq!(IFF_LOWER_UP, libc::IFF_LOWER_UP as u32);
    }
}

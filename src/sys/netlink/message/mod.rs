//! rtnetlink wire format: a bounds-checked parser for what the kernel sends and the emitter
//! for the few requests the daemon makes. Pure: no sockets, fuzzed and golden-tested.
//!
//! Only the handful of structures the daemon needs are decoded (`nlmsghdr`, `nlmsgerr`,
//! `ifinfomsg`, `ifaddrmsg`, `rtmsg` with its `rtnexthop`s, `fib_rule_hdr` and their
//! attributes), through the checked views of [`wire`]. Everything else is reported as
//! [`Body::Other`] with its type, never as an error. The routing requests of DESIGN.md
//! §10 are here too: FIB rules ([`rule`]), routes in a WAN's table, the `unreachable`
//! default of a kill switch and balance mode's weighted multipath default (`emit.rs`).
//!
//! # Why a hand-written codec next to `neli`
//!
//! `neli` opens the sockets, binds the multicast groups and sets the socket options (see
//! `socket.rs`): that is where it helps. Its message types are not used: they decode
//! every attribute into an owned buffer (an allocation per attribute and message, on a
//! path that sees every route change of the machine), some of their attribute enums exist
//! only with glibc, and they cost binary size, measured with the release profile: parsing
//! `rtmsg` alone through `neli::rtnl::Rtmsg` added 17 KiB (756760 → 773936 bytes, x86_64).
//! The daemon reads five fixed headers and nine attributes; the views in [`wire`] read
//! them in place, without allocating, and are fuzzed (`fuzz/fuzz_targets/netlink.rs`).
//!
//! Kernel constants keep their C names and come from `libc`; the few `libc` has as `c_int`
//! are given here with the width the wire carries, and the two it lacks on some targets
//! are defined here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libc::{
    IFA_ADDRESS, IFA_FLAGS, IFA_F_DADFAILED, IFA_F_TENTATIVE, IFA_LOCAL, IFLA_CARRIER, IFLA_IFNAME,
    IFLA_OPERSTATE, IFLA_STATS64, RTA_GATEWAY, RTA_MULTIPATH, RTA_OIF, RTA_PREFSRC, RTA_PRIORITY,
    RTA_TABLE, RTM_DELADDR, RTM_DELLINK, RTM_DELROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE,
    RTN_UNICAST, RT_SCOPE_UNIVERSE,
};

use crate::engine::{Family, Route};

mod emit;
pub mod rule;
pub mod wire;

pub(crate) use emit::Writer;
pub use emit::{
    emit_dump, emit_get_link, emit_multipath, emit_route, emit_unreachable, DumpKind, MultipathOp,
    MultipathRoute, RouteOp, UnreachableRoute,
};
pub use rule::{emit_rule, emit_rule_dump, Rule, RuleOp};
use wire::{Attr, Attrs, IfAddrMsg, IfInfoMsg, NlMsgErr, RtMsg, RtMsgRepr};

// `libc` has these as `c_int`; the wire carries them as `u16` (types, flags) or `u8`
// (address families).
pub const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
pub const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
pub const NLM_F_REQUEST: u16 = libc::NLM_F_REQUEST as u16;
pub const NLM_F_MULTI: u16 = libc::NLM_F_MULTI as u16;
pub const NLM_F_ACK: u16 = libc::NLM_F_ACK as u16;
pub const NLM_F_DUMP_INTR: u16 = libc::NLM_F_DUMP_INTR as u16;
pub const NLM_F_DUMP_FILTERED: u16 = libc::NLM_F_DUMP_FILTERED as u16;
pub const NLM_F_DUMP: u16 = libc::NLM_F_DUMP as u16;
pub const NLM_F_REPLACE: u16 = libc::NLM_F_REPLACE as u16;
pub const NLM_F_EXCL: u16 = libc::NLM_F_EXCL as u16;
pub const NLM_F_CREATE: u16 = libc::NLM_F_CREATE as u16;
pub const NLM_F_APPEND: u16 = libc::NLM_F_APPEND as u16;
pub const AF_UNSPEC: u8 = libc::AF_UNSPEC as u8;
pub const AF_INET: u8 = libc::AF_INET as u8;
pub const AF_INET6: u8 = libc::AF_INET6 as u8;
const IFF_UP: u32 = libc::IFF_UP as u32;
const IFF_LOWER_UP: u32 = libc::IFF_LOWER_UP as u32;
/// `linux/rtnetlink.h`; `libc` has it for glibc targets only.
pub const RTA_VIA: u16 = 18;
/// `IFNAMSIZ`, including the terminating NUL.
pub const IFNAMSIZ: usize = libc::IFNAMSIZ;

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
    /// More than [`wire::MAX_ATTRS`] attributes.
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// `RTA_PREFSRC`.
    pub prefsrc: Option<IpAddr>,
    /// The route has `RTA_MULTIPATH` (not a WAN's default route; balance mode's own).
    pub multipath: bool,
    /// The next hops of `RTA_MULTIPATH`, in order (at most [`MAX_NEXTHOPS`]); empty for
    /// any other route, without allocating.
    pub nexthops: Vec<Nexthop>,
}

/// Most next hops read from one `RTA_MULTIPATH`: one per WAN, and then some.
pub const MAX_NEXTHOPS: usize = 64;

/// One next hop of a multipath route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nexthop {
    pub ifindex: u32,
    /// `None` for a device-only next hop.
    pub gateway: Option<IpAddr>,
    /// 1 to 256: its share of new flows (`rtnh_hops` + 1).
    pub weight: u16,
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
            prefsrc: self.prefsrc,
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
    /// `RTM_NEWRULE` or `RTM_DELRULE` of an IPv4/IPv6 rule.
    Rule { new: bool, rule: Rule },
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
    Messages {
        views: wire::NlMsgs::new(buf),
    }
}

/// Iterator returned by [`parse_messages`].
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    views: wire::NlMsgs<'a>,
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let msg = match self.views.next()? {
            Ok(msg) => msg,
            Err(e) => return Some(Err(e)),
        };
        let nlmsg_type = msg.nlmsg_type();
        Some(parse_body(nlmsg_type, msg.payload()).map(|body| Message {
            nlmsg_type,
            flags: msg.nlmsg_flags(),
            seq: msg.nlmsg_seq(),
            pid: msg.nlmsg_pid(),
            body,
        }))
    }
}

fn parse_body(nlmsg_type: u16, payload: &[u8]) -> Result<Body, ParseError> {
    match nlmsg_type {
        NLMSG_ERROR => parse_error(payload),
        NLMSG_DONE => Ok(Body::Done {
            errno: wire::done_error(payload).saturating_neg(),
        }),
        RTM_NEWLINK | RTM_DELLINK => parse_link(nlmsg_type, payload),
        RTM_NEWADDR | RTM_DELADDR => parse_addr(nlmsg_type, payload),
        RTM_NEWROUTE | RTM_DELROUTE => parse_route(nlmsg_type, payload),
        // only the routing half asks for rules (their groups and dumps): without it a rule
        // message is one of the others, and its parser stays out of the binary
        #[cfg(feature = "routing")]
        libc::RTM_NEWRULE | libc::RTM_DELRULE => rule::parse_rule(nlmsg_type, payload),
        other => Ok(Body::Other(other)),
    }
}

fn truncated(nlmsg_type: u16) -> impl Fn(wire::Truncated) -> ParseError {
    move |_| ParseError::TruncatedPayload { nlmsg_type }
}

fn parse_error(payload: &[u8]) -> Result<Body, ParseError> {
    let err = NlMsgErr::new_checked(payload).map_err(truncated(NLMSG_ERROR))?;
    Ok(Body::Error {
        errno: err.error().saturating_neg(),
        request_seq: err.request().nlmsg_seq(),
    })
}

fn parse_link(nlmsg_type: u16, payload: &[u8]) -> Result<Body, ParseError> {
    let ifi = IfInfoMsg::new_checked(payload).map_err(truncated(nlmsg_type))?;
    // The bridge (AF_BRIDGE) and IPv6 (AF_INET6) send their own per-port RTM_NEWLINK and
    // RTM_DELLINK to the same group; an RTM_DELLINK from the bridge only means "left the
    // bridge". Only AF_UNSPEC messages describe the device itself.
    if ifi.family() != AF_UNSPEC {
        return Ok(Body::Ignored(nlmsg_type));
    }
    let flags = ifi.flags();
    let mut link = Link {
        ifindex: ifi.index(),
        name: IfName::new(),
        flags,
        admin_up: flags & IFF_UP != 0,
        carrier: flags & IFF_LOWER_UP != 0,
        operstate: None,
        stats: None,
    };
    for attr in Attrs::new(nlmsg_type, ifi.rest()) {
        let attr = attr?;
        match attr.kind {
            IFLA_IFNAME => link.name = ifname(attr.value),
            IFLA_CARRIER => link.carrier = attr.u8().is_some_and(|c| c != 0),
            IFLA_OPERSTATE => link.operstate = attr.u8().map(OperState::from),
            IFLA_STATS64 => {
                if let Some((rx_bytes, tx_bytes)) = wire::link_stats64_bytes(attr.value) {
                    link.stats = Some(LinkStats { rx_bytes, tx_bytes });
                }
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
    let ifa = IfAddrMsg::new_checked(payload).map_err(truncated(nlmsg_type))?;
    let Some(family) = family_of(ifa.family()) else {
        return Ok(Body::Ignored(nlmsg_type));
    };
    let (mut address, mut local, mut flags) = (None, None, u32::from(ifa.flags()));
    for attr in Attrs::new(nlmsg_type, ifa.rest()) {
        let attr = attr?;
        match attr.kind {
            IFA_ADDRESS => address = ip_addr(family, attr.value),
            IFA_LOCAL => local = ip_addr(family, attr.value),
            IFA_FLAGS => flags = attr.u32().unwrap_or(flags),
            _ => {}
        }
    }
    let Some(address) = local.or(address) else {
        return Ok(Body::Ignored(nlmsg_type));
    };
    let addr = Addr {
        ifindex: ifa.index(),
        family,
        prefix_len: ifa.prefix_len(),
        address,
        scope: ifa.scope(),
        flags,
    };
    Ok(Body::Addr {
        new: nlmsg_type == RTM_NEWADDR,
        addr,
    })
}

fn parse_route(nlmsg_type: u16, payload: &[u8]) -> Result<Body, ParseError> {
    let rtm = RtMsg::new_checked(payload).map_err(truncated(nlmsg_type))?;
    let RtMsgRepr {
        family,
        dst_len,
        table,
        protocol,
        scope,
        kind,
    } = RtMsgRepr::parse(&rtm);
    let mut route = RouteMsg {
        family,
        dst_len,
        table: u32::from(table),
        protocol,
        scope,
        kind,
        metric: 0,
        gateway: None,
        oif: None,
        prefsrc: None,
        multipath: false,
        nexthops: Vec::new(),
    };
    let family = family_of(family);
    for attr in Attrs::new(nlmsg_type, rtm.rest()) {
        route_attr(&mut route, family, attr?);
    }
    Ok(Body::Route {
        new: nlmsg_type == RTM_NEWROUTE,
        route,
    })
}

fn route_attr(route: &mut RouteMsg, family: Option<Family>, attr: Attr<'_>) {
    match (attr.kind, family) {
        (RTA_TABLE, _) => route.table = attr.u32().unwrap_or(route.table),
        (RTA_PRIORITY, _) => route.metric = attr.u32().unwrap_or(route.metric),
        (RTA_OIF, _) => route.oif = attr.u32().or(route.oif),
        (RTA_GATEWAY, Some(fam)) => route.gateway = ip_addr(fam, attr.value),
        (RTA_PREFSRC, Some(fam)) => route.prefsrc = ip_addr(fam, attr.value),
        (RTA_VIA, _) => route.gateway = via_addr(attr.value),
        (RTA_MULTIPATH, _) => {
            route.multipath = true;
            // only balancing (the multipath default it keeps) reads the next hops
            #[cfg(feature = "balance")]
            if let Some(f) = family {
                route.nexthops = nexthops(f, attr.value);
            }
        }
        _ => {}
    }
}

/// The `rtnexthop`s of an `RTA_MULTIPATH` value. A next hop whose length lies ends the
/// list; a gateway attribute that does not parse leaves that hop device-only.
#[cfg(feature = "balance")]
fn nexthops(family: Family, mut value: &[u8]) -> Vec<Nexthop> {
    let mut hops = Vec::new();
    while hops.len() < MAX_NEXTHOPS {
        let Ok(nh) = wire::RtNexthop::new_checked(value) else {
            break;
        };
        let len = usize::from(nh.rtnh_len());
        if len < wire::RtNexthop::<&[u8]>::LEN || len > value.len() {
            break;
        }
        let mut gateway = None;
        for attr in Attrs::new(RTM_NEWROUTE, &value[wire::RtNexthop::<&[u8]>::LEN..len]) {
            match attr {
                Ok(a) if a.kind == RTA_GATEWAY => gateway = ip_addr(family, a.value),
                Ok(a) if a.kind == RTA_VIA => gateway = via_addr(a.value),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        hops.push(Nexthop {
            ifindex: nh.ifindex(),
            gateway,
            weight: u16::from(nh.hops()) + 1,
        });
        value = value.get(wire::align(len)..).unwrap_or(&[]);
    }
    hops
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

// Captured bytes are host-endian (netlink is); the targets here are all little-endian.
#[cfg(all(test, target_endian = "little"))]
mod tests;
#[cfg(all(test, target_endian = "little"))]
mod tests_routing;

/// The golden-byte tests' hex reader (whitespace between bytes allowed), for the tests
/// of other netlink families.
#[cfg(all(test, target_endian = "little"))]
pub(crate) fn tests_hex(s: &str) -> Vec<u8> {
    tests::hex(s)
}

//! Emitting the daemon's requests: dumps, a single link, route add/delete.

use std::net::IpAddr;

use super::*;
use crate::engine::{Family, Route};

/// What a dump request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DumpKind {
    Links,
    Addrs,
    Routes,
}

/// Appends one netlink message to `buf`, built in place, with the length patched at the end.
struct Writer<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> Writer<'a> {
    fn new(buf: &'a mut Vec<u8>, nlmsg_type: u16, flags: u16, seq: u32) -> Writer<'a> {
        let start = buf.len();
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&nlmsg_type.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        // nlmsg_pid 0: the kernel knows who is asking.
        buf.extend_from_slice(&0u32.to_ne_bytes());
        Writer { buf, start }
    }

    fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    fn attr(&mut self, rta_type: u16, value: &[u8]) {
        let len = u16::try_from(4 + value.len()).expect("invariant: attributes are tiny");
        self.bytes(&len.to_ne_bytes());
        self.bytes(&rta_type.to_ne_bytes());
        self.bytes(value);
        let padded = align(self.buf.len() - self.start) + self.start;
        self.buf.resize(padded, 0);
    }

    fn finish(self) {
        let len = u32::try_from(self.buf.len() - self.start).expect("invariant: small message");
        self.buf[self.start..self.start + 4].copy_from_slice(&len.to_ne_bytes());
    }
}

/// A dump request (`NLM_F_REQUEST | NLM_F_DUMP`) for links, addresses or routes of every
/// family. Routes are asked for from the main table and of type unicast only: on a socket
/// with `NETLINK_GET_STRICT_CHK` the kernel (4.20+) filters on those header fields and
/// leaves the other tables (a full BGP table, the local table) unread. It cannot filter on
/// the destination: a non-zero `rtm_dst_len` or an `RTA_DST` in a dump request is `EINVAL`
/// (checked on Linux 6.18), so the view picks the default routes itself. Without strict
/// checking the fields are ignored and everything comes, which the view filters too.
pub fn emit_dump(buf: &mut Vec<u8>, kind: DumpKind, seq: u32) {
    let flags = NLM_F_REQUEST | NLM_F_DUMP;
    match kind {
        DumpKind::Links => {
            let mut w = Writer::new(buf, RTM_GETLINK, flags, seq);
            w.bytes(&[0; IFINFOMSG_LEN]);
            w.finish();
        }
        DumpKind::Addrs => {
            let mut w = Writer::new(buf, RTM_GETADDR, flags, seq);
            w.bytes(&[0; IFADDRMSG_LEN]);
            w.finish();
        }
        DumpKind::Routes => {
            let mut w = Writer::new(buf, RTM_GETROUTE, flags, seq);
            let mut rtm = [0; RTMSG_LEN];
            rtm[4] = RT_TABLE_MAIN;
            rtm[7] = RTN_UNICAST;
            w.bytes(&rtm);
            w.finish();
        }
    }
}

/// `RTM_GETLINK` for one interface: the kernel answers with one `RTM_NEWLINK` (with
/// `IFLA_STATS64`) or an `NLMSG_ERROR` (`ENODEV`).
pub fn emit_get_link(buf: &mut Vec<u8>, ifindex: u32, seq: u32) {
    let mut w = Writer::new(buf, RTM_GETLINK, NLM_F_REQUEST, seq);
    let mut ifi = [0u8; IFINFOMSG_LEN];
    ifi[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    w.bytes(&ifi);
    w.finish();
}

/// Whether a route message adds or deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteOp {
    /// `NLM_F_CREATE | NLM_F_EXCL` (`ip route add`): refused with `EEXIST` when another
    /// route holds the key.
    Add,
    /// `NLM_F_CREATE | NLM_F_APPEND` (`ip route append`): beside the routes that share the
    /// key, refused only for an exact duplicate. IPv6 merges gateway routes of an equal
    /// metric into one multipath route.
    Append,
    Del,
}

/// `RTM_NEWROUTE` with `NLM_F_CREATE | NLM_F_ACK` and `NLM_F_EXCL` or `NLM_F_APPEND` (never
/// `NLM_F_REPLACE`: the metric is part of the key, replacing could clobber another WAN's
/// route) or `RTM_DELROUTE` with `NLM_F_ACK`, for a default route. Attribute order and header fields
/// follow iproute2, so `ip route add/del` produce the same bytes.
pub fn emit_route(buf: &mut Vec<u8>, op: RouteOp, route: &Route, seq: u32) {
    let (nlmsg_type, flags) = match op {
        RouteOp::Add => (
            RTM_NEWROUTE,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE,
        ),
        RouteOp::Append => (
            RTM_NEWROUTE,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_APPEND | NLM_F_CREATE,
        ),
        RouteOp::Del => (RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK),
    };
    let mut w = Writer::new(buf, nlmsg_type, flags, seq);
    let table = u8::try_from(route.table).unwrap_or(RT_TABLE_UNSPEC);
    w.bytes(&[
        af_of(route.family),
        0, // rtm_dst_len: default route
        0, // rtm_src_len
        0, // rtm_tos
        table,
        route.protocol,
        route_scope(op, route),
        RTN_UNICAST,
        0,
        0,
        0,
        0, // rtm_flags
    ]);
    if table == RT_TABLE_UNSPEC {
        w.attr(RTA_TABLE, &route.table.to_ne_bytes());
    }
    // iproute2 spells out `::/0` for IPv6 (and not `0.0.0.0/0` for IPv4); the kernel takes
    // either.
    if route.family == Family::V6 {
        w.attr(RTA_DST, &[0; 16]);
    }
    match (route.gateway, route.family) {
        (Some(IpAddr::V4(gw)), Family::V4) => w.attr(RTA_GATEWAY, &gw.octets()),
        (Some(IpAddr::V6(gw)), Family::V6) => w.attr(RTA_GATEWAY, &gw.octets()),
        (Some(gw), _) => w.attr(RTA_VIA, &via_bytes(gw)),
        (None, _) => {}
    }
    w.attr(RTA_PRIORITY, &route.metric.to_ne_bytes());
    w.attr(RTA_OIF, &route.ifindex.to_ne_bytes());
    w.finish();
}

/// The scope of a route request. Adds: universe through a gateway, link for an IPv4
/// device-only route (as iproute2 and the kernel's ioctl path do). Deletes:
/// `RT_SCOPE_NOWHERE`, which the kernel reads as "any scope", so a foreign device-only
/// route is found whichever scope its owner used; every other key field is exact.
fn route_scope(op: RouteOp, route: &Route) -> u8 {
    match (op, route.gateway, route.family) {
        (RouteOp::Del, _, _) => RT_SCOPE_NOWHERE,
        (RouteOp::Add | RouteOp::Append, None, Family::V4) => RT_SCOPE_LINK,
        (RouteOp::Add | RouteOp::Append, _, _) => RT_SCOPE_UNIVERSE,
    }
}

fn via_bytes(gw: IpAddr) -> Vec<u8> {
    let mut v = Vec::with_capacity(18);
    match gw {
        IpAddr::V4(a) => {
            v.extend_from_slice(&u16::from(AF_INET).to_ne_bytes());
            v.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            v.extend_from_slice(&u16::from(AF_INET6).to_ne_bytes());
            v.extend_from_slice(&a.octets());
        }
    }
    v
}

//! Emitting the daemon's requests: dumps, a single link, route add/delete. Each message is
//! built in place in the caller's buffer through the views of [`super::wire`].

use std::net::IpAddr;

use libc::{
    RTA_DST, RTA_GATEWAY, RTA_MULTIPATH, RTA_OIF, RTA_PREFSRC, RTA_PRIORITY, RTA_TABLE,
    RTM_DELROUTE, RTM_GETADDR, RTM_GETLINK, RTM_GETROUTE, RTM_NEWROUTE, RTN_UNICAST,
    RTN_UNREACHABLE, RT_SCOPE_LINK, RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN,
    RT_TABLE_UNSPEC,
};

use super::wire::{
    emit_attr, IfAddrMsg, IfInfoMsg, IfInfoMsgRepr, NlMsg, NlMsgRepr, RtMsg, RtMsgRepr, RtNexthop,
};
use super::{
    af_of, Nexthop, AF_INET, AF_INET6, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, RTA_VIA,
};
use crate::engine::{Family, Route};

/// What a dump request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DumpKind {
    Links,
    Addrs,
    Routes,
}

/// One netlink message being appended to a buffer: the header first, its length patched
/// when the message is complete.
pub(crate) struct Writer<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
    header: NlMsgRepr,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut Vec<u8>, header: NlMsgRepr) -> Writer<'a> {
        let start = buf.len();
        buf.resize(start + NlMsg::<&[u8]>::LEN, 0);
        Writer { buf, start, header }
    }

    /// Room for a fixed header of `len` bytes, zeroed; returns where it starts.
    pub(crate) fn fixed(&mut self, len: usize) -> &mut [u8] {
        let at = self.buf.len();
        self.buf.resize(at + len, 0);
        &mut self.buf[at..]
    }

    pub(crate) fn attr(&mut self, kind: u16, value: &[u8]) {
        emit_attr(self.buf, kind, value);
    }

    pub(crate) fn finish(self) {
        let len = u32::try_from(self.buf.len() - self.start).expect("invariant: small message");
        let mut msg = NlMsg::new_unchecked(&mut self.buf[self.start..]);
        self.header.emit(&mut msg, len);
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
    let nlmsg_type = match kind {
        DumpKind::Links => RTM_GETLINK,
        DumpKind::Addrs => RTM_GETADDR,
        DumpKind::Routes => RTM_GETROUTE,
    };
    let flags = NLM_F_REQUEST | NLM_F_DUMP;
    let mut w = Writer::new(
        buf,
        NlMsgRepr {
            nlmsg_type,
            flags,
            seq,
        },
    );
    match kind {
        // any family, any link: all zero
        DumpKind::Links => {
            w.fixed(IfInfoMsg::<&[u8]>::LEN);
        }
        DumpKind::Addrs => {
            w.fixed(IfAddrMsg::<&[u8]>::LEN);
        }
        DumpKind::Routes => {
            let repr = RtMsgRepr {
                table: RT_TABLE_MAIN,
                kind: RTN_UNICAST,
                ..RtMsgRepr::default()
            };
            repr.emit(&mut RtMsg::new_unchecked(w.fixed(RtMsg::<&[u8]>::LEN)));
        }
    }
    w.finish();
}

/// `RTM_GETLINK` for one interface: the kernel answers with one `RTM_NEWLINK` (with
/// `IFLA_STATS64`) or an `NLMSG_ERROR` (`ENODEV`).
pub fn emit_get_link(buf: &mut Vec<u8>, ifindex: u32, seq: u32) {
    let header = NlMsgRepr {
        nlmsg_type: RTM_GETLINK,
        flags: NLM_F_REQUEST,
        seq,
    };
    let mut w = Writer::new(buf, header);
    let repr = IfInfoMsgRepr { index: ifindex };
    repr.emit(&mut IfInfoMsg::new_unchecked(
        w.fixed(IfInfoMsg::<&[u8]>::LEN),
    ));
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

impl RouteOp {
    fn header(self, seq: u32) -> NlMsgRepr {
        match self {
            RouteOp::Add => request(RTM_NEWROUTE, NLM_F_EXCL | NLM_F_CREATE, seq),
            RouteOp::Append => request(RTM_NEWROUTE, NLM_F_APPEND | NLM_F_CREATE, seq),
            RouteOp::Del => request(RTM_DELROUTE, 0, seq),
        }
    }
}

/// A request with an ACK: `NLM_F_REQUEST | NLM_F_ACK` and `flags`.
pub(super) fn request(nlmsg_type: u16, flags: u16, seq: u32) -> NlMsgRepr {
    NlMsgRepr {
        nlmsg_type,
        flags: NLM_F_REQUEST | NLM_F_ACK | flags,
        seq,
    }
}

/// The key of a default route, the fields every route message starts with: `rtmsg`, then
/// `RTA_TABLE` (a table above 255) and `RTA_DST` (IPv6), as iproute2 writes them.
fn default_key(w: &mut Writer<'_>, family: Family, table: u32, protocol: u8, scope: u8, kind: u8) {
    let short_table = u8::try_from(table).unwrap_or(RT_TABLE_UNSPEC);
    let rtm = RtMsgRepr {
        family: af_of(family),
        dst_len: 0, // default route
        table: short_table,
        protocol,
        scope,
        kind,
    };
    rtm.emit(&mut RtMsg::new_unchecked(w.fixed(RtMsg::<&[u8]>::LEN)));
    if short_table == RT_TABLE_UNSPEC {
        w.attr(RTA_TABLE, &table.to_ne_bytes());
    }
    // iproute2 spells out `::/0` for IPv6 (and not `0.0.0.0/0` for IPv4); the kernel takes
    // either.
    if family == Family::V6 {
        w.attr(RTA_DST, &[0; 16]);
    }
}

/// Appends `RTA_GATEWAY`, or `RTA_VIA` for a gateway of the other family.
fn gateway_attr(buf: &mut Vec<u8>, family: Family, gateway: IpAddr) {
    match (gateway, family) {
        (IpAddr::V4(gw), Family::V4) => emit_attr(buf, RTA_GATEWAY, &gw.octets()),
        (IpAddr::V6(gw), Family::V6) => emit_attr(buf, RTA_GATEWAY, &gw.octets()),
        (gw, _) => emit_attr(buf, RTA_VIA, &via_bytes(gw)),
    }
}

/// `RTM_NEWROUTE` with `NLM_F_CREATE | NLM_F_ACK` and `NLM_F_EXCL` or `NLM_F_APPEND` (never
/// `NLM_F_REPLACE`: the metric is part of the key, replacing could clobber another WAN's
/// route) or `RTM_DELROUTE` with `NLM_F_ACK`, for a default route. Attribute order and
/// header fields follow iproute2, so `ip route add/del` produce the same bytes.
pub fn emit_route(buf: &mut Vec<u8>, op: RouteOp, route: &Route, seq: u32) {
    let mut w = Writer::new(buf, op.header(seq));
    let scope = route_scope(op, route);
    default_key(
        &mut w,
        route.family,
        route.table,
        route.protocol,
        scope,
        RTN_UNICAST,
    );
    if let Some(gw) = route.gateway {
        gateway_attr(w.buf, route.family, gw);
    }
    match (route.prefsrc, route.family) {
        (Some(IpAddr::V4(src)), Family::V4) => w.attr(RTA_PREFSRC, &src.octets()),
        (Some(IpAddr::V6(src)), Family::V6) => w.attr(RTA_PREFSRC, &src.octets()),
        _ => {} // none, or of the other family (never parsed so): left out
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

/// Whether a multipath route message adds, replaces or deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultipathOp {
    /// `NLM_F_CREATE | NLM_F_EXCL`.
    Add,
    /// `NLM_F_CREATE | NLM_F_REPLACE` (`ip route replace`): the route with the key is
    /// swapped for this one in one step. Only for a key no other actor uses (the
    /// daemon's own metric): at another WAN's metric it would clobber that WAN's route.
    Replace,
    Del,
}

/// A default route over several next hops, each with its weight: balance mode's route in
/// the main table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipathRoute<'a> {
    pub family: Family,
    pub table: u32,
    pub metric: u32,
    pub protocol: u8,
    pub nexthops: &'a [Nexthop],
}

/// A multipath default route (`RTA_MULTIPATH`, one `rtnexthop` with its `RTA_GATEWAY` per
/// next hop, weight − 1 in `rtnh_hops`). Balance mode swaps it whole with
/// [`MultipathOp::Replace`]; a delete carries the next hops too, as iproute2 sends it,
/// and the scope "any" of every delete.
pub fn emit_multipath(buf: &mut Vec<u8>, op: MultipathOp, route: &MultipathRoute<'_>, seq: u32) {
    let (header, scope) = match op {
        MultipathOp::Add => (
            request(RTM_NEWROUTE, NLM_F_EXCL | NLM_F_CREATE, seq),
            RT_SCOPE_UNIVERSE,
        ),
        MultipathOp::Replace => (
            request(RTM_NEWROUTE, NLM_F_REPLACE | NLM_F_CREATE, seq),
            RT_SCOPE_UNIVERSE,
        ),
        MultipathOp::Del => (request(RTM_DELROUTE, 0, seq), RT_SCOPE_NOWHERE),
    };
    let mut w = Writer::new(buf, header);
    default_key(
        &mut w,
        route.family,
        route.table,
        route.protocol,
        scope,
        RTN_UNICAST,
    );
    w.attr(RTA_PRIORITY, &route.metric.to_ne_bytes());
    let mut hops = Vec::with_capacity(route.nexthops.len() * 28);
    for hop in route.nexthops {
        emit_nexthop(&mut hops, route.family, hop);
    }
    w.attr(RTA_MULTIPATH, &hops);
    w.finish();
}

/// One `struct rtnexthop` and its gateway. A weight outside 1..=256 is clamped into it.
fn emit_nexthop(buf: &mut Vec<u8>, family: Family, hop: &Nexthop) {
    let start = buf.len();
    buf.resize(start + RtNexthop::<&[u8]>::LEN, 0);
    if let Some(gw) = hop.gateway {
        gateway_attr(buf, family, gw);
    }
    let len = u16::try_from(buf.len() - start).expect("invariant: a next hop is small");
    let mut nh = RtNexthop::new_unchecked(&mut buf[start..]);
    nh.set_rtnh_len(len);
    nh.set_flags(0);
    nh.set_hops(u8::try_from(hop.weight.clamp(1, 256) - 1).unwrap_or(u8::MAX));
    nh.set_ifindex(hop.ifindex);
}

/// An `unreachable` default route (`RTN_UNREACHABLE`): in a WAN's table it ends the
/// lookup of a policy's traffic with "no route to host" instead of letting it fall
/// through to the next rule (the main table, another WAN). The kill switch of a policy
/// with `fallback = false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnreachableRoute {
    pub family: Family,
    pub table: u32,
    pub metric: u32,
    pub protocol: u8,
}

/// `RTM_NEWROUTE` / `RTM_DELROUTE` of an [`UnreachableRoute`], as `ip route add|del
/// unreachable default table T proto P metric M` sends it.
pub fn emit_unreachable(buf: &mut Vec<u8>, op: RouteOp, route: &UnreachableRoute, seq: u32) {
    let mut w = Writer::new(buf, op.header(seq));
    let scope = match op {
        RouteOp::Del => RT_SCOPE_NOWHERE,
        RouteOp::Add | RouteOp::Append => RT_SCOPE_UNIVERSE,
    };
    default_key(
        &mut w,
        route.family,
        route.table,
        route.protocol,
        scope,
        RTN_UNREACHABLE,
    );
    w.attr(RTA_PRIORITY, &route.metric.to_ne_bytes());
    w.finish();
}

/// `struct rtvia`: the address family (`u16`), then the address.
fn via_bytes(gw: IpAddr) -> heapless::Vec<u8, 18> {
    let mut v = heapless::Vec::new();
    // 2 + 16 bytes at most: always fits
    let _ = match gw {
        IpAddr::V4(a) => v
            .extend_from_slice(&u16::from(AF_INET).to_ne_bytes())
            .and_then(|()| v.extend_from_slice(&a.octets())),
        IpAddr::V6(a) => v
            .extend_from_slice(&u16::from(AF_INET6).to_ne_bytes())
            .and_then(|()| v.extend_from_slice(&a.octets())),
    };
    v
}

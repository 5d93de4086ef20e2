//! Emitting the daemon's requests: dumps, a single link, route add/delete. Each message is
//! built in place in the caller's buffer through the views of [`super::wire`].

use std::net::IpAddr;

use libc::{
    RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PREFSRC, RTA_PRIORITY, RTA_TABLE, RTM_DELROUTE, RTM_GETADDR,
    RTM_GETLINK, RTM_GETROUTE, RTM_NEWROUTE, RTN_UNICAST, RT_SCOPE_LINK, RT_SCOPE_NOWHERE,
    RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, RT_TABLE_UNSPEC,
};

use super::wire::{
    emit_attr, IfAddrMsg, IfInfoMsg, IfInfoMsgRepr, NlMsg, NlMsgRepr, RtMsg, RtMsgRepr,
};
use super::{
    af_of, AF_INET, AF_INET6, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST, RTA_VIA,
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
struct Writer<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
    header: NlMsgRepr,
}

impl<'a> Writer<'a> {
    fn new(buf: &'a mut Vec<u8>, header: NlMsgRepr) -> Writer<'a> {
        let start = buf.len();
        buf.resize(start + NlMsg::<&[u8]>::LEN, 0);
        Writer { buf, start, header }
    }

    /// Room for a fixed header of `len` bytes, zeroed; returns where it starts.
    fn fixed(&mut self, len: usize) -> &mut [u8] {
        let at = self.buf.len();
        self.buf.resize(at + len, 0);
        &mut self.buf[at..]
    }

    fn attr(&mut self, kind: u16, value: &[u8]) {
        emit_attr(self.buf, kind, value);
    }

    fn finish(self) {
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

/// `RTM_NEWROUTE` with `NLM_F_CREATE | NLM_F_ACK` and `NLM_F_EXCL` or `NLM_F_APPEND` (never
/// `NLM_F_REPLACE`: the metric is part of the key, replacing could clobber another WAN's
/// route) or `RTM_DELROUTE` with `NLM_F_ACK`, for a default route. Attribute order and
/// header fields follow iproute2, so `ip route add/del` produce the same bytes.
pub fn emit_route(buf: &mut Vec<u8>, op: RouteOp, route: &Route, seq: u32) {
    let (nlmsg_type, flags) = match op {
        RouteOp::Add => (RTM_NEWROUTE, NLM_F_EXCL | NLM_F_CREATE),
        RouteOp::Append => (RTM_NEWROUTE, NLM_F_APPEND | NLM_F_CREATE),
        RouteOp::Del => (RTM_DELROUTE, 0),
    };
    let header = NlMsgRepr {
        nlmsg_type,
        flags: NLM_F_REQUEST | NLM_F_ACK | flags,
        seq,
    };
    let mut w = Writer::new(buf, header);
    // a table above 255 goes in RTA_TABLE
    let table = u8::try_from(route.table).unwrap_or(RT_TABLE_UNSPEC);
    let rtm = RtMsgRepr {
        family: af_of(route.family),
        dst_len: 0, // default route
        table,
        protocol: route.protocol,
        scope: route_scope(op, route),
        kind: RTN_UNICAST,
    };
    rtm.emit(&mut RtMsg::new_unchecked(w.fixed(RtMsg::<&[u8]>::LEN)));
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

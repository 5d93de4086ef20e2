//! ctnetlink (`NETLINK_NETFILTER`, subsystem `NFNL_SUBSYS_CTNETLINK`): the conntrack table
//! dumped, its entries' tuples read, and exact entries deleted, so that flows source-NATed
//! to a WAN that no longer carries them re-bind at once (DESIGN.md §10, "flows follow the
//! switch").
//!
//! Pure wire code in the manner of [`super::message`]: a checked view of `struct nfgenmsg`,
//! nested attributes read through the same bounds-checked [`Attrs`], fuzzed
//! (`fuzz/fuzz_targets/conntrack.rs`) and tested against bytes captured from the kernel and
//! the `conntrack` tool. [`select()`] picks the entries to delete; [`socket`] talks to the
//! kernel.
//!
//! Kernel facts (Linux 6.x, `nf_conntrack_netlink.c`):
//! - Values are **big-endian** (ports, `CTA_ID`, `CTA_STATUS`, `CTA_MARK`, `CTA_ZONE`),
//!   unlike rtnetlink's host order; addresses are in network order as everywhere.
//! - Nested attributes carry `NLA_F_NESTED`; the kernel accepts them with or without.
//! - A dump (`IPCTNL_MSG_CT_GET` with `NLM_F_DUMP`) of `nfgen_family` `AF_UNSPEC` walks every
//!   family; a family asks for that one only (answers then carry `NLM_F_DUMP_FILTERED`).
//!   Conntrack runs in a network namespace only for the families some hook needs (a NAT
//!   table, a `ct state` rule): without one the dump is empty.
//! - `IPCTNL_MSG_CT_DELETE` finds the entry by `CTA_TUPLE_ORIG` in `CTA_ZONE` (default 0)
//!   and, when `CTA_ID` is given, deletes it only if it is still the same entry (`ENOENT`
//!   otherwise): a flow that ended and began again between the dump and the delete keeps
//!   its new entry. Without a tuple the request would flush the whole table; this module
//!   never sends one without.
//! - Several requests may share one datagram; the kernel handles them in order before
//!   `send` returns. Without `NLM_F_ACK` a delete that worked is not answered, one that
//!   failed is (`ENOENT`: the entry is gone already).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::message::wire::{emit_attr, Attrs, NlMsgErr, NlMsgRepr, NlMsgs};
use super::message::{ParseError, Writer, AF_INET, AF_INET6, AF_UNSPEC};
use super::message::{NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use crate::engine::Family;

pub mod select;
pub mod socket;

pub use select::{policy_covers, select, Flush};
pub use socket::{in_seq_range, open_netlink, open_netlink_groups, Conntrack, DeleteReport};

// `linux/netfilter/nfnetlink.h`, `nfnetlink_conntrack.h` (not in `libc`, or as `c_int`).
pub const NFNL_SUBSYS_CTNETLINK: u16 = libc::NFNL_SUBSYS_CTNETLINK as u16;
pub const NFNETLINK_V0: u8 = 0;
pub const IPCTNL_MSG_CT_NEW: u16 = 0;
pub const IPCTNL_MSG_CT_GET: u16 = 1;
pub const IPCTNL_MSG_CT_DELETE: u16 = 2;
pub const CTA_TUPLE_ORIG: u16 = 1;
pub const CTA_TUPLE_REPLY: u16 = 2;
pub const CTA_STATUS: u16 = 3;
pub const CTA_MARK: u16 = 8;
pub const CTA_ID: u16 = 12;
pub const CTA_ZONE: u16 = 18;
pub const CTA_TUPLE_IP: u16 = 1;
pub const CTA_TUPLE_PROTO: u16 = 2;
pub const CTA_IP_V4_SRC: u16 = 1;
pub const CTA_IP_V4_DST: u16 = 2;
pub const CTA_IP_V6_SRC: u16 = 3;
pub const CTA_IP_V6_DST: u16 = 4;
pub const CTA_PROTO_NUM: u16 = 1;
pub const CTA_PROTO_SRC_PORT: u16 = 2;
pub const CTA_PROTO_DST_PORT: u16 = 3;
pub const CTA_PROTO_ICMP_ID: u16 = 4;
pub const CTA_PROTO_ICMP_TYPE: u16 = 5;
pub const CTA_PROTO_ICMP_CODE: u16 = 6;
pub const CTA_PROTO_ICMPV6_ID: u16 = 7;
pub const CTA_PROTO_ICMPV6_TYPE: u16 = 8;
pub const CTA_PROTO_ICMPV6_CODE: u16 = 9;
/// `NLA_F_NESTED`, set on every nested attribute we send (as the `conntrack` tool does).
const NLA_F_NESTED: u16 = libc::NLA_F_NESTED as u16;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;

/// The netlink message type of a ctnetlink message (`IPCTNL_MSG_CT_*`).
pub const fn ct_type(msg: u16) -> u16 {
    NFNL_SUBSYS_CTNETLINK << 8 | msg
}

// ----- struct nfgenmsg --------------------------------------------------------------------

/// `struct nfgenmsg { __u8 nfgen_family; __u8 version; __be16 res_id; }`, followed by the
/// attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NfGenMsg<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NfGenMsg<T> {
    pub const LEN: usize = 4;

    pub fn new_checked(buffer: T) -> Result<NfGenMsg<T>, ParseError> {
        if buffer.as_ref().len() < Self::LEN {
            return Err(ParseError::TruncatedPayload {
                nlmsg_type: ct_type(IPCTNL_MSG_CT_NEW),
            });
        }
        Ok(NfGenMsg { buffer })
    }

    pub fn family(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// `res_id`, big-endian on the wire.
    pub fn res_id(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    pub fn rest(&self) -> &[u8] {
        &self.buffer.as_ref()[Self::LEN..]
    }
}

/// The `nfgenmsg` of our requests: a family (`AF_UNSPEC` for all), version 0, `res_id` 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NfGenMsgRepr {
    pub family: u8,
}

impl NfGenMsgRepr {
    pub fn emit(&self, buf: &mut [u8]) {
        buf[..NfGenMsg::<&[u8]>::LEN].copy_from_slice(&[self.family, NFNETLINK_V0, 0, 0]);
    }
}

// ----- tuples and entries -----------------------------------------------------------------

/// What identifies a flow beyond its addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L4 {
    /// TCP, UDP, SCTP, DCCP, UDP-Lite: ports.
    Ports { src: u16, dst: u16 },
    /// ICMP or ICMPv6 (echo and the like): identifier, type and code.
    Icmp { id: u16, kind: u8, code: u8 },
    /// Any other protocol: the protocol number alone.
    None,
}

/// One direction of a flow (`CTA_TUPLE_ORIG` or `CTA_TUPLE_REPLY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tuple {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// `IPPROTO_*`.
    pub proto: u8,
    pub l4: L4,
}

/// A conntrack entry as the daemon needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry {
    pub family: Family,
    /// The flow as its first packet saw it (before NAT).
    pub orig: Tuple,
    /// The answers as they arrive (after NAT): a source-NATed flow's `reply.dst` is the
    /// address it was NATed to.
    pub reply: Tuple,
    /// `CTA_ID`: the kernel's identifier of this entry, sent back on delete.
    pub id: Option<u32>,
    /// `CTA_ZONE` (0 unless zones are used).
    pub zone: u16,
    pub mark: Option<u32>,
    /// `IPS_*` bits.
    pub status: Option<u32>,
}

impl Entry {
    /// Whether the reply goes to another address than the flow came from: source NAT (or
    /// masquerade) rewrote it.
    pub fn is_source_nated(&self) -> bool {
        self.reply.dst != self.orig.src
    }
}

/// What one ctnetlink message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtBody {
    /// A conntrack entry (dump part or notification); `None` when it lacks a tuple or its
    /// family is not IPv4/IPv6.
    Entry(Option<Entry>),
    /// `NLMSG_ERROR`: `errno` 0 is an ACK, otherwise a positive errno.
    Error { errno: i32, request_seq: u32 },
    /// `NLMSG_DONE`; non-zero `errno` when the dump failed.
    Done { errno: i32 },
    /// Any other message type.
    Other(u16),
}

/// One decoded ctnetlink message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtMessage {
    pub nlmsg_type: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    pub body: CtBody,
}

/// Decodes every message of one datagram, as [`super::parse_messages`] does for
/// rtnetlink: a broken netlink header ends the iteration, a broken payload skips one
/// message.
pub fn parse_ct_messages(buf: &[u8]) -> CtMessages<'_> {
    CtMessages {
        views: NlMsgs::new(buf),
    }
}

/// Iterator returned by [`parse_ct_messages`].
#[derive(Debug, Clone)]
pub struct CtMessages<'a> {
    views: NlMsgs<'a>,
}

impl Iterator for CtMessages<'_> {
    type Item = Result<CtMessage, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let msg = match self.views.next()? {
            Ok(msg) => msg,
            Err(e) => return Some(Err(e)),
        };
        let nlmsg_type = msg.nlmsg_type();
        Some(parse_body(nlmsg_type, msg.payload()).map(|body| CtMessage {
            nlmsg_type,
            flags: msg.nlmsg_flags(),
            seq: msg.nlmsg_seq(),
            pid: msg.nlmsg_pid(),
            body,
        }))
    }
}

fn parse_body(nlmsg_type: u16, payload: &[u8]) -> Result<CtBody, ParseError> {
    const NEW: u16 = ct_type(IPCTNL_MSG_CT_NEW);
    const DELETE: u16 = ct_type(IPCTNL_MSG_CT_DELETE);
    match nlmsg_type {
        NLMSG_ERROR => {
            let err = NlMsgErr::new_checked(payload)
                .map_err(|_| ParseError::TruncatedPayload { nlmsg_type })?;
            Ok(CtBody::Error {
                errno: err.error().saturating_neg(),
                request_seq: err.request().nlmsg_seq(),
            })
        }
        NLMSG_DONE => Ok(CtBody::Done {
            errno: super::message::wire::done_error(payload).saturating_neg(),
        }),
        NEW | DELETE => parse_entry(nlmsg_type, payload).map(CtBody::Entry),
        other => Ok(CtBody::Other(other)),
    }
}

fn parse_entry(nlmsg_type: u16, payload: &[u8]) -> Result<Option<Entry>, ParseError> {
    let nfg =
        NfGenMsg::new_checked(payload).map_err(|_| ParseError::TruncatedPayload { nlmsg_type })?;
    let family = match nfg.family() {
        AF_INET => Family::V4,
        AF_INET6 => Family::V6,
        _ => return Ok(None),
    };
    let (mut orig, mut reply) = (None, None);
    let (mut id, mut zone, mut mark, mut status) = (None, 0, None, None);
    for attr in Attrs::new(nlmsg_type, nfg.rest()) {
        let attr = attr?;
        match attr.kind {
            CTA_TUPLE_ORIG => orig = parse_tuple(nlmsg_type, family, attr.value)?,
            CTA_TUPLE_REPLY => reply = parse_tuple(nlmsg_type, family, attr.value)?,
            CTA_ID => id = be32(attr.value),
            CTA_ZONE => zone = be16(attr.value).unwrap_or(0),
            CTA_MARK => mark = be32(attr.value),
            CTA_STATUS => status = be32(attr.value),
            _ => {}
        }
    }
    Ok(orig.zip(reply).map(|(orig, reply)| Entry {
        family,
        orig,
        reply,
        id,
        zone,
        mark,
        status,
    }))
}

/// `CTA_TUPLE_IP` and `CTA_TUPLE_PROTO`; `None` without both addresses and a protocol.
fn parse_tuple(nlmsg_type: u16, family: Family, value: &[u8]) -> Result<Option<Tuple>, ParseError> {
    let (mut src, mut dst, mut proto) = (None, None, None);
    let mut l4 = L4Parts::default();
    for attr in Attrs::new(nlmsg_type, value) {
        let attr = attr?;
        match attr.kind {
            CTA_TUPLE_IP => {
                for a in Attrs::new(nlmsg_type, attr.value) {
                    let a = a?;
                    match (a.kind, family) {
                        (CTA_IP_V4_SRC, Family::V4) | (CTA_IP_V6_SRC, Family::V6) => {
                            src = addr(family, a.value);
                        }
                        (CTA_IP_V4_DST, Family::V4) | (CTA_IP_V6_DST, Family::V6) => {
                            dst = addr(family, a.value);
                        }
                        _ => {}
                    }
                }
            }
            CTA_TUPLE_PROTO => {
                for a in Attrs::new(nlmsg_type, attr.value) {
                    let a = a?;
                    match a.kind {
                        CTA_PROTO_NUM => proto = a.u8(),
                        kind => l4.read(kind, a.value),
                    }
                }
            }
            _ => {}
        }
    }
    Ok(match (src, dst, proto) {
        (Some(src), Some(dst), Some(proto)) => Some(Tuple {
            src,
            dst,
            proto,
            l4: l4.finish(proto),
        }),
        _ => None,
    })
}

/// The layer-4 attributes seen so far.
#[derive(Default)]
struct L4Parts {
    src_port: Option<u16>,
    dst_port: Option<u16>,
    icmp_id: Option<u16>,
    icmp_type: Option<u8>,
    icmp_code: Option<u8>,
}

impl L4Parts {
    fn read(&mut self, kind: u16, value: &[u8]) {
        match kind {
            CTA_PROTO_SRC_PORT => self.src_port = be16(value),
            CTA_PROTO_DST_PORT => self.dst_port = be16(value),
            CTA_PROTO_ICMP_ID | CTA_PROTO_ICMPV6_ID => self.icmp_id = be16(value),
            CTA_PROTO_ICMP_TYPE | CTA_PROTO_ICMPV6_TYPE => self.icmp_type = value.first().copied(),
            CTA_PROTO_ICMP_CODE | CTA_PROTO_ICMPV6_CODE => self.icmp_code = value.first().copied(),
            _ => {}
        }
    }

    fn finish(self, proto: u8) -> L4 {
        match (self.src_port, self.dst_port, self.icmp_id, self.icmp_type) {
            (Some(src), Some(dst), _, _) => L4::Ports { src, dst },
            (_, _, Some(id), Some(kind)) if proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6 => {
                L4::Icmp {
                    id,
                    kind,
                    code: self.icmp_code.unwrap_or(0),
                }
            }
            _ => L4::None,
        }
    }
}

fn be16(v: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(v.get(..2)?.try_into().ok()?))
}

fn be32(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?))
}

fn addr(family: Family, v: &[u8]) -> Option<IpAddr> {
    match family {
        Family::V4 => {
            let b: [u8; 4] = v.get(..4)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(b)))
        }
        Family::V6 => {
            let b: [u8; 16] = v.get(..16)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
    }
}

// ----- requests ---------------------------------------------------------------------------

/// A dump of the conntrack table of `family` (`None`: every family), as `conntrack -L`
/// asks for it.
pub fn emit_ct_dump(buf: &mut Vec<u8>, family: Option<Family>, seq: u32) {
    let header = NlMsgRepr {
        nlmsg_type: ct_type(IPCTNL_MSG_CT_GET),
        flags: NLM_F_REQUEST | NLM_F_DUMP,
        seq,
    };
    let mut w = Writer::new(buf, header);
    let repr = NfGenMsgRepr {
        family: family.map_or(AF_UNSPEC, af),
    };
    repr.emit(w.fixed(NfGenMsg::<&[u8]>::LEN));
    w.finish();
}

/// `IPCTNL_MSG_CT_DELETE` of exactly this entry: its original tuple, its zone (when not
/// 0) and its id (when known, so a newer entry with the same tuple stays). With `ack`
/// the kernel answers success too; without, only a failure.
pub fn emit_ct_delete(buf: &mut Vec<u8>, entry: &Entry, ack: bool, seq: u32) {
    let ack = if ack { NLM_F_ACK } else { 0 };
    let header = NlMsgRepr {
        nlmsg_type: ct_type(IPCTNL_MSG_CT_DELETE),
        flags: NLM_F_REQUEST | ack,
        seq,
    };
    let mut w = Writer::new(buf, header);
    let repr = NfGenMsgRepr {
        family: af(entry.family),
    };
    repr.emit(w.fixed(NfGenMsg::<&[u8]>::LEN));
    let mut tuple = Vec::with_capacity(64);
    emit_tuple(&mut tuple, &entry.orig);
    w.attr(CTA_TUPLE_ORIG | NLA_F_NESTED, &tuple);
    if entry.zone != 0 {
        w.attr(CTA_ZONE, &entry.zone.to_be_bytes());
    }
    if let Some(id) = entry.id {
        w.attr(CTA_ID, &id.to_be_bytes());
    }
    w.finish();
}

/// `CTA_TUPLE_IP { src, dst }` then `CTA_TUPLE_PROTO { num, ports | icmp }`, in the
/// order the kernel and the `conntrack` tool write them.
fn emit_tuple(buf: &mut Vec<u8>, t: &Tuple) {
    let mut ip = Vec::with_capacity(40);
    match (t.src, t.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            emit_attr(&mut ip, CTA_IP_V4_SRC, &s.octets());
            emit_attr(&mut ip, CTA_IP_V4_DST, &d.octets());
        }
        (s, d) => {
            emit_attr(&mut ip, CTA_IP_V6_SRC, &v6_octets(s));
            emit_attr(&mut ip, CTA_IP_V6_DST, &v6_octets(d));
        }
    }
    emit_attr(buf, CTA_TUPLE_IP | NLA_F_NESTED, &ip);
    let mut proto = Vec::with_capacity(24);
    emit_attr(&mut proto, CTA_PROTO_NUM, &[t.proto]);
    let v6 = t.proto == IPPROTO_ICMPV6;
    match t.l4 {
        L4::Ports { src, dst } => {
            emit_attr(&mut proto, CTA_PROTO_SRC_PORT, &src.to_be_bytes());
            emit_attr(&mut proto, CTA_PROTO_DST_PORT, &dst.to_be_bytes());
        }
        L4::Icmp { id, kind, code } => {
            let (a_id, a_type, a_code) = if v6 {
                (
                    CTA_PROTO_ICMPV6_ID,
                    CTA_PROTO_ICMPV6_TYPE,
                    CTA_PROTO_ICMPV6_CODE,
                )
            } else {
                (CTA_PROTO_ICMP_ID, CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE)
            };
            emit_attr(&mut proto, a_id, &id.to_be_bytes());
            emit_attr(&mut proto, a_type, &[kind]);
            emit_attr(&mut proto, a_code, &[code]);
        }
        L4::None => {}
    }
    emit_attr(buf, CTA_TUPLE_PROTO | NLA_F_NESTED, &proto);
}

/// An IPv6 address's bytes; an IPv4 address (never in an IPv6 tuple) as mapped.
fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

fn af(family: Family) -> u8 {
    match family {
        Family::V4 => AF_INET,
        Family::V6 => AF_INET6,
    }
}

#[cfg(all(test, target_endian = "little"))]
mod tests;

//! FIB rules (`ip rule`): the checked view of `struct fib_rule_hdr`
//! (`linux/fib_rules.h`), the daemon's [`Rule`] with `parse` and `emit`, and the requests
//! `RTM_NEWRULE`, `RTM_DELRULE` and the `RTM_GETRULE` dump.
//!
//! Kernel facts (Linux 6.x):
//! - A rule's table goes in `fib_rule_hdr.table` when it fits in 8 bits, else in
//!   `FRA_TABLE` with the header's `RT_TABLE_UNSPEC`; dumps carry `FRA_TABLE` always.
//! - `RTM_DELRULE` deletes the first rule that matches every attribute given; the action
//!   `FR_ACT_UNSPEC` (what iproute2 sends) matches any. Priority, table, prefixes, marks,
//!   ports, protocol and `FRA_PROTOCOL` are all compared, so a delete of our rule never
//!   takes another one with the same priority.
//! - `RTM_NEWRULE` with `NLM_F_EXCL` refuses an identical rule (`EEXIST`, Linux 4.18+),
//!   but two rules that differ in anything may share a priority.
//! - A single port is sent as the range `port-port`; the kernel shows it so, and adds
//!   `FRA_DPORT_MASK`/`FRA_SPORT_MASK` in dumps (ignored here).

use std::net::IpAddr;

use libc::{RTM_DELRULE, RTM_GETRULE, RTM_NEWRULE, RT_TABLE_UNSPEC};

use super::emit::request;
use super::wire::{FibRuleHdr, NlMsgRepr};
use super::{af_of, IfName, Writer};
use super::{NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST};
use crate::config::{Cidr, Fwmark, PortRange};
use crate::engine::Family;

// `linux/fib_rules.h` (not in `libc`).
pub const FRA_DST: u16 = 1;
pub const FRA_SRC: u16 = 2;
pub const FRA_IIFNAME: u16 = 3;
pub const FRA_PRIORITY: u16 = 6;
pub const FRA_FWMARK: u16 = 10;
pub const FRA_TABLE: u16 = 15;
pub const FRA_FWMASK: u16 = 16;
pub const FRA_PROTOCOL: u16 = 21;
pub const FRA_IP_PROTO: u16 = 22;
pub const FRA_SPORT_RANGE: u16 = 23;
pub const FRA_DPORT_RANGE: u16 = 24;
pub const FR_ACT_UNSPEC: u8 = 0;
pub const FR_ACT_TO_TBL: u8 = 1;
pub const FR_ACT_UNREACHABLE: u8 = 7;

/// The `fib_rule_hdr` fields of a rule request or dump.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FibRuleHdrRepr {
    pub family: u8,
    pub dst_len: u8,
    pub src_len: u8,
    pub tos: u8,
    pub table: u8,
    pub action: u8,
    pub flags: u32,
}

impl FibRuleHdrRepr {
    pub fn parse<T: AsRef<[u8]>>(h: &FibRuleHdr<T>) -> FibRuleHdrRepr {
        FibRuleHdrRepr {
            family: h.family(),
            dst_len: h.dst_len(),
            src_len: h.src_len(),
            tos: h.tos(),
            table: h.table(),
            action: h.action(),
            flags: h.flags(),
        }
    }

    /// Writes every field; the two reserved bytes are zeroed.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, h: &mut FibRuleHdr<T>) {
        h.set_family(self.family);
        h.set_dst_len(self.dst_len);
        h.set_src_len(self.src_len);
        h.set_tos(self.tos);
        h.set_table(self.table);
        h.set_res1(0);
        h.set_res2(0);
        h.set_action(self.action);
        h.set_flags(self.flags);
    }
}

// ----- a rule -----------------------------------------------------------------------------

/// A FIB rule with the matches the daemon writes. Parsed rules of other actors may carry
/// more (`goto`, `uidrange`, `l3mdev`, …), which are not kept: only rules tagged with our
/// [`Rule::protocol`] are ever deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub family: Family,
    /// `FRA_PRIORITY`: lower is looked at first.
    pub priority: u32,
    /// The table to look up (`FR_ACT_TO_TBL`).
    pub table: u32,
    /// `FR_ACT_*`: [`FR_ACT_TO_TBL`] for the daemon's rules.
    pub action: u8,
    pub src: Option<Cidr>,
    pub dst: Option<Cidr>,
    /// `IPPROTO_*`.
    pub ip_proto: Option<u8>,
    pub sport: Option<PortRange>,
    pub dport: Option<PortRange>,
    pub fwmark: Option<Fwmark>,
    /// Incoming interface.
    pub iif: Option<IfName>,
    /// `FRA_PROTOCOL`: who installed the rule (`RTPROT_*`; ours is 87, as for routes).
    pub protocol: u8,
}

impl Rule {
    /// A rule without matches that looks up `table` (`FR_ACT_TO_TBL`); set the matches on
    /// the result.
    pub fn lookup(family: Family, table: u32, priority: u32, protocol: u8) -> Rule {
        Rule {
            family,
            priority,
            table,
            action: FR_ACT_TO_TBL,
            src: None,
            dst: None,
            ip_proto: None,
            sport: None,
            dport: None,
            fwmark: None,
            iif: None,
            protocol,
        }
    }
}

/// Whether a rule message adds or deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOp {
    /// `NLM_F_CREATE | NLM_F_EXCL` (`ip rule add`): an identical rule is `EEXIST`.
    Add,
    /// `ip rule del`: the first rule that matches every field.
    Del,
}

/// `RTM_NEWRULE` or `RTM_DELRULE` with `NLM_F_ACK`. Attributes in the order `ip rule add
/// from … to … ipproto … sport … dport … fwmark … iif … lookup … priority … protocol …`
/// writes them, so that command produces the same bytes.
pub fn emit_rule(buf: &mut Vec<u8>, op: RuleOp, rule: &Rule, seq: u32) {
    let (header, action) = match op {
        RuleOp::Add => (
            request(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, seq),
            rule.action,
        ),
        // as iproute2: "any action", the other fields find the rule
        RuleOp::Del => (request(RTM_DELRULE, 0, seq), FR_ACT_UNSPEC),
    };
    let mut w = Writer::new(buf, header);
    let table = u8::try_from(rule.table).unwrap_or(RT_TABLE_UNSPEC);
    let hdr = FibRuleHdrRepr {
        family: af_of(rule.family),
        dst_len: rule.dst.map_or(0, |d| d.prefix_len()),
        src_len: rule.src.map_or(0, |s| s.prefix_len()),
        table,
        action,
        ..FibRuleHdrRepr::default()
    };
    hdr.emit(&mut FibRuleHdr::new_unchecked(
        w.fixed(FibRuleHdr::<&[u8]>::LEN),
    ));
    if let Some(src) = rule.src {
        w.attr(FRA_SRC, &addr_bytes(src.addr()));
    }
    if let Some(dst) = rule.dst {
        w.attr(FRA_DST, &addr_bytes(dst.addr()));
    }
    if let Some(p) = rule.ip_proto {
        w.attr(FRA_IP_PROTO, &[p]);
    }
    if let Some(r) = rule.sport {
        w.attr(FRA_SPORT_RANGE, &port_range_bytes(r));
    }
    if let Some(r) = rule.dport {
        w.attr(FRA_DPORT_RANGE, &port_range_bytes(r));
    }
    if let Some(m) = rule.fwmark {
        w.attr(FRA_FWMARK, &m.value.to_ne_bytes());
        w.attr(FRA_FWMASK, &m.mask.to_ne_bytes());
    }
    if let Some(iif) = &rule.iif {
        let mut name = heapless::Vec::<u8, { super::IFNAMSIZ }>::new();
        // at most IFNAMSIZ - 1 bytes and the NUL: always fits
        let _ = name.extend_from_slice(iif.as_bytes());
        let _ = name.push(0);
        w.attr(FRA_IIFNAME, &name);
    }
    if table == RT_TABLE_UNSPEC {
        w.attr(FRA_TABLE, &rule.table.to_ne_bytes());
    }
    w.attr(FRA_PRIORITY, &rule.priority.to_ne_bytes());
    w.attr(FRA_PROTOCOL, &[rule.protocol]);
    w.finish();
}

/// A dump of the rules of `family` (`None`: both), as `ip rule show` asks for it.
pub fn emit_rule_dump(buf: &mut Vec<u8>, family: Option<Family>, seq: u32) {
    let header = NlMsgRepr {
        nlmsg_type: RTM_GETRULE,
        flags: NLM_F_REQUEST | NLM_F_DUMP,
        seq,
    };
    let mut w = Writer::new(buf, header);
    let hdr = FibRuleHdrRepr {
        family: family.map_or(super::AF_UNSPEC, af_of),
        ..FibRuleHdrRepr::default()
    };
    hdr.emit(&mut FibRuleHdr::new_unchecked(
        w.fixed(FibRuleHdr::<&[u8]>::LEN),
    ));
    w.finish();
}

fn addr_bytes(addr: IpAddr) -> heapless::Vec<u8, 16> {
    let mut v = heapless::Vec::new();
    // 16 bytes at most: always fits
    let _ = match addr {
        IpAddr::V4(a) => v.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => v.extend_from_slice(&a.octets()),
    };
    v
}

/// `struct fib_rule_port_range { __u16 start; __u16 end; }`, host order.
fn port_range_bytes(r: PortRange) -> [u8; 4] {
    let [s0, s1] = r.start.to_ne_bytes();
    let [e0, e1] = r.end.to_ne_bytes();
    [s0, s1, e0, e1]
}

#[cfg(feature = "routing")]
fn port_range(value: &[u8]) -> Option<PortRange> {
    let b: [u8; 4] = value.get(..4)?.try_into().ok()?;
    let start = u16::from_ne_bytes([b[0], b[1]]);
    let end = u16::from_ne_bytes([b[2], b[3]]);
    (start <= end).then_some(PortRange { start, end })
}

/// `RTM_NEWRULE` / `RTM_DELRULE` from the kernel: a notification or a dump part. Rules of
/// families other than IPv4 and IPv6 are [`super::Body::Ignored`]. Only the routing half asks for
/// rules.
#[cfg(feature = "routing")]
pub(super) fn parse_rule(
    nlmsg_type: u16,
    payload: &[u8],
) -> Result<super::Body, super::ParseError> {
    use super::wire::Attrs;
    use super::{family_of, ifname, ip_addr, Body, ParseError};
    let hdr = FibRuleHdr::new_checked(payload)
        .map_err(|_| ParseError::TruncatedPayload { nlmsg_type })?;
    let h = FibRuleHdrRepr::parse(&hdr);
    let Some(family) = family_of(h.family) else {
        return Ok(Body::Ignored(nlmsg_type));
    };
    let mut rule = Rule {
        action: h.action,
        ..Rule::lookup(family, u32::from(h.table), 0, 0)
    };
    let (mut mark, mut mask) = (None, None);
    let prefix = |len: u8, value: &[u8]| ip_addr(family, value).and_then(|a| Cidr::new(a, len));
    for attr in Attrs::new(nlmsg_type, hdr.rest()) {
        let attr = attr?;
        match attr.kind {
            FRA_SRC => rule.src = prefix(h.src_len, attr.value),
            FRA_DST => rule.dst = prefix(h.dst_len, attr.value),
            FRA_PRIORITY => rule.priority = attr.u32().unwrap_or(0),
            FRA_TABLE => rule.table = attr.u32().unwrap_or(rule.table),
            FRA_FWMARK => mark = attr.u32(),
            FRA_FWMASK => mask = attr.u32(),
            FRA_IIFNAME => rule.iif = Some(ifname(attr.value)).filter(|n| !n.is_empty()),
            FRA_PROTOCOL => rule.protocol = attr.u8().unwrap_or(0),
            FRA_IP_PROTO => rule.ip_proto = attr.u8(),
            FRA_SPORT_RANGE => rule.sport = port_range(attr.value),
            FRA_DPORT_RANGE => rule.dport = port_range(attr.value),
            _ => {}
        }
    }
    // The kernel leaves out a mark of 0 (its mask alone says "match unmarked packets")
    // and a mask of 0; a mark without a mask means every bit.
    rule.fwmark = match (mark, mask) {
        (None, None) => None,
        (value, mask) => Some(Fwmark {
            value: value.unwrap_or(0),
            mask: mask.unwrap_or(u32::MAX),
        }),
    };
    Ok(Body::Rule {
        new: nlmsg_type == RTM_NEWRULE,
        rule,
    })
}

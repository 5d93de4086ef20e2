//! The routing half of the file (DESIGN.md §10): `mode`, `sticky` and `flush_conntrack` at
//! the top, each WAN's `table` and `weight`, and `[[policy]]` routes.
//!
//! Per-WAN tables and the conntrack flush are the Cargo feature `routing`, balance and
//! policy routing the feature `balance` (both on by default). A build without them still
//! knows every key, so a file written for a full build gets one clear error per key that
//! needs a feature instead of an "unknown key".

use std::ops::Range;

use crate::config::toml::Spanned;

use crate::config::error::{line_col, Collector};
use crate::config::matches::{Cidr, Fwmark, PortRange};
use crate::config::raw::RawConfig;
use crate::config::validate::{check_ifname, check_name, duplicates};
use crate::config::values::{self, code, start_of};
use crate::config::{Config, FamilySet, Priority, MAX_WANS};
use crate::engine::Family;

/// Most `[[policy]]` tables: each becomes a rule per family in a reserved priority range.
pub const MAX_POLICIES: usize = 64;
/// The kernel's own tables, which no WAN may take: `RT_TABLE_DEFAULT`, `RT_TABLE_MAIN`,
/// `RT_TABLE_LOCAL` (0, `RT_TABLE_UNSPEC`, is outside the allowed range).
pub const RESERVED_TABLES: [u32; 3] = [253, 254, 255];
/// A WAN's table unless it sets `table`: 100 + priority.
pub const DEFAULT_TABLE_BASE: u32 = 100;
/// The table of a WAN with `priority = "auto"` unless it sets `table`: 1000 + its position
/// in the file (1 for the first WAN).
pub const AUTO_TABLE_BASE: u32 = 1000;
/// A WAN's multipath weight unless it sets `weight`.
pub const DEFAULT_WEIGHT: u16 = 1;
/// The kernel's multipath weights: `rtnh_hops` + 1.
pub const MAX_WEIGHT: u32 = 256;

pub const POLICY_KEYS: &[&str] = &[
    "name",
    "wan",
    "source",
    "destination",
    "protocol",
    "dport",
    "sport",
    "fwmark",
    "iif",
    "fallback",
];

/// How the main table's default route is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The best usable WAN holds the lowest metric (DESIGN.md §2).
    #[default]
    Failover,
    /// One weighted multipath default over every usable WAN.
    Balance,
}

/// What keeps a connection on one WAN in balance mode: the kernel's multipath hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sticky {
    /// Addresses, protocol and ports (`fib_multipath_hash_policy = 1`).
    #[default]
    Flow,
    /// The source address alone (policy 3 with `fib_multipath_hash_fields` = source IP).
    Source,
}

/// What a policy matches on besides addresses and ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    /// ICMP for IPv4 rules, ICMPv6 for IPv6 rules.
    Icmp,
}

impl Protocol {
    /// The `IPPROTO_*` number in a rule of `family`.
    pub fn number(self, family: Family) -> u8 {
        match (self, family) {
            (Protocol::Tcp, _) => 6,
            (Protocol::Udp, _) => 17,
            (Protocol::Icmp, Family::V4) => 1,
            (Protocol::Icmp, Family::V6) => 58,
        }
    }
}

impl core::fmt::Display for Protocol {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        })
    }
}

/// One `[[policy]]`: traffic that matches goes through `wan`'s table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    /// The WAN's name and its index in [`Config::wans`].
    pub wan: String,
    pub wan_index: usize,
    pub source: Option<Cidr>,
    pub destination: Option<Cidr>,
    pub protocol: Option<Protocol>,
    /// Only with `tcp` or `udp`.
    pub dport: Option<PortRange>,
    pub sport: Option<PortRange>,
    pub fwmark: Option<Fwmark>,
    /// Incoming interface (`iif`), for traffic from one LAN.
    pub iif: Option<String>,
    /// `true`: when the WAN is not usable the rule goes and the traffic fails over with the
    /// rest. `false`: the rule stays and an `unreachable` default in the WAN's table keeps
    /// the traffic from leaking through another WAN.
    pub fallback: bool,
}

impl Policy {
    /// The one family the addresses pin the policy to, if they do.
    pub fn family(&self) -> Option<Family> {
        self.source.or(self.destination).map(|c| c.family())
    }
}

/// Routing settings of one WAN, in the order of [`Config::wans`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WanRouting {
    /// Its routing table: unique, never 0, 253, 254 or 255.
    pub table: u32,
    /// Its share of new flows in balance mode, 1 to 256.
    pub weight: u16,
}

/// The routing half of the file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Routing {
    pub mode: Mode,
    /// Only meaningful in balance mode.
    pub sticky: Sticky,
    /// Delete the conntrack entries of flows source-NATed to a WAN that stopped carrying
    /// them (default on).
    pub flush_conntrack: bool,
    pub wans: Vec<WanRouting>,
    pub policies: Vec<Policy>,
}

mod read;

pub use read::{read_top_key, read_wan_key, RawPolicy, RawRouting, RawWanRouting};

type Field<T> = Option<Spanned<T>>;

/// The rules that relate routing values to each other and to the WANs; `config` is the
/// validated rest of the file (its WANs are those of `raw`, in order, when it has no
/// errors).
pub fn validate(c: &mut Collector<'_>, raw: &RawConfig, config: &Config) -> Routing {
    let r = &raw.routing;
    let mode = value(&r.mode).unwrap_or_default();
    check_feature(c, raw);
    if let (Mode::Failover, Some(s)) = (mode, &r.sticky) {
        let msg = "`sticky` only applies with mode = \"balance\"";
        c.at(&s.span(), msg.to_string());
    }
    let wans = wan_routing(c, raw, mode);
    // without the feature, each [[policy]] is one error (above), not a dozen
    let policies = if cfg!(feature = "balance") {
        policies(c, &r.policies, config)
    } else {
        Vec::new()
    };
    Routing {
        mode,
        sticky: value(&r.sticky).unwrap_or_default(),
        flush_conntrack: value(&r.flush_conntrack).unwrap_or(cfg!(feature = "routing")),
        wans,
        policies,
    }
}

fn value<T: Copy>(field: &Field<T>) -> Option<T> {
    field.as_ref().map(|f| *f.get_ref())
}

/// Without the `routing` or `balance` feature: one error per key that needs it.
fn check_feature(c: &mut Collector<'_>, raw: &RawConfig) {
    let r = &raw.routing;
    if !cfg!(feature = "routing") {
        let mut needs = |span: Range<usize>, what: &str| {
            let msg = format!("{what} needs the `routing` feature, which this build leaves out");
            c.at(&span, msg);
        };
        // `false` asks for what this build does anyway
        if let Some(f) = r.flush_conntrack.as_ref().filter(|f| *f.get_ref()) {
            needs(f.span(), "flush_conntrack = true");
        }
        for w in &raw.wans {
            if let Some(t) = &w.routing.table {
                needs(t.span(), "`table`");
            }
        }
    }
    if cfg!(feature = "balance") {
        return;
    }
    let mut needs = |span: Range<usize>, what: &str| {
        let msg = format!("{what} needs the `balance` feature, which this build leaves out");
        c.at(&span, msg);
    };
    if let Some(m) = r.mode.as_ref().filter(|m| *m.get_ref() == Mode::Balance) {
        needs(m.span(), "mode = \"balance\"");
    }
    if let Some(s) = &r.sticky {
        needs(s.span(), "`sticky`");
    }
    if let Some(span) = &r.policy_span {
        needs(span.clone(), "[[policy]]");
    }
    for w in &raw.wans {
        if let Some(weight) = &w.routing.weight {
            needs(weight.span(), "`weight`");
        }
    }
}

/// Tables (given or 100 + priority) and weights, in WAN order.
fn wan_routing(c: &mut Collector<'_>, raw: &RawConfig, mode: Mode) -> Vec<WanRouting> {
    let list = raw.wans.get(..MAX_WANS).unwrap_or(&raw.wans);
    let mut out = Vec::new();
    let mut tables: Vec<(Spanned<u32>, Option<&str>)> = Vec::new();
    for (position, w) in list.iter().enumerate() {
        if let (Mode::Failover, Some(weight)) = (mode, &w.routing.weight) {
            let msg = "`weight` only applies with mode = \"balance\"";
            c.at(&weight.span(), msg.to_string());
        }
        let name = w.name.as_ref().map(|n| n.get_ref().as_str());
        let table = match (&w.routing.table, &w.priority) {
            (Some(t), _) => {
                check_table(c, t);
                (t.clone(), None)
            }
            (None, Some(p)) => match p.get_ref() {
                Priority::Fixed(n) => (default_table(c, &Spanned::new(p.span(), *n)), name),
                // no number to add 100 to: after every fixed default, by position (a
                // clash with another WAN's table is reported like any duplicate)
                Priority::Auto => {
                    let t = AUTO_TABLE_BASE.saturating_add(position as u32 + 1);
                    (Spanned::new(p.span(), t), None)
                }
            },
            (None, None) => continue, // reported as a missing priority
        };
        let weight = value(&w.routing.weight).unwrap_or(u32::from(DEFAULT_WEIGHT));
        out.push(WanRouting {
            table: *table.0.get_ref(),
            weight: u16::try_from(weight).unwrap_or(DEFAULT_WEIGHT),
        });
        tables.push(table);
    }
    duplicate_tables(c, &tables);
    out
}

/// 100 + priority, which must not be one of the kernel's tables; placed at the priority.
fn default_table(c: &mut Collector<'_>, priority: &Spanned<u32>) -> Spanned<u32> {
    let t = DEFAULT_TABLE_BASE.saturating_add(*priority.get_ref());
    if RESERVED_TABLES.contains(&t) {
        let msg = format!(
            "this WAN needs a `table`: its default, 100 + priority = {t}, is one of the \
             kernel's own tables (253 default, 254 main, 255 local)"
        );
        c.at(&priority.span(), msg);
    }
    Spanned::new(priority.span(), t)
}

/// Two WANs on one table. `tables` holds each table with the WAN's name when it is the
/// default one; two equal defaults come from equal priorities, reported as such already.
fn duplicate_tables(c: &mut Collector<'_>, tables: &[(Spanned<u32>, Option<&str>)]) {
    for (i, (table, default_of)) in tables.iter().enumerate() {
        let earlier = tables.get(..i).unwrap_or(&[]);
        let Some((first, first_default)) =
            earlier.iter().find(|(t, _)| t.get_ref() == table.get_ref())
        else {
            continue;
        };
        let t = table.get_ref();
        match (default_of, first_default) {
            (Some(_), Some(_)) => {}
            (None, None) => {
                let (line, _) = line_col(c.text(), first.span().start);
                c.at(
                    &table.span(),
                    format!("duplicate table `{t}` (first used on line {line})"),
                );
            }
            (Some(name), None) => {
                let msg = format!(
                    "`table` {t} is also WAN {}'s default table (100 + priority)",
                    code(name)
                );
                c.at(&first.span(), msg);
            }
            (None, Some(name)) => {
                let msg = format!(
                    "`table` {t} is also WAN {}'s default table (100 + priority)",
                    code(name)
                );
                c.at(&table.span(), msg);
            }
        }
    }
}

fn check_table(c: &mut Collector<'_>, table: &Spanned<u32>) {
    if RESERVED_TABLES.contains(table.get_ref()) {
        let msg = format!(
            "`table` {} is one of the kernel's own tables (253 default, 254 main, 255 local): \
             choose another, e.g. 100 + priority",
            table.get_ref()
        );
        c.at(&table.span(), msg);
    }
}

fn policies(c: &mut Collector<'_>, raw: &[RawPolicy], config: &Config) -> Vec<Policy> {
    if let Some(extra) = raw.get(MAX_POLICIES) {
        let msg = format!("too many policies: at most {MAX_POLICIES} [[policy]] tables");
        c.at(&start_of(&extra.span), msg);
    }
    let list = raw.get(..MAX_POLICIES).unwrap_or(raw);
    let names: Vec<_> = list.iter().filter_map(|p| p.name.as_ref()).collect();
    duplicates(c, "policy name", &names);
    list.iter().filter_map(|p| policy(c, p, config)).collect()
}

fn policy(c: &mut Collector<'_>, raw: &RawPolicy, config: &Config) -> Option<Policy> {
    let missing = |c: &mut Collector<'_>, key: &str| {
        c.at(&start_of(&raw.span), format!("[[policy]] without `{key}`"));
    };
    if raw.name.is_none() {
        missing(c, "name");
    }
    if raw.wan.is_none() {
        missing(c, "wan");
    }
    if let Some(iif) = &raw.iif {
        check_ifname(c, iif);
    }
    let matches_ok = check_matches(c, raw, raw.name.as_ref().map(|n| n.get_ref().as_str()));
    let name = raw.name.as_ref()?;
    check_name(c, name, "policy");
    let wan = raw.wan.as_ref()?;
    let wan_index = find_wan(c, wan, config)?;
    matches_ok?;
    check_family(c, raw, &config.wans[wan_index])?;
    Some(Policy {
        name: name.get_ref().clone(),
        wan: wan.get_ref().clone(),
        wan_index,
        source: value(&raw.source),
        destination: value(&raw.destination),
        protocol: value(&raw.protocol),
        dport: value(&raw.dport),
        sport: value(&raw.sport),
        fwmark: value(&raw.fwmark),
        iif: raw.iif.as_ref().map(|i| i.get_ref().clone()),
        fallback: value(&raw.fallback).unwrap_or(true),
    })
}

/// The index of the WAN named by a policy, or an error that lists the names there are.
fn find_wan(c: &mut Collector<'_>, wan: &Spanned<String>, config: &Config) -> Option<usize> {
    let name = wan.get_ref();
    if let Some(i) = config.wans.iter().position(|w| &w.name == name) {
        return Some(i);
    }
    let names: Vec<&str> = config.wans.iter().map(|w| w.name.as_str()).collect();
    let hint = match values::suggest(name, &names) {
        Some(s) => format!("did you mean {}?", code(s)),
        None => format!(
            "the WANs are {}",
            names.iter().map(|n| code(n)).collect::<Vec<_>>().join(", ")
        ),
    };
    c.at(&wan.span(), format!("no WAN named {}: {hint}", code(name)));
    None
}

/// Ports need a protocol with ports; a policy must match something.
fn check_matches(c: &mut Collector<'_>, raw: &RawPolicy, name: Option<&str>) -> Option<()> {
    let mut ok = true;
    for (key, field) in [("dport", &raw.dport), ("sport", &raw.sport)] {
        let Some(f) = field else { continue };
        let proto = value(&raw.protocol);
        if !matches!(proto, Some(Protocol::Tcp | Protocol::Udp)) {
            let why = match proto {
                Some(p) => format!("not with protocol = \"{p}\""),
                None => "add protocol = \"tcp\" or \"udp\"".to_string(),
            };
            c.at(
                &f.span(),
                format!("`{key}` needs protocol tcp or udp: {why}"),
            );
            ok = false;
        }
    }
    let matches_something = raw.source.is_some()
        || raw.destination.is_some()
        || raw.protocol.is_some()
        || raw.fwmark.is_some()
        || raw.iif.is_some();
    if !matches_something {
        let msg = format!(
            "policy {}matches every packet: give at least one of `source`, `destination`, \
             `protocol`, `fwmark`, `iif` (to send everything through one WAN, use \
             `wanfailover prefer`)",
            name.map(|n| format!("{} ", code(n))).unwrap_or_default()
        );
        c.at(&start_of(&raw.span), msg);
        ok = false;
    }
    ok.then_some(())
}

/// `source` and `destination` of one family, which the WAN must manage.
fn check_family(c: &mut Collector<'_>, raw: &RawPolicy, wan: &crate::config::Wan) -> Option<()> {
    let src = raw.source.as_ref();
    let dst = raw.destination.as_ref();
    if let (Some(s), Some(d)) = (src, dst) {
        if s.get_ref().family() != d.get_ref().family() {
            let msg = format!(
                "`destination` {} and `source` {} are of different families",
                d.get_ref(),
                s.get_ref()
            );
            c.at(&d.span(), msg);
            return None;
        }
    }
    let Some(first) = src.or(dst) else {
        return Some(());
    };
    let family = first.get_ref().family();
    let managed = match wan.family {
        FamilySet::Both => true,
        FamilySet::Ipv4 => family == Family::V4,
        FamilySet::Ipv6 => family == Family::V6,
    };
    if !managed {
        let msg = format!(
            "{} is {family} but WAN {} has family = \"{}\"",
            first.get_ref(),
            code(&wan.name),
            wan.family
        );
        c.at(&first.span(), msg);
        return None;
    }
    Some(())
}

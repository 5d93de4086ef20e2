//! The routing keys as written: each value read and checked on its own, with its span.

use std::ops::Range;

use crate::config::toml::Spanned;
use crate::config::toml::{Node, Table};

use super::{Field, Protocol};
use super::{Mode, Sticky, MAX_WEIGHT};
use crate::config::error::Collector;
use crate::config::matches::{self, Cidr, Fwmark, PortRange};
use crate::config::raw::{self, Section};
use crate::config::values::{self, quote, Value};

/// The top-level keys as written.
#[derive(Debug, Default)]
pub struct RawRouting {
    pub mode: Field<Mode>,
    pub sticky: Field<Sticky>,
    pub flush_conntrack: Field<bool>,
    /// The `policy` key itself, for the feature check.
    pub policy_span: Option<Range<usize>>,
    pub policies: Vec<RawPolicy>,
}

/// A WAN's routing keys as written.
#[derive(Debug, Default)]
pub struct RawWanRouting {
    pub table: Field<u32>,
    pub weight: Field<u32>,
}

#[derive(Debug)]
pub struct RawPolicy {
    pub span: Range<usize>,
    pub name: Field<String>,
    pub wan: Field<String>,
    pub source: Field<Cidr>,
    pub destination: Field<Cidr>,
    pub protocol: Field<Protocol>,
    pub dport: Field<PortRange>,
    pub sport: Field<PortRange>,
    pub fwmark: Field<Fwmark>,
    pub iif: Field<String>,
    pub fallback: Field<bool>,
}

/// Reads a top-level routing key; `false` if `key` is not one.
pub fn read_top_key(c: &mut Collector<'_>, r: &mut RawRouting, key: &str, v: &Value<'_>) -> bool {
    match key {
        "mode" => {
            let modes = [("failover", Mode::Failover), ("balance", Mode::Balance)];
            r.mode = choice(c, key, v, &modes);
        }
        "sticky" => {
            let sticky = [("flow", Sticky::Flow), ("source", Sticky::Source)];
            r.sticky = choice(c, key, v, &sticky);
        }
        "flush_conntrack" => r.flush_conntrack = values::boolean(c, key, v),
        "policy" => {
            r.policy_span = Some(v.span());
            r.policies = read_policies(c, v);
        }
        _ => return false,
    }
    true
}

/// Reads a WAN's routing key; `false` if `key` is not one.
pub fn read_wan_key(
    c: &mut Collector<'_>,
    r: &mut RawWanRouting,
    key: &str,
    v: &Value<'_>,
) -> bool {
    match key {
        "table" => r.table = values::integer(c, key, v, (1, u32::MAX)),
        "weight" => r.weight = values::integer(c, key, v, (1, MAX_WEIGHT)),
        _ => return false,
    }
    true
}

/// One of `choices`, each a string in the file and the value it means.
fn choice<T: Copy>(
    c: &mut Collector<'_>,
    key: &str,
    v: &Value<'_>,
    choices: &[(&str, T)],
) -> Field<T> {
    let text = v.get_ref().as_str();
    if let Some((_, value)) = choices.iter().find(|(name, _)| Some(*name) == text) {
        return Some(Spanned::new(v.span(), *value));
    }
    let names: Vec<String> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    let what = match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    expected(c, key, &what, v)
}

/// Records "`key` expects `what`, found …" and returns `None`.
fn expected<T>(c: &mut Collector<'_>, key: &str, what: &str, v: &Value<'_>) -> Field<T> {
    let found = match v.get_ref() {
        Node::String(s) => quote(s),
        other => format!("a {}", other.type_str()),
    };
    c.at(&v.span(), format!("`{key}` expects {what}, found {found}"));
    None
}

fn read_policies(c: &mut Collector<'_>, v: &Value<'_>) -> Vec<RawPolicy> {
    let Node::Array(items) = v.get_ref() else {
        let msg = "`policy` must be an array of tables: write [[policy]], not [policy]";
        c.at(&v.span(), msg.to_string());
        return Vec::new();
    };
    let mut policies = Vec::new();
    for item in items.iter() {
        match item.get_ref() {
            Node::Table(table) => policies.push(read_policy(c, item.span(), table)),
            _ => c.at(
                &item.span(),
                "each `policy` must be a table: [[policy]]".into(),
            ),
        }
    }
    policies
}

fn read_policy(c: &mut Collector<'_>, span: Range<usize>, table: &Table<'_>) -> RawPolicy {
    let mut p = RawPolicy {
        span,
        name: None,
        wan: None,
        source: None,
        destination: None,
        protocol: None,
        dport: None,
        sport: None,
        fwmark: None,
        iif: None,
        fallback: None,
    };
    for (key, v) in table.iter() {
        let k: &str = key.get_ref();
        match k {
            "name" => p.name = values::string(c, k, v),
            "wan" => p.wan = values::string(c, k, v),
            "source" => p.source = cidr(c, k, v),
            "destination" => p.destination = cidr(c, k, v),
            "protocol" => {
                let protocols = [
                    ("tcp", Protocol::Tcp),
                    ("udp", Protocol::Udp),
                    ("icmp", Protocol::Icmp),
                ];
                p.protocol = choice(c, k, v, &protocols);
            }
            "dport" => p.dport = ports(c, k, v),
            "sport" => p.sport = ports(c, k, v),
            "fwmark" => p.fwmark = fwmark(c, k, v),
            "iif" => p.iif = values::string(c, k, v),
            "fallback" => p.fallback = values::boolean(c, k, v),
            _ => raw::unknown_key(c, key, Section::Policy),
        }
    }
    p
}

/// A string value through `parse`; `what` says what was expected of another type.
fn parsed<T, E: core::fmt::Display>(
    c: &mut Collector<'_>,
    key: &str,
    v: &Value<'_>,
    what: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Field<T> {
    let Node::String(text) = v.get_ref() else {
        return expected(c, key, what, v);
    };
    match parse(text) {
        Ok(value) => Some(Spanned::new(v.span(), value)),
        Err(e) => {
            c.at(&v.span(), format!("invalid `{key}` {}: {e}", quote(text)));
            None
        }
    }
}

fn cidr(c: &mut Collector<'_>, key: &str, v: &Value<'_>) -> Field<Cidr> {
    let what = "an address or prefix such as \"192.0.2.0/24\"";
    parsed(c, key, v, what, matches::parse_cidr)
}

fn fwmark(c: &mut Collector<'_>, key: &str, v: &Value<'_>) -> Field<Fwmark> {
    let what = "a string \"VALUE/MASK\" such as \"0x10/0xff\"";
    parsed(c, key, v, what, matches::parse_fwmark)
}

/// A port as an integer, or a port or range as a string (`"1000-2000"`).
fn ports(c: &mut Collector<'_>, key: &str, v: &Value<'_>) -> Field<PortRange> {
    let Node::Integer(i) = v.get_ref() else {
        let what = "a port such as 1194 or a range such as \"1000-2000\"";
        return parsed(c, key, v, what, matches::parse_port_range);
    };
    match i64::from_str_radix(i.as_str(), i.radix()) {
        Ok(p @ 1..=65535) => Some(Spanned::new(v.span(), PortRange::single(p as u16))),
        _ => {
            c.at(&v.span(), format!("invalid `{key}`: ports are 1 to 65535"));
            None
        }
    }
}

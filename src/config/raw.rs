//! The file as written: every key checked against its table's known keys, every value
//! type-checked and range-checked on its own, each kept with its span for later messages.
//! Rules that relate several values live in `validate.rs`.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::time::Duration;

use super::toml::Spanned;
use super::toml::{Key, Node, Table};

use super::error::Collector;
use super::routing::{self, RawRouting, RawWanRouting, POLICY_KEYS};
use super::target::{self, Target};
use super::values::{self, Value};
use super::{FamilySet, Gateway, Percent, Priority};

/// Bounds of the probe intervals and the timeout: under 10 ms the probe traffic is a load of
/// its own; over an hour the WAN is effectively unmonitored.
pub const INTERVAL_RANGE: (Duration, Duration) =
    (Duration::from_millis(10), Duration::from_secs(3_600));
/// `hold` may be zero (come back as soon as `up` rounds passed).
const HOLD_RANGE: (Duration, Duration) = (Duration::ZERO, Duration::from_secs(3_600));
/// Quality thresholds: a zero latency or jitter bound would make every WAN degraded.
const QUALITY_RANGE: (Duration, Duration) = (Duration::from_micros(1), Duration::from_secs(60));
/// Highest priority. Metrics are `priority + penalty` in a `u32`; this keeps the sum far
/// from overflow with any allowed penalty, and leaves the override room below priority 1.
pub const MAX_PRIORITY: u32 = 1_000_000;
/// Highest route-metric penalty (see [`MAX_PRIORITY`]).
pub const MAX_PENALTY: u32 = 1_000_000_000;

const TOP_KEYS: &[&str] = &[
    "socket",
    "socket_group",
    "hooks_dir",
    "hook_timeout",
    "down_penalty",
    "degraded_penalty",
    "metrics_listen",
    "defaults",
    "wan",
    "mode",
    "sticky",
    "flush_conntrack",
    "policy",
];
const WAN_KEYS: &[&str] = &[
    "name",
    "interface",
    "priority",
    "family",
    "gateway",
    "enabled",
    "table",
    "weight",
];
pub const PROBE_KEYS: &[&str] = &[
    "targets",
    "dns",
    "interval",
    "timeout",
    "failure_interval",
    "recovery_interval",
    "down",
    "up",
    "hold",
    "reliability",
    "max_latency",
    "recovery_latency",
    "max_loss",
    "recovery_loss",
    "max_jitter",
    "recovery_jitter",
];

type Field<T> = Option<Spanned<T>>;

/// Keys allowed both in `[defaults]` and in each `[[wan]]`.
#[derive(Debug, Default)]
pub struct RawProbe {
    pub targets: Field<Vec<Spanned<Target>>>,
    /// DNS servers for host names in `http` targets.
    pub dns: Field<Vec<Spanned<IpAddr>>>,
    pub interval: Field<Duration>,
    pub timeout: Field<Duration>,
    pub failure_interval: Field<Duration>,
    pub recovery_interval: Field<Duration>,
    pub down: Field<u32>,
    pub up: Field<u32>,
    pub hold: Field<Duration>,
    pub reliability: Field<u32>,
    pub max_latency: Field<Duration>,
    pub recovery_latency: Field<Duration>,
    pub max_loss: Field<Percent>,
    pub recovery_loss: Field<Percent>,
    pub max_jitter: Field<Duration>,
    pub recovery_jitter: Field<Duration>,
}

#[derive(Debug)]
pub struct RawWan {
    /// The whole `[[wan]]` table; missing keys are reported at its start.
    pub span: Range<usize>,
    pub name: Field<String>,
    pub interface: Field<String>,
    pub priority: Field<Priority>,
    pub family: Field<FamilySet>,
    pub gateway: Field<Gateway>,
    pub enabled: Field<bool>,
    pub probe: RawProbe,
    pub routing: RawWanRouting,
}

#[derive(Debug, Default)]
pub struct RawConfig {
    pub socket: Field<String>,
    pub socket_group: Field<String>,
    pub hooks_dir: Field<String>,
    pub hook_timeout: Field<Duration>,
    pub down_penalty: Field<u32>,
    pub degraded_penalty: Field<u32>,
    pub metrics_listen: Field<SocketAddr>,
    pub defaults: RawProbe,
    pub wans: Vec<RawWan>,
    pub routing: RawRouting,
}

/// Reads the document's root table. Errors go to `c`; fields in error stay `None`.
pub fn read(c: &mut Collector<'_>, root: &Table<'_>) -> RawConfig {
    let mut raw = RawConfig::default();
    for (key, v) in root.iter() {
        let k: &str = key.get_ref();
        match k {
            "socket" => raw.socket = values::string(c, k, v),
            "socket_group" => raw.socket_group = values::string(c, k, v),
            "hooks_dir" => raw.hooks_dir = values::string(c, k, v),
            "hook_timeout" => raw.hook_timeout = values::duration(c, k, v, INTERVAL_RANGE),
            "down_penalty" => raw.down_penalty = values::integer(c, k, v, (1, MAX_PENALTY)),
            "degraded_penalty" => {
                raw.degraded_penalty = values::integer(c, k, v, (1, MAX_PENALTY));
            }
            "metrics_listen" => raw.metrics_listen = values::socket_addr(c, k, v),
            "defaults" => read_defaults(c, v, &mut raw.defaults),
            "wan" => raw.wans = read_wans(c, v),
            _ if routing::read_top_key(c, &mut raw.routing, k, v) => {}
            _ => unknown_key(c, key, Section::Top),
        }
    }
    raw
}

fn read_defaults(c: &mut Collector<'_>, v: &Value<'_>, probe: &mut RawProbe) {
    let Node::Table(table) = v.get_ref() else {
        c.at(
            &v.span(),
            "`defaults` must be a table: [defaults]".to_string(),
        );
        return;
    };
    for (key, v) in table.iter() {
        if !read_probe_key(c, probe, key.get_ref(), v) {
            unknown_key(c, key, Section::Defaults);
        }
    }
}

fn read_wans(c: &mut Collector<'_>, v: &Value<'_>) -> Vec<RawWan> {
    let Node::Array(items) = v.get_ref() else {
        let msg = "`wan` must be an array of tables: write [[wan]], not [wan]";
        c.at(&v.span(), msg.to_string());
        return Vec::new();
    };
    let mut wans = Vec::new();
    for item in items.iter() {
        match item.get_ref() {
            Node::Table(table) => wans.push(read_wan(c, item.span(), table)),
            _ => c.at(&item.span(), "each `wan` must be a table: [[wan]]".into()),
        }
    }
    wans
}

fn read_wan(c: &mut Collector<'_>, span: Range<usize>, table: &Table<'_>) -> RawWan {
    let mut wan = RawWan {
        span,
        name: None,
        interface: None,
        priority: None,
        family: None,
        gateway: None,
        enabled: None,
        probe: RawProbe::default(),
        routing: RawWanRouting::default(),
    };
    for (key, v) in table.iter() {
        let k: &str = key.get_ref();
        match k {
            "name" => wan.name = values::string(c, k, v),
            "interface" => wan.interface = values::string(c, k, v),
            "priority" => wan.priority = values::priority(c, k, v, (1, MAX_PRIORITY)),
            "family" => wan.family = values::family(c, k, v),
            "gateway" => wan.gateway = values::gateway(c, k, v),
            "enabled" => wan.enabled = values::boolean(c, k, v),
            _ if read_probe_key(c, &mut wan.probe, k, v) => {}
            _ if routing::read_wan_key(c, &mut wan.routing, k, v) => {}
            _ => unknown_key(c, key, Section::Wan),
        }
    }
    wan
}

/// Reads one of [`PROBE_KEYS`]; `false` if `key` is not one of them.
fn read_probe_key(c: &mut Collector<'_>, p: &mut RawProbe, key: &str, v: &Value<'_>) -> bool {
    use values::{duration, integer, percent};
    let count = (1, u32::from(u8::MAX));
    match key {
        "targets" => p.targets = target::list(c, key, v),
        "dns" => p.dns = dns_servers(c, key, v),
        "interval" => p.interval = duration(c, key, v, INTERVAL_RANGE),
        "timeout" => p.timeout = duration(c, key, v, INTERVAL_RANGE),
        "failure_interval" => p.failure_interval = duration(c, key, v, INTERVAL_RANGE),
        "recovery_interval" => p.recovery_interval = duration(c, key, v, INTERVAL_RANGE),
        "down" => p.down = integer(c, key, v, count),
        "up" => p.up = integer(c, key, v, count),
        "hold" => p.hold = duration(c, key, v, HOLD_RANGE),
        "reliability" => p.reliability = integer(c, key, v, count),
        "max_latency" => p.max_latency = duration(c, key, v, QUALITY_RANGE),
        "recovery_latency" => p.recovery_latency = duration(c, key, v, QUALITY_RANGE),
        "max_loss" => p.max_loss = percent(c, key, v),
        "recovery_loss" => p.recovery_loss = percent(c, key, v),
        "max_jitter" => p.max_jitter = duration(c, key, v, QUALITY_RANGE),
        "recovery_jitter" => p.recovery_jitter = duration(c, key, v, QUALITY_RANGE),
        _ => return false,
    }
    true
}

/// `dns`: the servers that resolve host names of `http` targets through this WAN.
fn dns_servers(c: &mut Collector<'_>, key: &str, v: &Value<'_>) -> Field<Vec<Spanned<IpAddr>>> {
    if !cfg!(feature = "checks") {
        let msg = "`dns` servers resolve host names of http targets, which this build leaves \
                   out (built without the `checks` feature)";
        c.at(&v.span(), msg.to_string());
        return None;
    }
    values::ip_list(c, key, v)
}

#[derive(Clone, Copy)]
pub enum Section {
    Top,
    Defaults,
    Wan,
    Policy,
}

/// Reports an unknown key, with a likely intended key or the table it belongs in.
pub fn unknown_key(c: &mut Collector<'_>, key: &Key<'_>, at: Section) {
    let k: &str = key.get_ref();
    let (place, own): (&str, Vec<&str>) = match at {
        Section::Top => ("at the top level", TOP_KEYS.to_vec()),
        Section::Defaults => ("in [defaults]", PROBE_KEYS.to_vec()),
        Section::Wan => ("in [[wan]]", [WAN_KEYS, PROBE_KEYS].concat()),
        Section::Policy => ("in [[policy]]", POLICY_KEYS.to_vec()),
    };
    let hint = if let Some(s) = values::suggest(k, &own) {
        format!(": did you mean `{s}`?")
    } else if WAN_KEYS.contains(&k) {
        ": it belongs in each [[wan]] table".to_string()
    } else if PROBE_KEYS.contains(&k) {
        ": it belongs in [defaults] or a [[wan]] table".to_string()
    } else if TOP_KEYS.contains(&k) {
        ": it belongs at the top of the file, before any [table]".to_string()
    } else {
        String::new()
    };
    let msg = format!("unknown key {} {place}{hint}", values::code(k));
    c.at(&key.span(), msg);
}

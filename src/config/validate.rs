//! Rules that relate several values, defaults inheritance, and the final [`Config`].

use std::net::IpAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use super::toml::Spanned;

use super::error::{line_col, Collector};
use super::raw::{RawConfig, RawProbe, RawWan};
use super::values::{code, start_of};
use super::{
    Config, FamilySet, Gateway, Wan, DEFAULT_HOOKS_DIR, DEFAULT_SOCKET_PATH, MAX_NAME_LEN, MAX_WANS,
};

pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_DOWN_PENALTY: u32 = 20_000;
pub const DEFAULT_DEGRADED_PENALTY: u32 = 10_000;
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// Unless set, `timeout` is the smaller of this and `interval`, so a fast profile only
/// needs `interval = "200ms"`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Unless set, `failure_interval` is the smaller of this and `interval`.
pub const DEFAULT_FAILURE_INTERVAL: Duration = Duration::from_millis(300);
pub const DEFAULT_RECOVERY_INTERVAL: Duration = Duration::from_secs(1);
pub const DEFAULT_DOWN: u8 = 3;
pub const DEFAULT_UP: u8 = 5;
pub const DEFAULT_HOLD: Duration = Duration::from_secs(10);
pub const DEFAULT_RELIABILITY: u8 = 1;
/// Longest Linux interface name (`IFNAMSIZ` minus the NUL).
const MAX_IFNAME_LEN: usize = 15;
/// Longest UNIX socket path (`sun_path` is 108 bytes with the NUL).
const MAX_SOCKET_PATH_LEN: usize = 107;

/// Turns a [`RawConfig`] that read without errors into a [`Config`], or records why not.
pub fn config(c: &mut Collector<'_>, raw: &RawConfig) -> Config {
    let socket = path(c, "socket", &raw.socket, DEFAULT_SOCKET_PATH);
    if let Some(s) = &raw.socket {
        if s.get_ref().len() > MAX_SOCKET_PATH_LEN {
            let msg = format!("`socket` is longer than {MAX_SOCKET_PATH_LEN} bytes");
            c.at(&s.span(), msg);
        }
    }
    let hooks_dir = path(c, "hooks_dir", &raw.hooks_dir, DEFAULT_HOOKS_DIR);
    if let Some(g) = &raw.socket_group {
        if !valid_group(g.get_ref()) {
            let msg = "`socket_group` must be a group name (no spaces, ':' or '/')";
            c.at(&g.span(), msg.to_string());
        }
    }
    let (down_penalty, degraded_penalty) = penalties(c, raw);
    let wans = wans(c, raw);
    Config {
        socket,
        socket_group: raw.socket_group.as_ref().map(|g| g.get_ref().clone()),
        hooks_dir,
        hook_timeout: value(&raw.hook_timeout).unwrap_or(DEFAULT_HOOK_TIMEOUT),
        down_penalty,
        degraded_penalty,
        metrics_listen: value(&raw.metrics_listen),
        wans,
    }
}

fn value<T: Copy>(field: &Option<Spanned<T>>) -> Option<T> {
    field.as_ref().map(|f| *f.get_ref())
}

fn path(
    c: &mut Collector<'_>,
    key: &str,
    field: &Option<Spanned<String>>,
    default: &str,
) -> PathBuf {
    let Some(p) = field else {
        return PathBuf::from(default);
    };
    if !p.get_ref().starts_with('/') || p.get_ref().contains('\0') {
        c.at(&p.span(), format!("`{key}` must be an absolute path"));
    }
    PathBuf::from(p.get_ref())
}

fn valid_group(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name
            .chars()
            .any(|ch| ch.is_whitespace() || ch.is_control() || ch == ':' || ch == '/')
}

/// A degraded WAN must still beat a dead one: `degraded_penalty < down_penalty`.
fn penalties(c: &mut Collector<'_>, raw: &RawConfig) -> (u32, u32) {
    let down = value(&raw.down_penalty).unwrap_or(DEFAULT_DOWN_PENALTY);
    let degraded = value(&raw.degraded_penalty).unwrap_or(DEFAULT_DEGRADED_PENALTY);
    if degraded >= down {
        let span = match (&raw.degraded_penalty, &raw.down_penalty) {
            (Some(f), _) => f.span(),
            (None, Some(f)) => f.span(),
            (None, None) => 0..0,
        };
        let msg = format!(
            "`degraded_penalty` ({degraded}) must be less than `down_penalty` ({down}): \
             a degraded WAN must still rank above a dead one"
        );
        c.at(&span, msg);
    }
    (down, degraded)
}

fn wans(c: &mut Collector<'_>, raw: &RawConfig) -> Vec<Wan> {
    if raw.wans.is_empty() {
        c.note("no WANs: add at least one [[wan]] table".to_string());
    }
    if let Some(extra) = raw.wans.get(MAX_WANS) {
        let msg = format!("too many WANs: at most {MAX_WANS} [[wan]] tables");
        c.at(&start_of(&extra.span), msg);
    }
    // Past the cap, the rest is not checked: one error says enough, and the pairwise
    // duplicate checks stay small on hostile input.
    let list = raw.wans.get(..MAX_WANS).unwrap_or(&raw.wans);
    let names: Vec<_> = list.iter().filter_map(|w| w.name.as_ref()).collect();
    duplicates(c, "WAN name", &names);
    let ifnames: Vec<_> = list.iter().filter_map(|w| w.interface.as_ref()).collect();
    duplicates(c, "interface", &ifnames);
    // only fixed priorities must differ: automatic ones are moved past every taken value
    let fixed: Vec<Spanned<u32>> = list
        .iter()
        .filter_map(|w| w.priority.as_ref())
        .filter_map(|p| p.get_ref().fixed().map(|n| Spanned::new(p.span(), n)))
        .collect();
    duplicates(c, "priority", &fixed.iter().collect::<Vec<_>>());
    list.iter()
        .filter_map(|w| wan(c, w, &raw.defaults))
        .collect()
}

/// Reports every value that repeats an earlier one, with where the first one is.
pub fn duplicates<T: PartialEq + std::fmt::Display>(
    c: &mut Collector<'_>,
    what: &str,
    items: &[&Spanned<T>],
) {
    for (i, item) in items.iter().enumerate() {
        let earlier = items.get(..i).unwrap_or(&[]);
        if let Some(first) = earlier.iter().find(|f| f.get_ref() == item.get_ref()) {
            let (line, _) = line_col(c.text(), first.span().start);
            let shown = code(&item.get_ref().to_string());
            let msg = format!("duplicate {what} {shown} (first used on line {line})");
            c.at(&item.span(), msg);
        }
    }
}

/// One WAN with `[defaults]` and built-in defaults filled in, or `None` after recording why
/// it is invalid.
fn wan(c: &mut Collector<'_>, raw: &RawWan, defaults: &RawProbe) -> Option<Wan> {
    let name = required(c, raw, "name", &raw.name)?;
    let wan_name = name.get_ref().clone();
    let interface = required(c, raw, "interface", &raw.interface);
    let priority = required(c, raw, "priority", &raw.priority);
    check_name(c, &name, "WAN");
    if let Some(i) = &interface {
        check_ifname(c, i);
    }
    let family = value(&raw.family).unwrap_or(FamilySet::Ipv4);
    let gateway = value(&raw.gateway).unwrap_or(Gateway::Auto);
    if let (Gateway::Addr(ip), Some(g)) = (gateway, &raw.gateway) {
        check_gateway(c, &wan_name, family, ip, &g.span());
    }
    let ctx = Ctx {
        name: &wan_name,
        span: &raw.span,
        family,
    };
    let probe = super::probe::probe(c, &ctx, &raw.probe, defaults);
    let quality = super::probe::quality(c, &ctx, &raw.probe, defaults);
    Some(Wan {
        name: wan_name,
        interface: interface?.get_ref().clone(),
        priority: *priority?.get_ref(),
        family,
        gateway,
        enabled: value(&raw.enabled).unwrap_or(true),
        probe: probe?,
        quality: quality?,
    })
}

/// What the probe checks need to know about the WAN they check.
pub struct Ctx<'a> {
    pub name: &'a str,
    /// The `[[wan]]` table, for problems without a better place.
    pub span: &'a Range<usize>,
    pub family: FamilySet,
}

fn required<T: Clone>(
    c: &mut Collector<'_>,
    raw: &RawWan,
    key: &str,
    field: &Option<Spanned<T>>,
) -> Option<Spanned<T>> {
    if field.is_none() {
        c.at(&start_of(&raw.span), format!("[[wan]] without `{key}`"));
    }
    field.clone()
}

/// Names go into hook arguments and environment, CLI tables and the socket protocol;
/// `what` names the thing named ("WAN", "policy").
pub fn check_name(c: &mut Collector<'_>, name: &Spanned<String>, what: &str) {
    let n = name.get_ref();
    let ok_char = |ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-');
    if n.is_empty() || n.len() > MAX_NAME_LEN || !n.chars().all(ok_char) {
        let msg = format!(
            "invalid {what} name {}: expected 1 to {MAX_NAME_LEN} characters of A-Z a-z 0-9 _ . -",
            super::values::quote(n)
        );
        c.at(&name.span(), msg);
    }
}

/// The kernel's own rule (`dev_valid_name`): 1..=15 bytes, not `.` or `..`, no `/`, `:` or
/// whitespace.
pub fn check_ifname(c: &mut Collector<'_>, ifname: &Spanned<String>) {
    let n = ifname.get_ref();
    let bad_char = |ch: char| ch == '/' || ch == ':' || ch.is_whitespace() || ch.is_control();
    if n.is_empty() || n.len() > MAX_IFNAME_LEN || n == "." || n == ".." || n.chars().any(bad_char)
    {
        let msg = format!(
            "invalid interface name {}: expected 1 to {MAX_IFNAME_LEN} bytes without '/', ':' or whitespace",
            super::values::quote(n)
        );
        c.at(&ifname.span(), msg);
    }
}

fn check_gateway(
    c: &mut Collector<'_>,
    wan: &str,
    family: FamilySet,
    ip: IpAddr,
    span: &Range<usize>,
) {
    let msg = match (family, ip) {
        (FamilySet::Both, _) => format!(
            "WAN `{wan}` has family = \"both\": a fixed gateway serves one family only; \
             use gateway = \"auto\" or choose family = \"ipv4\" or \"ipv6\""
        ),
        (FamilySet::Ipv4, IpAddr::V6(_)) => {
            format!("gateway {ip} is IPv6 but WAN `{wan}` has family = \"ipv4\"")
        }
        (FamilySet::Ipv6, IpAddr::V4(_)) => {
            format!("gateway {ip} is IPv4 but WAN `{wan}` has family = \"ipv6\"")
        }
        _ => return,
    };
    c.at(span, msg);
}

//! Typed values out of the spanned TOML tree: each reader either returns the value with its
//! span or records an error at the value and returns `None`.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::time::Duration;

use super::toml::Node;
use super::toml::Spanned;

use super::error::Collector;
use super::units;
use super::{FamilySet, Gateway, Percent, Priority};

pub use super::toml::Value;

/// Longest piece of input text repeated in a message.
const MAX_QUOTED_CHARS: usize = 40;

/// `text` escaped and cut short, so hostile input stays one short line.
fn shorten(text: &str) -> String {
    let head: String = text.chars().take(MAX_QUOTED_CHARS).collect();
    let more = if head.len() < text.len() { "…" } else { "" };
    format!("{}{more}", head.escape_debug())
}

/// `text` in double quotes, for values in messages.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", shorten(text))
}

/// `text` in backticks, for keys in messages.
pub fn code(text: &str) -> String {
    format!("`{}`", shorten(text))
}

fn found(v: &Value<'_>) -> String {
    match v.get_ref() {
        Node::String(s) => format!("the string {}", quote(s)),
        Node::Integer(i) => format!("the integer {}", shorten(&i.to_string())),
        Node::Boolean(b) => format!("{b}"),
        other => format!("a {}", other.type_str()),
    }
}

/// Records "`key` expects `what`, found …" at `v`.
pub fn wrong_type(c: &mut Collector<'_>, key: &str, what: &str, v: &Value<'_>) {
    c.at(
        &v.span(),
        format!("`{key}` expects {what}, found {}", found(v)),
    );
}

pub fn string(c: &mut Collector<'_>, key: &str, v: &Value<'_>) -> Option<Spanned<String>> {
    match v.get_ref() {
        Node::String(s) => Some(Spanned::new(v.span(), s.to_string())),
        _ => {
            wrong_type(c, key, "a string", v);
            None
        }
    }
}

pub fn boolean(c: &mut Collector<'_>, key: &str, v: &Value<'_>) -> Option<Spanned<bool>> {
    match v.get_ref() {
        Node::Boolean(b) => Some(Spanned::new(v.span(), *b)),
        _ => {
            wrong_type(c, key, "true or false", v);
            None
        }
    }
}

/// An integer in `range` (inclusive).
pub fn integer(
    c: &mut Collector<'_>,
    key: &str,
    v: &Value<'_>,
    range: (u32, u32),
) -> Option<Spanned<u32>> {
    let Node::Integer(i) = v.get_ref() else {
        wrong_type(c, key, "an integer", v);
        return None;
    };
    let (lo, hi) = range;
    match i64::from_str_radix(i.as_str(), i.radix()).ok() {
        Some(n) if n >= i64::from(lo) && n <= i64::from(hi) => {
            Some(Spanned::new(v.span(), n as u32))
        }
        _ => {
            let text = shorten(&i.to_string());
            c.at(
                &v.span(),
                format!("`{key}` must be from {lo} to {hi}, not {text}"),
            );
            None
        }
    }
}

/// A duration string within `range` (inclusive).
pub fn duration(
    c: &mut Collector<'_>,
    key: &str,
    v: &Value<'_>,
    range: (Duration, Duration),
) -> Option<Spanned<Duration>> {
    let text = match v.get_ref() {
        Node::String(s) => s,
        Node::Integer(i) => {
            let n = shorten(&i.to_string());
            let msg = format!(
                "invalid duration {n} for `{key}`: write it as a string with a unit, e.g. \"{n}s\""
            );
            c.at(&v.span(), msg);
            return None;
        }
        _ => {
            wrong_type(c, key, "a duration such as \"1s\"", v);
            return None;
        }
    };
    match units::parse_duration(text) {
        Ok(d) if d >= range.0 && d <= range.1 => Some(Spanned::new(v.span(), d)),
        Ok(d) => {
            let (lo, hi) = (
                units::format_duration(range.0),
                units::format_duration(range.1),
            );
            let d = units::format_duration(d);
            c.at(
                &v.span(),
                format!("`{key}` must be from {lo} to {hi}, not {d}"),
            );
            None
        }
        Err(e) => {
            c.at(&v.span(), format!("invalid duration {}: {e}", quote(text)));
            None
        }
    }
}

pub fn percent(c: &mut Collector<'_>, key: &str, v: &Value<'_>) -> Option<Spanned<Percent>> {
    let Node::String(text) = v.get_ref() else {
        wrong_type(c, key, "a percentage string such as \"20%\"", v);
        return None;
    };
    match units::parse_percent(text) {
        Ok(p) => Some(Spanned::new(v.span(), p)),
        Err(e) => {
            c.at(
                &v.span(),
                format!("invalid percentage {}: {e}", quote(text)),
            );
            None
        }
    }
}

/// A unicast address: probing or routing via the unspecified, a multicast or the limited
/// broadcast address is never what was meant.
fn address(text: &str) -> Option<IpAddr> {
    let ip: IpAddr = text.parse().ok()?;
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    (!ip.is_unspecified() && !ip.is_multicast() && !broadcast).then_some(ip)
}

pub fn ip(c: &mut Collector<'_>, key: &str, v: &Value<'_>) -> Option<Spanned<IpAddr>> {
    let Node::String(text) = v.get_ref() else {
        wrong_type(c, key, "an IP address string", v);
        return None;
    };
    match address(text) {
        Some(ip) => Some(Spanned::new(v.span(), ip)),
        None => {
            let msg = format!(
                "invalid address {} in `{key}`: expected a unicast IPv4 or IPv6 address",
                quote(text)
            );
            c.at(&v.span(), msg);
            None
        }
    }
}

/// A TCP address to listen on: `"127.0.0.1:9567"`, `"[::1]:9567"`; port 0 is refused.
pub fn socket_addr(c: &mut Collector<'_>, key: &str, v: &Value<'_>) -> Option<Spanned<SocketAddr>> {
    let Node::String(text) = v.get_ref() else {
        wrong_type(c, key, "an \"ADDRESS:PORT\" string", v);
        return None;
    };
    match text.parse::<SocketAddr>() {
        Ok(addr) if addr.port() != 0 => Some(Spanned::new(v.span(), addr)),
        _ => {
            let msg = format!(
                "invalid `{key}` {}: expected an address and a port from 1 to 65535, \
                 such as \"127.0.0.1:9567\" or \"[::1]:9567\"",
                quote(text)
            );
            c.at(&v.span(), msg);
            None
        }
    }
}

/// An array (of `what`), each element read by `read`. `None` if the value or any element
/// is invalid (all are reported).
pub fn array<T>(
    c: &mut Collector<'_>,
    key: &str,
    v: &Value<'_>,
    what: &str,
    mut read: impl FnMut(&mut Collector<'_>, &str, &Value<'_>) -> Option<T>,
) -> Option<Spanned<Vec<T>>> {
    let Node::Array(items) = v.get_ref() else {
        wrong_type(c, key, what, v);
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for item in items.iter() {
        match read(c, key, item) {
            Some(x) => out.push(x),
            None => ok = false,
        }
    }
    ok.then(|| Spanned::new(v.span(), out))
}

/// A list of addresses.
pub fn ip_list(
    c: &mut Collector<'_>,
    key: &str,
    v: &Value<'_>,
) -> Option<Spanned<Vec<Spanned<IpAddr>>>> {
    array(c, key, v, "an array of IP address strings", ip)
}

pub fn family(c: &mut Collector<'_>, key: &str, v: &Value<'_>) -> Option<Spanned<FamilySet>> {
    let family = match v.get_ref().as_str() {
        Some("ipv4") => FamilySet::Ipv4,
        Some("ipv6") => FamilySet::Ipv6,
        Some("both") => FamilySet::Both,
        _ => {
            wrong_type(c, key, "\"ipv4\", \"ipv6\" or \"both\"", v);
            return None;
        }
    };
    Some(Spanned::new(v.span(), family))
}

/// `priority`: an integer in `range` or `"auto"`.
pub fn priority(
    c: &mut Collector<'_>,
    key: &str,
    v: &Value<'_>,
    range: (u32, u32),
) -> Option<Spanned<Priority>> {
    match v.get_ref() {
        Node::Integer(_) => {
            integer(c, key, v, range).map(|p| Spanned::new(v.span(), Priority::Fixed(*p.get_ref())))
        }
        Node::String(s) if s.as_ref() == "auto" => Some(Spanned::new(v.span(), Priority::Auto)),
        Node::String(s) => {
            let msg = format!(
                "invalid `{key}` {}: expected \"auto\" or an integer from {} to {}",
                quote(s),
                range.0,
                range.1
            );
            c.at(&v.span(), msg);
            None
        }
        _ => {
            let what = format!("an integer from {} to {} or \"auto\"", range.0, range.1);
            wrong_type(c, key, &what, v);
            None
        }
    }
}

pub fn gateway(c: &mut Collector<'_>, key: &str, v: &Value<'_>) -> Option<Spanned<Gateway>> {
    if v.get_ref().as_str() == Some("auto") {
        return Some(Spanned::new(v.span(), Gateway::Auto));
    }
    let Node::String(text) = v.get_ref() else {
        wrong_type(c, key, "\"auto\" or an IP address", v);
        return None;
    };
    match address(text) {
        Some(ip) => Some(Spanned::new(v.span(), Gateway::Addr(ip))),
        None => {
            let msg = format!(
                "invalid gateway {}: expected \"auto\" or a unicast IPv4 or IPv6 address",
                quote(text)
            );
            c.at(&v.span(), msg);
            None
        }
    }
}

/// The closest of `candidates` to `key`, if a typo of it is plausible (at most two edits,
/// and fewer edits than the candidate has characters).
pub fn suggest<'a>(key: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // Keys are short; a hostile megabyte key is not worth comparing.
    if key.len() > 64 {
        return None;
    }
    candidates
        .iter()
        .map(|cand| (edit_distance(key, cand), *cand))
        .filter(|(d, cand)| *d <= 2 && *d < cand.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, cand)| cand)
}

/// Levenshtein distance over characters, one row of memory.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// A span to report a missing key at: the start of the table that lacks it.
pub fn start_of(span: &Range<usize>) -> Range<usize> {
    span.start..span.start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("interval", "interval"), 0);
        assert_eq!(edit_distance("intervall", "interval"), 1);
        assert_eq!(edit_distance("intreval", "interval"), 2);
        assert_eq!(edit_distance("", "up"), 2);
        assert_eq!(edit_distance("täg", "tag"), 1);
    }

    #[test]
    fn suggestions() {
        let keys = ["interval", "timeout", "up", "down"];
        assert_eq!(suggest("intervall", &keys), Some("interval"));
        assert_eq!(suggest("timeuot", &keys), Some("timeout"));
        assert_eq!(suggest("dwn", &keys), Some("down"));
        assert_eq!(suggest("x", &keys), None);
        assert_eq!(suggest("priority", &keys), None);
        assert_eq!(suggest(&"a".repeat(100_000), &keys), None);
    }

    #[test]
    fn quoting_is_short_and_escaped() {
        assert_eq!(quote("10 sec"), "\"10 sec\"");
        assert_eq!(quote("a\nb"), "\"a\\nb\"");
        let long = quote(&"x".repeat(1_000));
        assert!(long.len() < 50, "{long}");
    }
}

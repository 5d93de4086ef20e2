//! Check targets as inline tables: `{ http = … }`, `{ dns = …, name = … }`, `{ tcp = … }`.
//! Each key and value is checked here; the WAN-wide rules are in `probe.rs`.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use crate::config::toml::Spanned;
use crate::config::toml::{Key, Table};

use super::{DnsTarget, HttpTarget, Target};
use crate::check::dns::Name;
use crate::check::expect::{DEFAULT_STATUS, DEFAULT_STATUS_WITH_BODY, MAX_BODY_PREFIX};
use crate::check::url::Url;
use crate::config::error::Collector;
use crate::config::values::{self, quote, start_of, Value};

/// The kinds of check and the keys each takes; the first key names the kind.
const KINDS: [&[&str]; 3] = [&["http", "status", "body"], &["dns", "name"], &["tcp"]];
/// Statuses an `http` target may expect: `1xx` are interim, never a final answer.
const STATUS_RANGE: (u32, u32) = (200, 599);

/// Reads one check table; `None` after reporting what is wrong with it.
pub fn table(
    c: &mut Collector<'_>,
    span: Range<usize>,
    table: &Table<'_>,
) -> Option<Spanned<Target>> {
    let keys = KINDS.iter().find(|k| table.get(k[0]).is_some());
    let Some(keys) = keys else {
        let msg = "a check target needs one of `http`, `dns` or `tcp`, e.g. \
                   { http = \"http://203.0.113.80/generate_204\" }";
        c.at(&start_of(&span), msg.to_string());
        return None;
    };
    let kind = keys[0];
    let before = c.len();
    for (key, _) in table.iter() {
        let k: &str = key.get_ref();
        if !keys.contains(&k) {
            unknown_key(c, key, kind, keys);
        }
    }
    let value = |k: &str| table.get(k);
    let target = match kind {
        "http" => http(c, value("http")?, value("status"), value("body")),
        "dns" => dns(c, &span, value("dns")?, value("name")),
        _ => tcp(c, value("tcp")?),
    };
    let target = target.filter(|_| c.len() == before)?;
    Some(Spanned::new(span, target))
}

fn unknown_key(c: &mut Collector<'_>, key: &Key<'_>, kind: &str, keys: &[&str]) {
    let k: &str = key.get_ref();
    let hint = if let Some(other) = KINDS.iter().find(|ks| ks.contains(&k)) {
        if other[0] == k {
            format!(": a target has one kind; write `{k}` as a target of its own")
        } else {
            format!(": it belongs to `{}` targets", other[0])
        }
    } else if let Some(s) = values::suggest(k, keys) {
        format!(": did you mean `{s}`?")
    } else {
        format!(": a {kind} target takes {}", list_keys(keys))
    };
    let article = if kind == "http" { "an" } else { "a" };
    let msg = format!(
        "unknown key {} in {article} {kind} target{hint}",
        values::code(k)
    );
    c.at(&key.span(), msg);
}

fn list_keys(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => format!("only {last}"),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn http(
    c: &mut Collector<'_>,
    url: &Value<'_>,
    status: Option<&Value<'_>>,
    body: Option<&Value<'_>>,
) -> Option<Target> {
    let url = values::string(c, "http", url).and_then(|text| match Url::parse(text.get_ref()) {
        Ok(url) => Some(url),
        Err(e) => {
            let msg = format!("invalid URL {}: {e}", quote(text.get_ref()));
            c.at(&text.span(), msg);
            None
        }
    });
    let status = status.map(|v| values::integer(c, "status", v, STATUS_RANGE));
    let body = body.map(|v| body_prefix(c, v));
    let default = if body.is_some() {
        DEFAULT_STATUS_WITH_BODY
    } else {
        DEFAULT_STATUS
    };
    let status = match status {
        // in range: fits
        Some(s) => u16::try_from(*s?.get_ref()).ok()?,
        None => default,
    };
    Some(Target::Http(HttpTarget {
        url: url?,
        status,
        body: body.map(|b| b.map(|s| s.into_inner())).transpose().ok()?,
        resolvers: Vec::new(),
    }))
}

/// `body`: a non-empty prefix of at most [`MAX_BODY_PREFIX`] bytes; `Err` after reporting.
fn body_prefix(c: &mut Collector<'_>, v: &Value<'_>) -> Result<Spanned<String>, ()> {
    let text = values::string(c, "body", v).ok_or(())?;
    let len = text.get_ref().len();
    if len == 0 || len > MAX_BODY_PREFIX {
        let msg = format!(
            "`body` must be 1 to {MAX_BODY_PREFIX} bytes, not {len}: the response body must \
             start with it (leave `body` out to check the status alone)"
        );
        c.at(&text.span(), msg);
        return Err(());
    }
    Ok(text)
}

fn dns(
    c: &mut Collector<'_>,
    span: &Range<usize>,
    server: &Value<'_>,
    name: Option<&Value<'_>>,
) -> Option<Target> {
    let server = values::ip(c, "dns", server);
    let Some(name) = name else {
        let msg = "a dns target needs `name`, the name to look up, \
                   e.g. { dns = \"198.51.100.53\", name = \"example.com\" }";
        c.at(&start_of(span), msg.to_string());
        return None;
    };
    let text = values::string(c, "name", name)?;
    let name = match Name::from_dotted(text.get_ref()) {
        Ok(n) => n,
        Err(e) => {
            let msg = format!("invalid name {} in `name`: {e}", quote(text.get_ref()));
            c.at(&text.span(), msg);
            return None;
        }
    };
    Some(Target::Dns(DnsTarget {
        server: *server?.get_ref(),
        name: Box::new(name),
    }))
}

fn tcp(c: &mut Collector<'_>, v: &Value<'_>) -> Option<Target> {
    let text = values::string(c, "tcp", v)?;
    match socket_addr(text.get_ref()) {
        Ok(sa) => Some(Target::Tcp(sa)),
        Err(why) => {
            let msg = format!("invalid tcp target {}: {why}", quote(text.get_ref()));
            c.at(&text.span(), msg);
            None
        }
    }
}

/// `ADDRESS:PORT` with an IPv6 address in brackets; the error says what is wrong.
fn socket_addr(text: &str) -> Result<SocketAddr, &'static str> {
    const FORM: &str = "expected ADDRESS:PORT, e.g. \"203.0.113.80:443\" or \"[2001:db8::1]:443\"";
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => {
            return Err("no port: expected ADDRESS:PORT, e.g. \"203.0.113.80:443\"")
        }
        Ok(IpAddr::V6(_)) => {
            return Err("no port, or an IPv6 address without brackets: \"[2001:db8::1]:443\"")
        }
        Err(_) => {}
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(FORM);
    };
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the port must be a number from 1 to 65535");
    }
    let port: u16 = port
        .parse()
        .ok()
        .filter(|&p| p != 0)
        .ok_or("the port must be a number from 1 to 65535")?;
    let ip: IpAddr = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6
            .parse::<std::net::Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| FORM)?,
        None if host.contains(':') => {
            return Err("IPv6 addresses go in brackets: \"[2001:db8::1]:443\"")
        }
        None => host
            .parse::<std::net::Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| "a tcp target takes an address, not a host name")?,
    };
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    if ip.is_unspecified() || ip.is_multicast() || broadcast {
        return Err("not a unicast address");
    }
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_addresses() {
        assert_eq!(
            socket_addr("203.0.113.80:443"),
            Ok("203.0.113.80:443".parse().unwrap())
        );
        assert_eq!(
            socket_addr("[2001:db8::1]:443"),
            Ok("[2001:db8::1]:443".parse().unwrap())
        );
        for (text, why) in [
            ("203.0.113.80", "no port"),
            ("2001:db8::1", "without brackets"),
            ("203.0.113.80:0", "from 1 to 65535"),
            ("203.0.113.80:65536", "from 1 to 65535"),
            ("203.0.113.80:https", "from 1 to 65535"),
            ("203.0.113.80:", "from 1 to 65535"),
            ("2001:db8::1:443", "without brackets"),
            ("2001:db8::g:443", "in brackets"),
            ("example.com:443", "not a host name"),
            ("[example]:443", "expected ADDRESS:PORT"),
            ("0.0.0.0:80", "unicast"),
            ("nothing", "expected ADDRESS:PORT"),
        ] {
            let got = socket_addr(text).unwrap_err();
            assert!(got.contains(why), "{text}: {got}");
        }
    }

    #[test]
    fn key_lists() {
        assert_eq!(list_keys(&["tcp"]), "only `tcp`");
        assert_eq!(
            list_keys(&["http", "status", "body"]),
            "`http`, `status` and `body`"
        );
    }
}

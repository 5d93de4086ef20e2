//! The foreign routes the daemon replaced, persisted next to the control socket
//! (`/run/wanfailover.routes` for `/run/wanfailover.sock`) so that a daemon killed with
//! SIGKILL and restarted still puts back what the DHCP client, PPP or a human installed.
//! `/run` is a tmpfs: after a reboot the file is gone, as are the routes it describes.
//!
//! One route per line, `key=value` words, unknown keys ignored (forward compatible):
//! `wan=fiber interface=eth0 family=ipv4 table=254 gateway=192.0.2.1 metric=0 protocol=16`
//! (`gateway=-` for a device-only route), and `src=ADDRESS` when the route has a preferred
//! source address. Balance mode's kernel settings as they were before the first start
//! (restored on exit, also after a `kill -9` and a restart) take one line each:
//! `sysctl=net.ipv4.fib_multipath_hash_policy value=0`; a file without such lines (an
//! older daemon's) has none. A line that does not parse is skipped and counted: a damaged
//! file costs at most the routes or settings on its damaged lines.

use std::fmt::Write;
use std::net::IpAddr;

use crate::engine::{Family, Route};

/// A remembered foreign route. The ifindex is not kept: an interface may come back with a
/// new one; it is looked up by `interface` when the route is restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub wan: String,
    pub interface: String,
    pub route: Route,
}

/// A kernel setting's original value (`sysctl` names it with dots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSysctl {
    pub name: String,
    pub value: u32,
}

/// Most settings read.
const MAX_SYSCTLS: usize = 16;
/// Longest setting name read.
const MAX_SYSCTL_NAME: usize = 64;

/// Longest line read; anything longer is damage.
const MAX_LINE: usize = 512;
/// Most routes read (two families per WAN, with room to spare).
const MAX_ROUTES: usize = 4 * crate::config::MAX_WANS;

/// The routes and the settings, as the file keeps them.
pub fn format_all(saved: &[Saved], sysctls: &[SavedSysctl]) -> String {
    let mut s = format(saved);
    for c in sysctls {
        // writing to a String cannot fail
        let _ = writeln!(s, "sysctl={} value={}", c.name, c.value);
    }
    s
}

/// The settings in `text` and the number of their lines skipped as damaged (route lines
/// are [`parse`]'s).
pub fn parse_sysctls(text: &str) -> (Vec<SavedSysctl>, usize) {
    let mut out = Vec::new();
    let mut skipped = 0;
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("sysctl="))
    {
        match parse_sysctl(line) {
            Some(c) if out.len() < MAX_SYSCTLS => out.push(c),
            _ => skipped += 1,
        }
    }
    (out, skipped)
}

fn parse_sysctl(line: &str) -> Option<SavedSysctl> {
    if line.len() > MAX_LINE {
        return None;
    }
    let (mut name, mut value) = (None, None);
    for word in line.split_ascii_whitespace() {
        match word.split_once('=')? {
            ("sysctl", v) => name = Some(v),
            ("value", v) => value = Some(v.parse::<u32>().ok()?),
            _ => {}
        }
    }
    let (name, value) = (name?, value?);
    let plain = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'_';
    let ok = !name.is_empty() && name.len() <= MAX_SYSCTL_NAME && name.bytes().all(plain);
    ok.then(|| SavedSysctl {
        name: name.to_string(),
        value,
    })
}

pub fn format(saved: &[Saved]) -> String {
    let mut s = String::from("# wanfailover: foreign default routes to restore on exit\n");
    for r in saved {
        // writing to a String cannot fail
        let _ = write!(
            s,
            "wan={} interface={} family={} table={} gateway=",
            r.wan, r.interface, r.route.family, r.route.table
        );
        match r.route.gateway {
            Some(g) => {
                let _ = write!(s, "{g}");
            }
            None => s.push('-'),
        }
        let _ = write!(
            s,
            " metric={} protocol={}",
            r.route.metric, r.route.protocol
        );
        if let Some(src) = r.route.prefsrc {
            let _ = write!(s, " src={src}");
        }
        s.push('\n');
    }
    s
}

/// The routes in `text` and the number of lines skipped as damaged.
pub fn parse(text: &str) -> (Vec<Saved>, usize) {
    let mut saved = Vec::new();
    let mut skipped = 0;
    for line in text.lines().map(str::trim) {
        // settings are parse_sysctls' lines
        if line.is_empty() || line.starts_with('#') || line.starts_with("sysctl=") {
            continue;
        }
        match parse_line(line) {
            Some(s) if saved.len() < MAX_ROUTES => saved.push(s),
            _ => skipped += 1,
        }
    }
    (saved, skipped)
}

fn parse_line(line: &str) -> Option<Saved> {
    if line.len() > MAX_LINE {
        return None;
    }
    let (mut wan, mut interface, mut family, mut table) = (None, None, None, None);
    let (mut gateway, mut metric, mut protocol, mut prefsrc) = (None, None, None, None);
    for word in line.split_ascii_whitespace() {
        let (key, value) = word.split_once('=')?;
        match key {
            "wan" => wan = Some(value.to_string()),
            "interface" => interface = Some(value.to_string()),
            "family" => family = parse_family(value),
            "table" => table = value.parse::<u32>().ok(),
            "gateway" if value == "-" => gateway = Some(None),
            "gateway" => gateway = Some(Some(value.parse::<IpAddr>().ok()?)),
            "metric" => metric = value.parse::<u32>().ok(),
            "protocol" => protocol = value.parse::<u8>().ok(),
            "src" => prefsrc = Some(value.parse::<IpAddr>().ok()?),
            _ => {}
        }
    }
    let family = family?;
    let gateway = gateway?;
    let of_family = |a: IpAddr| {
        matches!(
            (family, a),
            (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_))
        )
    };
    let family_ok = gateway.map_or(true, of_family) && prefsrc.map_or(true, of_family);
    let route = Route {
        family,
        table: table?,
        ifindex: 0,
        gateway,
        metric: metric?,
        protocol: protocol?,
        prefsrc,
    };
    let (wan, interface) = (wan?, interface?);
    (family_ok && !wan.is_empty() && !interface.is_empty()).then_some(Saved {
        wan,
        interface,
        route,
    })
}

fn parse_family(s: &str) -> Option<Family> {
    match s {
        "ipv4" => Some(Family::V4),
        "ipv6" => Some(Family::V6),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dhcp(wan: &str, gw: Option<&str>, metric: u32) -> Saved {
        let gateway = gw.map(|g| g.parse().unwrap());
        let family = match gateway {
            Some(IpAddr::V6(_)) => Family::V6,
            _ => Family::V4,
        };
        Saved {
            wan: wan.into(),
            interface: format!("if-{wan}"),
            route: Route {
                family,
                table: 254,
                ifindex: 0,
                gateway,
                metric,
                protocol: 16,
                prefsrc: None,
            },
        }
    }

    #[test]
    fn round_trip() {
        let routes = vec![
            dhcp("fiber", Some("192.0.2.1"), 0),
            dhcp("lte", None, 7),
            dhcp("v6", Some("2001:db8::1"), 1024),
        ];
        assert_eq!(parse(&format(&routes)), (routes, 0));
    }

    #[test]
    fn a_preferred_source_round_trips_and_must_be_of_the_family() {
        let mut with_src = dhcp("dsl", Some("192.0.2.25"), 1004);
        with_src.route.prefsrc = Some("192.0.2.26".parse().unwrap());
        let text = format(&[with_src.clone()]);
        assert!(text.contains(" src=192.0.2.26\n"), "{text}");
        assert_eq!(parse(&text), (vec![with_src], 0));
        // a file from before `src=` existed reads as a route without one
        let old = "wan=a interface=b family=ipv4 table=254 gateway=- metric=0 protocol=16\n";
        assert_eq!(parse(old).0[0].route.prefsrc, None);
        for bad in ["src=2001:db8::1", "src=", "src=192.0.2.300"] {
            let line = format!("{} {bad}\n", old.trim_end());
            assert_eq!(parse(&line), (vec![], 1), "{line}");
        }
    }

    #[test]
    fn damaged_lines_are_skipped_and_counted() {
        let good = format(&[dhcp("fiber", Some("192.0.2.1"), 0)]);
        let text = format!(
            "{good}garbage\nwan=x interface=y family=ipv5 table=254 gateway=- metric=0 protocol=16\n\
             wan=x interface=y family=ipv4 table=254 gateway=2001:db8::1 metric=0 protocol=16\n\
             wan=x interface=y family=ipv4 table=254 gateway=- metric=99999999999 protocol=16\n\
             wan=x family=ipv4 table=254 gateway=- metric=0 protocol=16\n\
             wan= interface=y family=ipv4 table=254 gateway=- metric=0 protocol=16\n{}\n\u{0}\u{ffff}=\n",
            "x".repeat(4000)
        );
        let (saved, skipped) = parse(&text);
        assert_eq!(saved, vec![dhcp("fiber", Some("192.0.2.1"), 0)]);
        assert_eq!(skipped, 8);
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let (saved, skipped) = parse(
            "wan=a interface=b family=ipv4 table=254 gateway=- metric=3 protocol=4 future=1\n",
        );
        assert_eq!((saved.len(), skipped), (1, 0));
    }

    #[test]
    fn settings_round_trip_beside_the_routes() {
        let routes = vec![dhcp("fiber", Some("192.0.2.1"), 0)];
        let sysctls = vec![
            SavedSysctl {
                name: "net.ipv4.fib_multipath_hash_fields".into(),
                value: 7,
            },
            SavedSysctl {
                name: "net.ipv4.fib_multipath_hash_policy".into(),
                value: 0,
            },
        ];
        let text = format_all(&routes, &sysctls);
        assert_eq!(parse(&text), (routes, 0), "settings are not damaged routes");
        assert_eq!(parse_sysctls(&text), (sysctls, 0));
        // an older daemon's file has none
        assert_eq!(parse_sysctls(&format(&[])), (vec![], 0));
    }

    #[test]
    fn hostile_settings_lines_are_skipped() {
        let bad = [
            "sysctl=",
            "sysctl=net.ipv4.x",
            "sysctl=net.ipv4.x value=",
            "sysctl=net.ipv4.x value=-1",
            "sysctl=net.ipv4.x value=4294967296",
            "sysctl=../../etc/passwd value=1",
            "sysctl=net/ipv4/x value=1",
            "sysctl=net.ipv4.x value=1 junk",
            "sysctl=\u{0}\u{ffff} value=1",
        ];
        for line in bad {
            assert_eq!(parse_sysctls(line), (vec![], 1), "{line:?}");
        }
        let long = format!("sysctl={} value=1", "a".repeat(MAX_SYSCTL_NAME + 1));
        assert_eq!(parse_sysctls(&long), (vec![], 1));
        let many = "sysctl=net.ipv4.x value=1\n".repeat(MAX_SYSCTLS + 3);
        assert_eq!(parse_sysctls(&many).0.len(), MAX_SYSCTLS);
        assert_eq!(parse_sysctls(&many).1, 3);
    }

    #[test]
    fn too_many_routes_are_capped() {
        let line = "wan=a interface=b family=ipv4 table=254 gateway=- metric=3 protocol=4\n";
        let (saved, skipped) = parse(&line.repeat(MAX_ROUTES + 5));
        assert_eq!((saved.len(), skipped), (MAX_ROUTES, 5));
    }
}

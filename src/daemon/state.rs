//! The foreign routes the daemon replaced, persisted next to the control socket
//! (`/run/wanfailover.routes` for `/run/wanfailover.sock`) so that a daemon killed with
//! SIGKILL and restarted still puts back what the DHCP client, PPP or a human installed.
//! `/run` is a tmpfs: after a reboot the file is gone, as are the routes it describes.
//!
//! One route per line, `key=value` words, unknown keys ignored (forward compatible):
//! `wan=fiber interface=eth0 family=ipv4 table=254 gateway=192.0.2.1 metric=0 protocol=16`
//! (`gateway=-` for a device-only route), and `src=ADDRESS` when the route has a preferred
//! source address. A line that does not parse is skipped and
//! counted: a damaged file costs at most the routes on its damaged lines.

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

/// Longest line read; anything longer is damage.
const MAX_LINE: usize = 512;
/// Most routes read (two families per WAN, with room to spare).
const MAX_ROUTES: usize = 4 * crate::config::MAX_WANS;

pub fn format(saved: &[Saved]) -> String {
    let mut s = String::from("# wanfailover: foreign default routes to restore on exit\n");
    for r in saved {
        let gw = r
            .route
            .gateway
            .map_or_else(|| "-".to_string(), |g| g.to_string());
        s.push_str(&format!(
            "wan={} interface={} family={} table={} gateway={} metric={} protocol={}",
            r.wan, r.interface, r.route.family, r.route.table, gw, r.route.metric, r.route.protocol
        ));
        if let Some(src) = r.route.prefsrc {
            s.push_str(&format!(" src={src}"));
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
        if line.is_empty() || line.starts_with('#') {
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
    fn too_many_routes_are_capped() {
        let line = "wan=a interface=b family=ipv4 table=254 gateway=- metric=3 protocol=4\n";
        let (saved, skipped) = parse(&line.repeat(MAX_ROUTES + 5));
        assert_eq!((saved.len(), skipped), (MAX_ROUTES, 5));
    }
}

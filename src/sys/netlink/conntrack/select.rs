//! Which conntrack entries to delete after a change of which WANs carry traffic. Pure.
//!
//! A flow source-NATed out of a WAN has the WAN's address as its reply destination. With
//! `masquerade` the kernel forgets the entry itself when the flow's output interface
//! changes; with `snat to ADDRESS` it does not, and the flow keeps leaving the new WAN
//! with the old WAN's address, never answered. Deleting the entry makes the next packet a
//! new flow, routed and NATed afresh.
//!
//! Only source-NATed entries are chosen (`reply.dst` differs from `orig.src`): the
//! gateway's own flows from a WAN's address (probes, a VPN endpoint) keep leaving through
//! that WAN by its `from ADDRESS` rule, and inbound flows (port forwards) answer to the
//! remote peer, not to the WAN's address.

use std::net::IpAddr;

use super::{Entry, Tuple, L4};
use crate::config::Policy;
use crate::engine::Family;

/// The addresses of the WANs that no longer carry the flows NATed to them (the WAN that
/// was active before a failover, one that left balance mode's multipath route).
#[derive(Debug, Clone, Copy)]
pub struct Flush<'a> {
    moved: &'a [IpAddr],
}

impl<'a> Flush<'a> {
    pub fn new(moved: &'a [IpAddr]) -> Flush<'a> {
        Flush { moved }
    }

    /// Whether `entry` is a flow source-NATed to one of the moved addresses.
    pub fn selects(&self, entry: &Entry) -> bool {
        entry.is_source_nated() && self.moved.contains(&entry.reply.dst)
    }
}

/// The entries to delete: those [`Flush::selects`], except the ones `keep` wants (a
/// policy that pins the flow to the WAN it is on, which still carries it: see
/// [`policy_covers`]).
pub fn select<'e, 'm: 'e>(
    entries: impl IntoIterator<Item = &'e Entry> + 'e,
    moved: &'m [IpAddr],
    keep: impl Fn(&Entry) -> bool + 'e,
) -> impl Iterator<Item = &'e Entry> + 'e {
    let flush = Flush::new(moved);
    entries
        .into_iter()
        .filter(move |e| flush.selects(e) && !keep(e))
}

/// Whether `policy` matches the flow whose original tuple is `orig`, as far as a tuple
/// tells: addresses, protocol and ports must match. A `fwmark` or `iif` match cannot be
/// seen in a tuple and is taken as matching, so a pinned flow is kept rather than torn.
pub fn policy_covers(policy: &Policy, orig: &Tuple) -> bool {
    let family = Family::of(orig.src);
    let addr_ok =
        |cidr: Option<crate::config::Cidr>, ip: IpAddr| cidr.map_or(true, |c| c.contains(ip));
    let proto_ok = policy
        .protocol
        .map_or(true, |p| p.number(family) == orig.proto);
    let (sport, dport) = match orig.l4 {
        L4::Ports { src, dst } => (Some(src), Some(dst)),
        L4::Icmp { .. } | L4::None => (None, None),
    };
    let port_ok = |range: Option<crate::config::PortRange>, port: Option<u16>| match (range, port) {
        (None, _) => true,
        (Some(r), Some(p)) => r.contains(p),
        (Some(_), None) => false,
    };
    addr_ok(policy.source, orig.src)
        && addr_ok(policy.destination, orig.dst)
        && proto_ok
        && port_ok(policy.sport, sport)
        && port_ok(policy.dport, dport)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_cidr, PortRange, Protocol};

    const WAN1: &str = "192.0.2.10";
    const WAN2: &str = "192.0.2.18";
    const LAN_HOST: &str = "203.0.113.130";

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    /// A UDP flow from `src:sport` to `dst:9`, its replies to `nat` (= `src` without NAT).
    fn udp(src: &str, sport: u16, dst: &str, nat: &str) -> Entry {
        let orig = Tuple {
            src: ip(src),
            dst: ip(dst),
            proto: 17,
            l4: L4::Ports { src: sport, dst: 9 },
        };
        let reply = Tuple {
            src: ip(dst),
            dst: ip(nat),
            proto: 17,
            l4: L4::Ports { src: 9, dst: sport },
        };
        Entry {
            family: Family::of(ip(src)),
            orig,
            reply,
            id: Some(u32::from(sport)),
            zone: 0,
            mark: None,
            status: None,
        }
    }

    fn table() -> Vec<Entry> {
        vec![
            udp(LAN_HOST, 5001, "198.51.100.53", WAN1), // NATed out of wan1
            udp(LAN_HOST, 5002, "198.51.100.54", WAN2), // NATed out of wan2
            udp(WAN1, 5003, "198.51.100.53", WAN1),     // the gateway's own, from wan1
            udp("198.51.100.7", 5004, WAN1, "198.51.100.7"), // inbound to wan1
            udp(LAN_HOST, 1194, "198.51.100.53", WAN1), // a VPN flow on wan1
        ]
    }

    fn ports<'a>(selected: impl Iterator<Item = &'a Entry>) -> Vec<u16> {
        selected
            .map(|e| match e.orig.l4 {
                L4::Ports { src, .. } => src,
                _ => 0,
            })
            .collect()
    }

    #[test]
    fn flows_natted_to_a_moved_address_and_nothing_else() {
        let entries = &table();
        let moved = [ip(WAN1)];
        assert_eq!(ports(select(entries, &moved, |_| false)), [5001, 1194]);
        let moved = [ip(WAN2)];
        assert_eq!(ports(select(entries, &moved, |_| false)), [5002]);
        let moved = [ip(WAN1), ip(WAN2)];
        assert_eq!(
            ports(select(entries, &moved, |_| false)),
            [5001, 5002, 1194]
        );
        assert_eq!(select(entries, &[], |_| false).count(), 0);
    }

    #[test]
    fn a_policy_that_still_pins_the_flow_keeps_it() {
        let entries = &table();
        let vpn = Policy {
            name: "vpn".into(),
            wan: "wan1".into(),
            wan_index: 0,
            source: parse_cidr("203.0.113.128/26").ok(),
            destination: None,
            protocol: Some(Protocol::Udp),
            dport: None,
            sport: Some(PortRange::single(1194)),
            fwmark: None,
            iif: None,
            fallback: true,
        };
        let moved = [ip(WAN1)];
        let keep = |e: &Entry| policy_covers(&vpn, &e.orig);
        assert_eq!(ports(select(entries, &moved, keep)), [5001]);
    }

    #[test]
    fn policy_matches_on_a_tuple() {
        let flow = udp(LAN_HOST, 5001, "198.51.100.53", WAN1).orig;
        let any = Policy {
            name: "p".into(),
            wan: "wan2".into(),
            wan_index: 1,
            source: None,
            destination: None,
            protocol: None,
            dport: None,
            sport: None,
            fwmark: None,
            iif: Some("lan0".into()),
            fallback: true,
        };
        assert!(
            policy_covers(&any, &flow),
            "iif cannot be told: taken as matching"
        );
        let cases = [
            (
                Policy {
                    destination: parse_cidr("198.51.100.0/24").ok(),
                    ..any.clone()
                },
                true,
            ),
            (
                Policy {
                    destination: parse_cidr("192.0.2.0/24").ok(),
                    ..any.clone()
                },
                false,
            ),
            (
                Policy {
                    source: parse_cidr("2001:db8::/32").ok(),
                    ..any.clone()
                },
                false,
            ),
            (
                Policy {
                    protocol: Some(Protocol::Tcp),
                    ..any.clone()
                },
                false,
            ),
            (
                Policy {
                    protocol: Some(Protocol::Udp),
                    dport: Some(PortRange::single(9)),
                    ..any.clone()
                },
                true,
            ),
            (
                Policy {
                    protocol: Some(Protocol::Udp),
                    dport: Some(PortRange::single(53)),
                    ..any.clone()
                },
                false,
            ),
            (
                Policy {
                    sport: Some(PortRange {
                        start: 5000,
                        end: 5999,
                    }),
                    ..any.clone()
                },
                true,
            ),
        ];
        for (policy, want) in cases {
            assert_eq!(policy_covers(&policy, &flow), want, "{policy:?}");
        }
        let mut ping = flow;
        ping.proto = 1;
        ping.l4 = L4::Icmp {
            id: 7,
            kind: 8,
            code: 0,
        };
        let icmp = Policy {
            protocol: Some(Protocol::Icmp),
            ..any.clone()
        };
        assert!(policy_covers(&icmp, &ping));
        let ports = Policy {
            dport: Some(PortRange::single(9)),
            ..any
        };
        assert!(!policy_covers(&ports, &ping));
    }
}

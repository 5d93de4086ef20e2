//! Golden bytes of the routing requests (rules, table, unreachable and multipath routes),
//! captured from iproute2 with `strace -e trace=sendmsg -e write=3` in a lab gateway
//! namespace (wan1 = ifindex 2, wan2 = ifindex 3, lan0 an interface there), with
//! iproute2's sequence number replaced by 1; and the kernel's own answers to dumps.

use super::tests::hex;
use super::*;
use crate::config::{parse_cidr, Cidr, Fwmark, PortRange};
use rule::{emit_rule, emit_rule_dump, Rule, RuleOp};

fn cidr(s: &str) -> Option<Cidr> {
    Some(parse_cidr(s).expect("prefix"))
}

#[cfg(feature = "routing")]
fn messages(text: &str) -> Vec<Message> {
    let bytes: Vec<u8> = text.lines().flat_map(hex).collect();
    parse_messages(&bytes).map(|m| m.expect("parses")).collect()
}

/// `from 192.0.2.10 lookup 101 priority 10001 protocol 87`.
fn reply_rule() -> Rule {
    Rule {
        src: cidr("192.0.2.10"),
        ..Rule::lookup(Family::V4, 101, 10001, 87)
    }
}

// ip rule add from 192.0.2.10 lookup 101 priority 10001 protocol 87
const ADD_RULE: &str = "34000000 2000 0506 01000000 00000000
    02 00 20 00 65 00 00 01 00000000
    0800 0200 c000020a  0800 0600 11270000  0500 1500 57000000";
// ip rule del from 192.0.2.10 lookup 101 priority 10001 protocol 87 (action unspec)
const DEL_RULE: &str = "34000000 2100 0500 01000000 00000000
    02 00 20 00 65 00 00 00 00000000
    0800 0200 c000020a  0800 0600 11270000  0500 1500 57000000";
// ip rule add from 192.0.2.10 lookup 1000 priority 10002 protocol 87
const ADD_RULE_TABLE_1000: &str = "3c000000 2000 0506 01000000 00000000
    02 00 20 00 00 00 00 01 00000000
    0800 0200 c000020a  0800 0f00 e8030000  0800 0600 12270000  0500 1500 57000000";
// ip rule add from 203.0.113.0/24 to 198.51.100.0/26 ipproto udp sport 1000-2000
//   dport 1194 fwmark 0x10/0xff iif lan0 lookup 102 priority 20001 protocol 87
const ADD_POLICY_RULE: &str = "70000000 2000 0506 01000000 00000000
    02 1a 18 00 66 00 00 01 00000000
    0800 0200 cb007100  0800 0100 c6336400  0500 1600 11000000
    0800 1700 e803d007  0800 1800 aa04aa04  0800 0a00 10000000  0800 1000 ff000000
    0900 0300 6c616e30 00000000  0800 0600 214e0000  0500 1500 57000000";
// ip -6 rule add from 2001:db8:1::2 lookup 101 priority 10001 protocol 87
const ADD_RULE_V6: &str = "40000000 2000 0506 01000000 00000000
    0a 00 80 00 65 00 00 01 00000000
    1400 0200 20010db8 00010000 00000000 00000002
    0800 0600 11270000  0500 1500 57000000";
// ip -6 rule del to 2001:db8:ff::/48 lookup 1000 priority 20001 protocol 87
const DEL_RULE_V6: &str = "48000000 2100 0500 01000000 00000000
    0a 30 00 00 00 00 00 00 00000000
    1400 0100 20010db8 00ff0000 00000000 00000000
    0800 0f00 e8030000  0800 0600 214e0000  0500 1500 57000000";
// ip rule show / ip -6 rule show (the dump requests)
const DUMP_RULES_V4: &str = "1c000000 2200 0103 01000000 00000000 02000000 00000000 00000000";
const DUMP_RULES_V6: &str = "1c000000 2200 0103 01000000 00000000 0a000000 00000000 00000000";

fn emitted(op: RuleOp, rule: &Rule) -> Vec<u8> {
    let mut buf = Vec::new();
    emit_rule(&mut buf, op, rule, 1);
    buf
}

#[test]
fn rules_as_iproute2_writes_them() {
    assert_eq!(emitted(RuleOp::Add, &reply_rule()), hex(ADD_RULE));
    assert_eq!(emitted(RuleOp::Del, &reply_rule()), hex(DEL_RULE));
    let big = Rule {
        table: 1000,
        priority: 10002,
        ..reply_rule()
    };
    assert_eq!(emitted(RuleOp::Add, &big), hex(ADD_RULE_TABLE_1000));
    let policy = Rule {
        priority: 20001,
        table: 102,
        src: cidr("203.0.113.0/24"),
        dst: cidr("198.51.100.0/26"),
        ip_proto: Some(17),
        sport: Some(PortRange {
            start: 1000,
            end: 2000,
        }),
        dport: Some(PortRange::single(1194)),
        fwmark: Some(Fwmark {
            value: 0x10,
            mask: 0xff,
        }),
        iif: Some(IfName::try_from("lan0").expect("short")),
        ..reply_rule()
    };
    assert_eq!(emitted(RuleOp::Add, &policy), hex(ADD_POLICY_RULE));
    let v6 = Rule {
        family: Family::V6,
        src: cidr("2001:db8:1::2"),
        ..reply_rule()
    };
    assert_eq!(emitted(RuleOp::Add, &v6), hex(ADD_RULE_V6));
    let v6_to = Rule {
        family: Family::V6,
        priority: 20001,
        table: 1000,
        src: None,
        dst: cidr("2001:db8:ff::/48"),
        ..reply_rule()
    };
    assert_eq!(emitted(RuleOp::Del, &v6_to), hex(DEL_RULE_V6));
    for (family, want) in [(Family::V4, DUMP_RULES_V4), (Family::V6, DUMP_RULES_V6)] {
        let mut buf = Vec::new();
        emit_rule_dump(&mut buf, Some(family), 1);
        assert_eq!(buf, hex(want));
    }
}

#[test]
#[cfg(feature = "routing")] // rules are parsed only with it
fn emitted_rules_parse_back() {
    let mut buf = emitted(RuleOp::Add, &reply_rule());
    buf[4..6].copy_from_slice(&libc::RTM_NEWRULE.to_ne_bytes());
    let m = parse_messages(&buf).next().expect("one").expect("parses");
    assert_eq!(
        m.body,
        Body::Rule {
            new: true,
            rule: reply_rule()
        }
    );
}

// The kernel's answer to `ip rule show` after the adds above (and a second copy of the
// policy rule at 20000, `ipproto tcp dport 443 lookup 102` at 20002 and `ipproto icmp
// lookup 102` at 20003): local, ours, main, default and NLMSG_DONE.
#[cfg(feature = "routing")]
const RULE_DUMP: &str = include_str!("../testdata/rule_dump.hex");

#[test]
#[cfg(feature = "routing")] // rules are parsed only with it
fn parses_the_kernels_rule_dump() {
    let msgs = messages(RULE_DUMP);
    assert_eq!(msgs.len(), 9);
    assert_eq!(msgs[8].body, Body::Done { errno: 0 });
    let rules: Vec<Rule> = msgs
        .iter()
        .filter_map(|m| match &m.body {
            Body::Rule { new: true, rule } => Some(rule.clone()),
            _ => None,
        })
        .collect();
    let summary: Vec<_> = rules
        .iter()
        .map(|r| (r.priority, r.table, r.protocol))
        .collect();
    assert_eq!(
        summary,
        [
            (0, 255, 2),
            (10002, 1000, 87),
            (20000, 102, 87),
            (20001, 102, 87),
            (20002, 102, 87),
            (20003, 102, 87),
            (32766, 254, 2),
            (32767, 253, 2)
        ]
    );
    let big = Rule {
        table: 1000,
        priority: 10002,
        ..reply_rule()
    };
    assert_eq!(rules[1], big);
    let policy = &rules[3];
    assert_eq!(policy.src, cidr("203.0.113.0/24"));
    assert_eq!(policy.dst, cidr("198.51.100.0/26"));
    assert_eq!(policy.ip_proto, Some(17));
    assert_eq!(
        policy.sport.map(|p| p.to_string()).as_deref(),
        Some("1000-2000")
    );
    assert_eq!(policy.dport, Some(PortRange::single(1194)));
    assert_eq!(
        policy.fwmark,
        Some(Fwmark {
            value: 0x10,
            mask: 0xff
        })
    );
    assert_eq!(policy.iif.as_deref(), Some("lan0"));
    assert_eq!(rules[4].dport, Some(PortRange::single(443)));
    assert_eq!((rules[5].ip_proto, rules[5].fwmark), (Some(1), None));
    assert_eq!(rules[0].src, None);
}

#[test]
#[cfg(feature = "routing")] // rules are parsed only with it
fn hostile_rules_do_not_panic() {
    let good = hex(ADD_POLICY_RULE);
    for cut in 0..good.len() {
        let mut b = good[..cut].to_vec();
        if b.len() >= 4 {
            b[..4].copy_from_slice(&(cut as u32).to_ne_bytes());
        }
        for m in parse_messages(&b) {
            let _ = m;
        }
    }
    // prefixes longer than the address, host bits set, ports backwards: left out
    let mut b = hex(ADD_POLICY_RULE);
    b[4..6].copy_from_slice(&libc::RTM_NEWRULE.to_ne_bytes());
    b[17] = 200; // dst_len
    b[18] = 8; // src_len: 203.0.113.0/8 has host bits
    b[56..60].copy_from_slice(&[0xe8, 0x03, 0x01, 0x00]); // sport 1000-1
    let Body::Rule { rule, .. } = parse_messages(&b).next().expect("one").expect("ok").body else {
        panic!("not a rule");
    };
    assert_eq!((rule.src, rule.dst, rule.sport), (None, None, None));
    // a family without rules of ours
    b[16] = 28;
    let m = parse_messages(&b).next().expect("one").expect("ok");
    assert_eq!(m.body, Body::Ignored(libc::RTM_NEWRULE));
}

// ----- routes in a table, unreachable, multipath ---------------------------------------

// ip route add unreachable default table 101 proto 87 metric 4278198272
const ADD_UNREACHABLE: &str = "24000000 1800 0506 01000000 00000000
    02 00 00 00 65 57 00 07 00000000  0800 0600 002000ff";
// ip route del unreachable default table 1000 proto 87 metric 4278198272
const DEL_UNREACHABLE_1000: &str = "2c000000 1900 0500 01000000 00000000
    02 00 00 00 00 57 ff 07 00000000  0800 0f00 e8030000  0800 0600 002000ff";
// ip -6 route add unreachable default table 101 proto 87 metric 4278198272
const ADD_UNREACHABLE_V6: &str = "38000000 1800 0506 01000000 00000000
    0a 00 00 00 65 57 00 07 00000000
    1400 0100 00000000 00000000 00000000 00000000  0800 0600 002000ff";

#[test]
fn unreachable_defaults() {
    let route = UnreachableRoute {
        family: Family::V4,
        table: 101,
        metric: 4278198272,
        protocol: 87,
    };
    let cases = [
        (RouteOp::Add, route, ADD_UNREACHABLE),
        (
            RouteOp::Del,
            UnreachableRoute {
                table: 1000,
                ..route
            },
            DEL_UNREACHABLE_1000,
        ),
        (
            RouteOp::Add,
            UnreachableRoute {
                family: Family::V6,
                ..route
            },
            ADD_UNREACHABLE_V6,
        ),
    ];
    for (op, route, want) in cases {
        let mut buf = Vec::new();
        emit_unreachable(&mut buf, op, &route, 1);
        assert_eq!(buf, hex(want), "{op:?} {route:?}");
    }
}

// ip route add default via 192.0.2.9 dev wan1 table 101 proto 87 metric 0
const ADD_IN_TABLE_101: &str = "34000000 1800 0506 01000000 00000000
    02 00 00 00 65 57 00 01 00000000
    0800 0500 c0000209  0800 0600 00000000  0800 0400 02000000";

#[test]
fn a_wans_default_route_in_its_table() {
    let route = Route {
        family: Family::V4,
        table: 101,
        ifindex: 2,
        gateway: Some("192.0.2.9".parse().expect("address")),
        metric: 0,
        protocol: 87,
        prefsrc: None,
    };
    let mut buf = Vec::new();
    emit_route(&mut buf, RouteOp::Add, &route, 1);
    assert_eq!(buf, hex(ADD_IN_TABLE_101));
}

const WAN1_GW: &str = "192.0.2.9";
const WAN2_GW: &str = "192.0.2.17";

fn two_hops(w1: u16, w2: u16) -> [Nexthop; 2] {
    [
        Nexthop {
            ifindex: 2,
            gateway: Some(WAN1_GW.parse().expect("address")),
            weight: w1,
        },
        Nexthop {
            ifindex: 3,
            gateway: Some(WAN2_GW.parse().expect("address")),
            weight: w2,
        },
    ]
}

// ip route add default proto 87 metric 5
//   nexthop via 192.0.2.9 dev wan1 weight 3 nexthop via 192.0.2.17 dev wan2 weight 1
const ADD_MULTIPATH: &str = "48000000 1800 0506 01000000 00000000
    02 00 00 00 fe 57 00 01 00000000  0800 0600 05000000
    2400 0900 1000 00 02 02000000 0800 0500 c0000209  1000 00 00 03000000 0800 0500 c0000211";
// ip route replace default proto 87 metric 5
//   nexthop via 192.0.2.9 dev wan1 weight 1 nexthop via 192.0.2.17 dev wan2 weight 256
const REPLACE_MULTIPATH: &str = "48000000 1800 0505 01000000 00000000
    02 00 00 00 fe 57 00 01 00000000  0800 0600 05000000
    2400 0900 1000 00 00 02000000 0800 0500 c0000209  1000 00 ff 03000000 0800 0500 c0000211";
// ip route del unicast default proto 87 metric 5
//   nexthop via 192.0.2.9 dev wan1 weight 3 nexthop via 192.0.2.17 dev wan2 weight 1
const DEL_MULTIPATH: &str = "48000000 1900 0500 01000000 00000000
    02 00 00 00 fe 57 ff 01 00000000  0800 0600 05000000
    2400 0900 1000 00 02 02000000 0800 0500 c0000209  1000 00 00 03000000 0800 0500 c0000211";
// ip -6 route add default proto 87 metric 5
//   nexthop via 2001:db8:1::1 dev wan1 weight 2 nexthop via 2001:db8:2::1 dev wan2 weight 1
const ADD_MULTIPATH_V6: &str = "74000000 1800 0506 01000000 00000000
    0a 00 00 00 fe 57 00 01 00000000
    1400 0100 00000000 00000000 00000000 00000000  0800 0600 05000000
    3c00 0900 1c00 00 01 02000000 1400 0500 20010db8 00010000 00000000 00000001
              1c00 00 00 03000000 1400 0500 20010db8 00020000 00000000 00000001";

#[test]
fn multipath_defaults() {
    fn multipath(nexthops: &[Nexthop]) -> MultipathRoute<'_> {
        MultipathRoute {
            family: Family::V4,
            table: 254,
            metric: 5,
            protocol: 87,
            nexthops,
        }
    }
    let cases = [
        (MultipathOp::Add, two_hops(3, 1), ADD_MULTIPATH),
        (MultipathOp::Replace, two_hops(1, 256), REPLACE_MULTIPATH),
        (MultipathOp::Del, two_hops(3, 1), DEL_MULTIPATH),
    ];
    for (op, hops, want) in cases {
        let mut buf = Vec::new();
        emit_multipath(&mut buf, op, &multipath(&hops), 1);
        assert_eq!(buf, hex(want), "{op:?}");
    }
    let v6_hops = [
        Nexthop {
            ifindex: 2,
            gateway: Some("2001:db8:1::1".parse().expect("address")),
            weight: 2,
        },
        Nexthop {
            ifindex: 3,
            gateway: Some("2001:db8:2::1".parse().expect("address")),
            weight: 1,
        },
    ];
    let v6 = MultipathRoute {
        family: Family::V6,
        ..multipath(&v6_hops)
    };
    let mut buf = Vec::new();
    emit_multipath(&mut buf, MultipathOp::Add, &v6, 1);
    assert_eq!(buf, hex(ADD_MULTIPATH_V6));
}

// The kernel's dump (`ip route show table all`) with the route above: RTA_TABLE first,
// no RTA_OIF, the next hops with their gateways; then the unreachable default of table
// 1000, whose rtm_table is RT_TABLE_COMPAT (252) as for every table above 255.
#[cfg(feature = "balance")]
const DUMPED_MULTIPATH: &str = "5000000018002200997c0f6b7c44000002000000fe570001000000000800
    0f00fe000000080006000500000024000900100000020200000008000500c0000209100000000300000008
    000500c0000211";
#[cfg(feature = "balance")]
const DUMPED_UNREACHABLE_1000: &str =
    "2c00000018002200997c0f6b7c44000002000000fc5700070000000008000f00e803000008000600002000ff";

#[test]
#[cfg(feature = "balance")] // next hops are parsed only with it
fn parses_multipath_and_unreachable_routes() {
    let m = &messages(DUMPED_MULTIPATH)[0];
    let Body::Route { new: true, route } = &m.body else {
        panic!("{m:?}");
    };
    assert!(route.multipath);
    assert_eq!(route.nexthops, two_hops(3, 1));
    assert_eq!((route.table, route.metric, route.protocol), (254, 5, 87));
    assert_eq!(route.default_route(), None);

    let m = &messages(DUMPED_UNREACHABLE_1000)[0];
    let Body::Route { route, .. } = &m.body else {
        panic!("{m:?}");
    };
    assert_eq!((route.kind, route.table), (libc::RTN_UNREACHABLE, 1000));
    assert!(route.nexthops.is_empty());
    assert_eq!(route.default_route(), None);
}

#[test]
#[cfg(feature = "balance")] // next hops are parsed only with it
fn emitted_multipath_parses_back_and_lies_are_cut() {
    let hops = two_hops(256, 1);
    let route = MultipathRoute {
        family: Family::V4,
        table: 1000,
        metric: 1,
        protocol: 87,
        nexthops: &hops,
    };
    let mut buf = Vec::new();
    emit_multipath(&mut buf, MultipathOp::Replace, &route, 1);
    let m = parse_messages(&buf).next().expect("one").expect("parses");
    let Body::Route { route: r, .. } = m.body else {
        panic!("not a route");
    };
    assert_eq!((r.table, r.nexthops.as_slice()), (1000, &hops[..]));
    // A next hop longer than what is left, or shorter than its header: the list ends.
    let at = buf.len() - 32; // rtnh_len of the first of the two 16-byte next hops
    for lie in [0u16, 7, 200] {
        let mut b = buf.clone();
        b[at..at + 2].copy_from_slice(&lie.to_ne_bytes());
        let Body::Route { route: r, .. } =
            parse_messages(&b).next().expect("one").expect("ok").body
        else {
            panic!("not a route");
        };
        assert!(r.multipath && r.nexthops.is_empty(), "{lie}");
    }
}

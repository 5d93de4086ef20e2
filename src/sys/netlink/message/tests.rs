//! Golden bytes from iproute2 and the kernel (host-endian, as netlink is; the targets here
//! are all little-endian), and hostile input.

use super::*;
use libc::{RTA_MULTIPATH, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE};

pub(super) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn set_len(b: &mut [u8]) {
    let len = b.len() as u32;
    b[..4].copy_from_slice(&len.to_ne_bytes());
}

fn one(buf: &[u8]) -> Message {
    let mut it = parse_messages(buf);
    let m = it.next().expect("a message").expect("parses");
    assert!(it.next().is_none());
    m
}

fn wan1_v4(gateway: Option<&str>, metric: u32) -> Route {
    Route {
        family: Family::V4,
        table: 254,
        ifindex: 2,
        gateway: gateway.map(|g| g.parse().expect("address")),
        metric,
        protocol: 87,
        prefsrc: None,
    }
}

// ip route add default via 192.0.2.9 metric 100 proto 87 dev wan1   (wan1 = ifindex 2)
const ADD_V4_GW: [u8; 52] = [
    0x34, 0, 0, 0, 0x18, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0, // nlmsghdr
    2, 0, 0, 0, 254, 87, 0, 1, 0, 0, 0, 0, // rtmsg: inet, main, proto 87, universe, unicast
    8, 0, 5, 0, 192, 0, 2, 9, // RTA_GATEWAY
    8, 0, 6, 0, 100, 0, 0, 0, // RTA_PRIORITY
    8, 0, 4, 0, 2, 0, 0, 0, // RTA_OIF
];

#[test]
fn add_v4_route_with_gateway() {
    let mut buf = Vec::new();
    emit_route(&mut buf, RouteOp::Add, &wan1_v4(Some("192.0.2.9"), 100), 1);
    assert_eq!(buf, ADD_V4_GW);
}

// ip route add default metric 101 proto 87 dev wan2   (wan2 = ifindex 3)
const ADD_V4_DEV: [u8; 44] = [
    0x2c, 0, 0, 0, 0x18, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0, // nlmsghdr
    2, 0, 0, 0, 254, 87, 253, 1, 0, 0, 0, 0, // rtmsg: scope link (device-only)
    8, 0, 6, 0, 101, 0, 0, 0, // RTA_PRIORITY
    8, 0, 4, 0, 3, 0, 0, 0, // RTA_OIF
];

#[test]
fn add_v4_device_only_route() {
    let mut buf = Vec::new();
    let route = Route {
        ifindex: 3,
        ..wan1_v4(None, 101)
    };
    emit_route(&mut buf, RouteOp::Add, &route, 1);
    assert_eq!(buf, ADD_V4_DEV);
}

// ip -6 route add default via 2001:db8:1::1 metric 100 proto 87 dev wan1
const ADD_V6: [u8; 84] = [
    0x54, 0, 0, 0, 0x18, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0, // nlmsghdr
    10, 0, 0, 0, 254, 87, 0, 1, 0, 0, 0, 0, // rtmsg: inet6
    20, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // RTA_DST ::
    20, 0, 5, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // RTA_GATEWAY
    8, 0, 6, 0, 100, 0, 0, 0, // RTA_PRIORITY
    8, 0, 4, 0, 2, 0, 0, 0, // RTA_OIF
];

#[test]
fn add_v6_route() {
    let mut buf = Vec::new();
    let route = Route {
        family: Family::V6,
        gateway: Some("2001:db8:1::1".parse().expect("address")),
        ..wan1_v4(None, 100)
    };
    emit_route(&mut buf, RouteOp::Add, &route, 1);
    assert_eq!(buf, ADD_V6);
}

// ip route append default via 192.0.2.9 metric 100 proto 87 dev wan1
// (the same as the add but for the flags: REQUEST|ACK|CREATE|APPEND)
#[test]
fn append_v4_route_differs_from_add_only_in_flags() {
    let mut buf = Vec::new();
    emit_route(
        &mut buf,
        RouteOp::Append,
        &wan1_v4(Some("192.0.2.9"), 100),
        1,
    );
    let mut expected = ADD_V4_GW;
    expected[6..8].copy_from_slice(&[0x05, 0x0c]);
    assert_eq!(buf, expected);
}

// ip route add default via 192.0.2.9 src 192.0.2.10 metric 100 proto 87 dev wan1
// (a foreign route with a preferred source, as dhcpcd installs it, given back)
const ADD_V4_SRC: [u8; 60] = [
    0x3c, 0, 0, 0, 0x18, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0, // nlmsghdr
    2, 0, 0, 0, 254, 87, 0, 1, 0, 0, 0, 0, // rtmsg
    8, 0, 5, 0, 192, 0, 2, 9, // RTA_GATEWAY
    8, 0, 7, 0, 192, 0, 2, 10, // RTA_PREFSRC
    8, 0, 6, 0, 100, 0, 0, 0, // RTA_PRIORITY
    8, 0, 4, 0, 2, 0, 0, 0, // RTA_OIF
];

#[test]
fn a_preferred_source_is_emitted_and_parsed_back() {
    let route = Route {
        prefsrc: Some("192.0.2.10".parse().expect("address")),
        ..wan1_v4(Some("192.0.2.9"), 100)
    };
    let mut buf = Vec::new();
    emit_route(&mut buf, RouteOp::Add, &route, 1);
    assert_eq!(buf, ADD_V4_SRC);
    match one(&rewrite_type(&buf, RTM_NEWROUTE)).body {
        Body::Route { route: r, .. } => assert_eq!(r.default_route(), Some(route)),
        other => panic!("{other:?}"),
    }
}

// ip route del unicast default via 192.0.2.9 metric 100 proto 87 dev wan1
const DEL_V4: [u8; 52] = [
    0x34, 0, 0, 0, 0x19, 0, 0x05, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, // REQUEST|ACK
    2, 0, 0, 0, 254, 87, 255, 1, 0, 0, 0, 0, // rtmsg: scope nowhere (any), unicast
    8, 0, 5, 0, 192, 0, 2, 9, // RTA_GATEWAY
    8, 0, 6, 0, 100, 0, 0, 0, // RTA_PRIORITY
    8, 0, 4, 0, 2, 0, 0, 0, // RTA_OIF
];

#[test]
fn del_v4_route() {
    let mut buf = Vec::new();
    emit_route(&mut buf, RouteOp::Del, &wan1_v4(Some("192.0.2.9"), 100), 1);
    assert_eq!(buf, DEL_V4);
}

#[test]
fn route_in_a_table_above_255_uses_rta_table() {
    let mut buf = Vec::new();
    let route = Route {
        table: 1000,
        ..wan1_v4(None, 7)
    };
    emit_route(&mut buf, RouteOp::Add, &route, 1);
    assert_eq!(buf[20], libc::RT_TABLE_UNSPEC);
    assert_eq!(&buf[28..36], &[8, 0, 15, 0, 0xe8, 0x03, 0, 0]);
}

#[test]
fn v4_route_via_v6_gateway_uses_rta_via() {
    let mut buf = Vec::new();
    let route = Route {
        gateway: Some("fe80::1".parse().expect("address")),
        ..wan1_v4(None, 7)
    };
    emit_route(&mut buf, RouteOp::Add, &route, 1);
    assert_eq!(&buf[28..34], &[22, 0, 18, 0, 10, 0]);
    match one(&rewrite_type(&buf, RTM_NEWROUTE)).body {
        Body::Route { route: r, .. } => assert_eq!(r.default_route(), Some(route)),
        other => panic!("{other:?}"),
    }
}

/// A request parsed back as if the kernel had sent it.
fn rewrite_type(buf: &[u8], nlmsg_type: u16) -> Vec<u8> {
    let mut b = buf.to_vec();
    b[4..6].copy_from_slice(&nlmsg_type.to_ne_bytes());
    b
}

#[test]
fn emitted_routes_parse_back() {
    for op in [RouteOp::Add, RouteOp::Append, RouteOp::Del] {
        for route in [wan1_v4(Some("192.0.2.9"), 100), wan1_v4(None, 3)] {
            let mut buf = Vec::new();
            emit_route(&mut buf, op, &route, 1);
            match one(&buf).body {
                Body::Route { route: r, .. } => assert_eq!(r.default_route(), Some(route)),
                other => panic!("{other:?}"),
            }
        }
    }
}

// ip link show   (iproute2 adds IFLA_EXT_MASK; the kernel sends IFLA_STATS64 either way)
const GETLINK_DUMP: [u8; 32] = [
    0x20, 0, 0, 0, 0x12, 0, 0x01, 0x03, 7, 0, 0, 0, 0, 0, 0, 0, // REQUEST|DUMP
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ifinfomsg: any family, any link
];
// ip addr show
const GETADDR_DUMP: [u8; 24] = [
    0x18, 0, 0, 0, 0x16, 0, 0x01, 0x03, 7, 0, 0, 0, 0, 0, 0, 0, // REQUEST|DUMP
    0, 0, 0, 0, 0, 0, 0, 0, // ifaddrmsg: any family
];
// ip route show table main type unicast   (both families; iproute2 asks per family
// and puts the table in RTA_TABLE, the kernel takes either)
const GETROUTE_DUMP: [u8; 28] = [
    0x1c, 0, 0, 0, 0x1a, 0, 0x01, 0x03, 7, 0, 0, 0, 0, 0, 0, 0, // REQUEST|DUMP
    0, 0, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0, // rtmsg: any family, main table, unicast
];
// ip -s link show dev wan1   (one link by index, no dump)
const GETLINK_ONE: [u8; 32] = [
    0x20, 0, 0, 0, 0x12, 0, 0x01, 0x00, 7, 0, 0, 0, 0, 0, 0, 0, // REQUEST
    0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ifi_index 2
];

#[test]
fn dump_and_get_requests() {
    let cases: [(DumpKind, &[u8]); 3] = [
        (DumpKind::Links, &GETLINK_DUMP),
        (DumpKind::Addrs, &GETADDR_DUMP),
        (DumpKind::Routes, &GETROUTE_DUMP),
    ];
    for (kind, want) in cases {
        let mut buf = Vec::new();
        emit_dump(&mut buf, kind, 7);
        assert_eq!(buf, want, "{kind:?}");
    }
    let mut buf = Vec::new();
    emit_get_link(&mut buf, 2, 7);
    assert_eq!(buf, GETLINK_ONE);
}

// Kernel → us, captured in the lab gateway namespace (`lab.sh up P 1 --ipv6`, then the
// dump requests above; `capture_kernel_messages` in tests/netlink_e2e.rs).

// ip link show dev wan1   (RTM_NEWLINK, up, carrier, with IFLA_STATS64)
const NEWLINK_WAN1: &str = include_str!("../testdata/newlink_wan1.hex");

#[test]
fn parses_link_with_stats64() {
    let m = one(&hex(NEWLINK_WAN1));
    let Body::Link { new: true, link } = m.body else {
        panic!("{m:?}");
    };
    assert_eq!(link.ifindex, 2);
    assert_eq!(link.name, "wan1");
    assert!(link.admin_up && link.carrier);
    assert_eq!(link.operstate, Some(OperState::Up));
    let stats = LinkStats {
        rx_bytes: 180,
        tx_bytes: 110,
    };
    assert_eq!(link.stats, Some(stats));
}

// ip addr show dev wan1   (192.0.2.10/29)
const NEWADDR_V4: &str = "500000001400020007000000995f0000021d80000200000008000100c000020a
    08000200c000020a0900030077616e3100000000080008008000000014000600ffffffffffffffff
    4c2001004c200100";

#[test]
fn parses_address() {
    let m = one(&hex(NEWADDR_V4));
    let Body::Addr { new: true, addr } = m.body else {
        panic!("{m:?}");
    };
    assert_eq!(addr.ifindex, 2);
    assert_eq!(addr.family, Family::V4);
    assert_eq!(addr.prefix_len, 29);
    assert_eq!(
        addr.address,
        "192.0.2.10".parse::<IpAddr>().expect("address")
    );
    assert!(addr.is_usable());
}

// ip route show default   (default via 192.0.2.9 dev wan1 proto dhcp)
const NEWROUTE_V4: &str = "340000001800020007000000995f000002000000fe1000010000000008000f00
    fe00000008000500c00002090800040002000000";
// ip -6 route show default   (default via 2001:db8:1::1 dev wan1 proto static metric 1024)
const NEWROUTE_V6: &str = "740000001800020007000000995f00000a000000fe0400010000000008000f00
    fe00000008000600000400001400050020010db8000100000000000000000001080004000200000024000c00
    00000000000000000000000000000000000000000000000000000000000000000500140000000000";

#[test]
fn parses_default_routes() {
    let cases = [
        (NEWROUTE_V4, Family::V4, "192.0.2.9", 0, 16),
        (NEWROUTE_V6, Family::V6, "2001:db8:1::1", 1024, 4),
    ];
    for (bytes, family, gw, metric, protocol) in cases {
        let m = one(&hex(bytes));
        assert_eq!(m.flags, NLM_F_MULTI);
        let Body::Route { new: true, route } = m.body else {
            panic!("{m:?}");
        };
        let want = Route {
            family,
            table: 254,
            ifindex: 2,
            gateway: Some(gw.parse().expect("address")),
            metric,
            protocol,
            prefsrc: None,
        };
        assert_eq!(route.default_route(), Some(want));
    }
}

// ip route add default via 192.0.2.9 metric 5 proto 87 dev wan1   (ACK, capped)
const ACK: &str = "240000000200000108000000995f00000000000034000000180005060800000000000000";
// ... the same again: EEXIST, with the request echoed
const EEXIST: &str = "480000000200000009000000995f0000efffffff3400000018000506090000000000
    000002000000fe5700010000000008000500c000020908000600050000000800040002000000";
// ip route del unicast default via 192.0.2.9 metric 5 proto 87 dev wan1, twice: ESRCH
const ESRCH: &str = "48000000020000000b000000995f0000fdffffff34000000190005000b0000000000
    000002000000fe57ff010000000008000500c000020908000600050000000800040002000000";
// end of any dump
const DONE: &str = "140000000300020007000000995f000000000000";

#[test]
fn parses_acks_errors_and_done() {
    let cases = [
        (ACK, 8, 0),
        (EEXIST, 9, libc::EEXIST),
        (ESRCH, 11, libc::ESRCH),
    ];
    for (bytes, seq, errno) in cases {
        let m = one(&hex(bytes));
        assert_eq!(m.seq, seq);
        assert_eq!(
            m.body,
            Body::Error {
                errno,
                request_seq: seq
            }
        );
    }
    let m = one(&hex(DONE));
    assert_eq!((m.seq, m.body), (7, Body::Done { errno: 0 }));
}

#[test]
fn extreme_errno_values_do_not_overflow() {
    // Found by fuzzing: NLMSG_DONE / NLMSG_ERROR carrying i32::MIN.
    let mut done = hex(DONE);
    done[16..20].copy_from_slice(&i32::MIN.to_ne_bytes());
    assert_eq!(one(&done).body, Body::Done { errno: i32::MAX });
    let mut err = hex(ACK);
    err[16..20].copy_from_slice(&i32::MIN.to_ne_bytes());
    assert!(matches!(
        one(&err).body,
        Body::Error {
            errno: i32::MAX,
            ..
        }
    ));
}

#[test]
fn several_messages_in_one_datagram() {
    let mut buf = hex(NEWROUTE_V4);
    buf.extend(hex(NEWADDR_V4));
    buf.extend(hex(DONE));
    let got: Vec<_> = parse_messages(&buf).collect();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(Result::is_ok));
}

// Hostile input: never a panic, never an endless loop, errors where bytes lie.

#[test]
fn truncated_header() {
    for len in 1..wire::NlMsg::<&[u8]>::LEN {
        let got: Vec<_> = parse_messages(&hex(DONE)[..len]).collect();
        assert_eq!(got, [Err(ParseError::TruncatedHeader)]);
    }
    assert_eq!(parse_messages(&[]).count(), 0);
}

#[test]
fn bad_nlmsg_len() {
    let good = hex(DONE);
    for nlmsg_len in [0u32, 4, 15, 21, 4096, u32::MAX] {
        let mut b = good.clone();
        b[..4].copy_from_slice(&nlmsg_len.to_ne_bytes());
        let got: Vec<_> = parse_messages(&b).collect();
        assert_eq!(got, [Err(ParseError::BadLength { nlmsg_len })]);
    }
}

#[test]
fn unaligned_length_ends_the_datagram_cleanly() {
    // A 21-byte DONE-like message followed by 2 stray bytes: the next header would start
    // at offset 24, beyond the buffer.
    let mut b = hex(DONE);
    b[0] = 21;
    b.extend([0xaa, 0xbb, 0xcc]);
    let got: Vec<_> = parse_messages(&b).collect();
    assert_eq!(got.len(), 1);
    assert!(got[0].is_ok());
}

#[test]
fn truncated_payloads_skip_one_message() {
    for ty in [RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, NLMSG_ERROR] {
        let mut b = hex(DONE); // 16-byte header + 4 bytes
        b[4..6].copy_from_slice(&ty.to_ne_bytes());
        b.extend(hex(DONE));
        let got: Vec<_> = parse_messages(&b).collect();
        let want = ParseError::TruncatedPayload { nlmsg_type: ty };
        assert_eq!(got[0], Err(want));
        assert!(got[1].is_ok());
    }
}

#[test]
fn bad_attribute_lengths() {
    for rta_len in [0u16, 1, 3, 9, 200, u16::MAX] {
        let mut b = hex(NEWROUTE_V4);
        // The first attribute (RTA_TABLE) starts after header and rtmsg.
        b[28..30].copy_from_slice(&rta_len.to_ne_bytes());
        let got: Vec<_> = parse_messages(&b).collect();
        assert!(
            matches!(got[..], [Err(ParseError::BadAttr { .. })]),
            "{rta_len}"
        );
    }
}

#[test]
fn short_attribute_values_are_ignored() {
    // RTA_GATEWAY with 2 bytes, RTA_OIF with 1: no gateway, no oif, no panic.
    let mut b = hex(NEWROUTE_V4)[..28].to_vec();
    b.extend([6, 0, 5, 0, 192, 0, 0, 0, 5, 0, 4, 0, 2, 0, 0, 0]);
    set_len(&mut b);
    let Body::Route { route, .. } = one(&b).body else {
        panic!("not a route");
    };
    assert_eq!((route.gateway, route.oif), (None, None));
}

#[test]
fn bridge_port_link_messages_are_ignored() {
    let mut b = hex(NEWLINK_WAN1);
    b[16] = 7; // AF_BRIDGE
    assert_eq!(one(&b).body, Body::Ignored(RTM_NEWLINK));
    b[4..6].copy_from_slice(&RTM_DELLINK.to_ne_bytes());
    assert_eq!(one(&b).body, Body::Ignored(RTM_DELLINK));
}

#[test]
fn unknown_types_and_families() {
    let mut b = hex(DONE);
    b[4..6].copy_from_slice(&999u16.to_ne_bytes());
    assert_eq!(one(&b).body, Body::Other(999));
    let mut b = hex(NEWADDR_V4);
    b[16] = 7; // ifa_family
    assert_eq!(one(&b).body, Body::Ignored(RTM_NEWADDR));
    let mut b = hex(NEWROUTE_V4);
    b[16] = 28; // AF_MPLS
    let Body::Route { route, .. } = one(&b).body else {
        panic!("not a route");
    };
    assert_eq!(route.default_route(), None);
}

#[test]
fn a_flood_of_attributes_is_refused() {
    let mut b = hex(NEWROUTE_V4)[..28].to_vec();
    for _ in 0..10_000 {
        b.extend([4, 0, 99, 0]);
    }
    set_len(&mut b);
    let got: Vec<_> = parse_messages(&b).collect();
    let want = ParseError::TooManyAttrs {
        nlmsg_type: RTM_NEWROUTE,
    };
    assert_eq!(got, [Err(want)]);
}

#[test]
fn multipath_routes_are_not_default_routes() {
    let mut b = hex(NEWROUTE_V4);
    b.extend([4, 0, RTA_MULTIPATH as u8, 0]);
    set_len(&mut b);
    let Body::Route { route, .. } = one(&b).body else {
        panic!("not a route");
    };
    assert!(route.multipath);
    assert_eq!(route.default_route(), None);
}

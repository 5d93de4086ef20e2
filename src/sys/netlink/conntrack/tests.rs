//! Bytes from the kernel and the `conntrack` tool (conntrack-tools 1.4.7), captured with
//! `strace -e trace=sendto,recvmsg -e write=3,4 -e read=3,4` in a lab gateway namespace
//! (`lab.sh up P 2 --lan`, `lab.sh nat P snat`): a LAN host 203.0.113.130 sent UDP from
//! ports 5001 and 5002 to 198.51.100.53 (out of wan1, NATed to 192.0.2.10) and
//! 198.51.100.54 (out of wan2, NATed to 192.0.2.18) and pinged 198.51.100.53; the gateway
//! itself sent UDP from [2001:db8:1::2]:6001 and an echo request (id 0x1234) to
//! 2001:db8:1::1.

use super::*;
use crate::sys::netlink::message::wire::NlMsg;

fn hex(s: &str) -> Vec<u8> {
    crate::sys::netlink::message::tests_hex(s)
}

fn lines(text: &str) -> Vec<Vec<u8>> {
    text.lines().map(hex).filter(|b| !b.is_empty()).collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

// `conntrack -L` (every family) and `conntrack -L -f ipv6`, sequence numbers set to 1.
const DUMP_ALL: &str = "14000000 0101 0103 01000000 00000000 00 00 0000";
const DUMP_V6: &str = "14000000 0101 0103 01000000 00000000 0a 00 0000";
/// The kernel's answer to `conntrack -L`: the ICMP entry, four UDP entries, NLMSG_DONE.
const KERNEL_DUMP_V4: &str = include_str!("../testdata/ct_dump_v4.hex");
/// The kernel's answer to `conntrack -L -f ipv6`: UDP, ICMPv6, NLMSG_DONE.
const KERNEL_DUMP_V6: &str = include_str!("../testdata/ct_dump_v6.hex");
/// `conntrack -D -p udp -s 203.0.113.130 -d 198.51.100.53 --sport 5001 --dport 9`: the
/// tool looks the entry up and sends its original tuple (then the reply tuple, status,
/// timeout and mark, which the kernel does not need to find it).
const TOOL_DELETE_V4: &str = include_str!("../testdata/ct_delete_tool_v4.hex");
/// The same for `-f ipv6 -s 2001:db8:1::2 -d 2001:db8:1::1 --sport 6001 --dport 9`.
const TOOL_DELETE_V6: &str = include_str!("../testdata/ct_delete_tool_v6.hex");

fn entries(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for datagram in lines(text) {
        for m in parse_ct_messages(&datagram) {
            if let CtBody::Entry(Some(e)) = m.expect("parses").body {
                out.push(e);
            }
        }
    }
    out
}

#[test]
fn dump_requests_as_the_tool_sends_them() {
    let mut buf = Vec::new();
    emit_ct_dump(&mut buf, None, 1);
    assert_eq!(buf, hex(DUMP_ALL));
    buf.clear();
    emit_ct_dump(&mut buf, Some(Family::V6), 1);
    assert_eq!(buf, hex(DUMP_V6));
}

#[test]
fn parses_the_kernels_dump() {
    let all = lines(KERNEL_DUMP_V4);
    let last = parse_ct_messages(all.last().expect("done")).next();
    assert_eq!(
        last.expect("one").expect("ok").body,
        CtBody::Done { errno: 0 }
    );
    let e = entries(KERNEL_DUMP_V4);
    assert_eq!(e.len(), 5);
    let ping = e[0];
    assert_eq!(ping.family, Family::V4);
    assert_eq!(
        (ping.orig.src, ping.orig.dst),
        (ip("203.0.113.130"), ip("198.51.100.53"))
    );
    assert_eq!(ping.orig.proto, 1);
    assert_eq!(
        ping.orig.l4,
        L4::Icmp {
            id: 8917,
            kind: 8,
            code: 0
        }
    );
    assert_eq!(
        ping.reply.l4,
        L4::Icmp {
            id: 8917,
            kind: 0,
            code: 0
        }
    );
    assert_eq!(ping.reply.dst, ip("192.0.2.10"));
    assert!(ping.is_source_nated());
    let udp = e[1];
    assert_eq!(udp.orig.l4, L4::Ports { src: 5001, dst: 9 });
    assert_eq!(
        (udp.reply.src, udp.reply.dst, udp.reply.l4),
        (
            ip("198.51.100.53"),
            ip("192.0.2.10"),
            L4::Ports { src: 9, dst: 5001 }
        )
    );
    assert_eq!(udp.id, Some(0x90a899d5));
    assert_eq!((udp.zone, udp.mark, udp.status), (0, Some(0), Some(0x198)));
    let wan2: Vec<_> = e
        .iter()
        .filter(|e| e.reply.dst == ip("192.0.2.18"))
        .collect();
    assert_eq!(wan2.len(), 2);
}

#[test]
fn parses_ipv6_entries() {
    let e = entries(KERNEL_DUMP_V6);
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].family, Family::V6);
    assert_eq!(e[0].orig.src, ip("2001:db8:1::2"));
    assert_eq!(e[0].orig.l4, L4::Ports { src: 6001, dst: 9 });
    assert!(!e[0].is_source_nated(), "the gateway's own flow");
    assert_eq!(e[1].orig.proto, 58);
    assert_eq!(
        e[1].orig.l4,
        L4::Icmp {
            id: 0x1234,
            kind: 128,
            code: 0
        }
    );
    assert_eq!(
        e[1].reply.l4,
        L4::Icmp {
            id: 0x1234,
            kind: 129,
            code: 0
        }
    );
}

/// Our delete is the tool's up to and including `CTA_TUPLE_ORIG` (header length and
/// flags aside); then `CTA_ID` instead of the tool's reply tuple, status, timeout and
/// mark.
fn same_start_as_the_tool(ours: &[u8], tool: &[u8]) {
    let orig_len = usize::from(u16::from_ne_bytes([tool[20], tool[21]]));
    let end = 20 + orig_len;
    assert_eq!(ours[4..6], tool[4..6], "type");
    assert_eq!(ours[8..12], tool[8..12], "seq");
    assert_eq!(ours[16..end], tool[16..end], "nfgenmsg and CTA_TUPLE_ORIG");
    let id = u32::from_be_bytes(ours[end + 4..end + 8].try_into().expect("4"));
    assert_eq!(ours[end..end + 4], [8, 0, CTA_ID as u8, 0]);
    assert_eq!(ours.len(), end + 8);
    let msg = NlMsg::new_message(ours).expect("whole");
    assert_eq!(msg.nlmsg_len() as usize, ours.len());
    assert_ne!(id, 0);
}

#[test]
fn deletes_carry_the_original_tuple_as_the_tool_does() {
    let udp = entries(KERNEL_DUMP_V4)[1];
    let mut tool = hex(TOOL_DELETE_V4);
    let seq = u32::from_ne_bytes(tool[8..12].try_into().expect("4"));
    let mut ours = Vec::new();
    emit_ct_delete(&mut ours, &udp, true, seq);
    same_start_as_the_tool(&ours, &tool);
    assert_eq!(
        NlMsg::new_message(&ours[..]).expect("ok").nlmsg_flags(),
        0x5
    );
    // without an ACK
    ours.clear();
    emit_ct_delete(&mut ours, &udp, false, seq);
    tool[6] = 0x01;
    same_start_as_the_tool(&ours, &tool);

    let v6 = entries(KERNEL_DUMP_V6)[0];
    let tool = hex(TOOL_DELETE_V6);
    let seq = u32::from_ne_bytes(tool[8..12].try_into().expect("4"));
    ours.clear();
    emit_ct_delete(&mut ours, &v6, true, seq);
    same_start_as_the_tool(&ours, &tool);
}

#[test]
fn icmp_deletes_and_zones_round_trip() {
    for e in entries(KERNEL_DUMP_V4)
        .into_iter()
        .chain(entries(KERNEL_DUMP_V6))
    {
        let e = Entry {
            zone: 7,
            mark: None,
            status: None,
            ..e
        };
        let mut buf = Vec::new();
        emit_ct_delete(&mut buf, &e, true, 3);
        // the kernel's notifications of a delete look like this too
        buf[4..6].copy_from_slice(&ct_type(IPCTNL_MSG_CT_DELETE).to_ne_bytes());
        let m = parse_ct_messages(&buf).next().expect("one").expect("ok");
        let CtBody::Entry(None) = m.body else {
            panic!("a delete has no reply tuple: {m:?}");
        };
        // with a reply tuple it is a whole entry again
        let mut reply = Vec::new();
        emit_tuple(&mut reply, &e.reply);
        emit_attr(&mut buf, CTA_TUPLE_REPLY | NLA_F_NESTED, &reply);
        let len = buf.len() as u32;
        buf[..4].copy_from_slice(&len.to_ne_bytes());
        let m = parse_ct_messages(&buf).next().expect("one").expect("ok");
        assert_eq!(m.body, CtBody::Entry(Some(e)));
    }
}

#[test]
fn hostile_bytes_never_panic() {
    for datagram in lines(KERNEL_DUMP_V4).iter().chain(&lines(KERNEL_DUMP_V6)) {
        for cut in 0..datagram.len() {
            let mut b = datagram[..cut].to_vec();
            if b.len() >= 4 {
                b[..4].copy_from_slice(&(cut as u32).to_ne_bytes());
            }
            for m in parse_ct_messages(&b) {
                let _ = m;
            }
        }
        // every byte flipped, one at a time
        for at in 0..datagram.len() {
            let mut b = datagram.clone();
            b[at] ^= 0xff;
            for m in parse_ct_messages(&b) {
                let _ = m;
            }
        }
    }
}

#[test]
fn entries_without_tuples_or_of_other_families() {
    let mut b = lines(KERNEL_DUMP_V4)[1].clone();
    b[16] = 7; // nfgen_family: AF_BRIDGE
    let m = parse_ct_messages(&b).next().expect("one").expect("ok");
    assert_eq!(m.body, CtBody::Entry(None));
    let b = hex("14000000 0001 0000 01000000 00000000 02 00 0000");
    let m = parse_ct_messages(&b).next().expect("one").expect("ok");
    assert_eq!(m.body, CtBody::Entry(None));
    let short = hex("12000000 0001 0000 01000000 00000000 02 00");
    let got = parse_ct_messages(&short).next().expect("one");
    assert!(matches!(got, Err(ParseError::TruncatedPayload { .. })));
}

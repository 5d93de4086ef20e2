#![no_main]
//! Arbitrary bytes as a received datagram: the raw IPv4 (IP header first), ping-socket IPv4
//! and IPv6 parsers (echo messages and ICMP errors quoting a request), then the matcher
//! with a few outstanding probes. Nothing may panic; whatever echo parses must survive an
//! emit/parse round trip.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wanfailover::engine::{Family, Instant};
use wanfailover::sys::icmp::matcher::Tracker;
use wanfailover::sys::icmp::packet::{EchoPacket, EchoRepr};
use wanfailover::sys::icmp::{parse_datagram, Message, SocketKind};

const V4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 53));
const V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 0x53));

fn tracker(cookie: [u8; 8], ident: u16) -> Tracker {
    let mut t = Tracker::new(cookie, ident);
    for seq in 0..4u16 {
        let addr = if seq % 2 == 0 { V4 } else { V6 };
        t.record(
            Instant::from_millis(u64::from(seq)),
            u64::from(seq),
            seq as u8,
            addr,
            seq,
        );
    }
    t
}

fuzz_target!(|data: &[u8]| {
    // The first 10 bytes choose the tracker's cookie and identifier, so the fuzzer can reach
    // the accepted path; the rest is the datagram.
    let (cookie, ident, bytes) = if data.len() >= 10 {
        let mut c = [0u8; 8];
        c.copy_from_slice(&data[..8]);
        (c, u16::from_be_bytes([data[8], data[9]]), &data[10..])
    } else {
        ([0; 8], 0, data)
    };
    let combos = [
        (Family::V4, SocketKind::Raw, V4),
        (Family::V4, SocketKind::Ping, V4),
        (Family::V6, SocketKind::Raw, V6),
    ];
    for (family, kind, src) in combos {
        let mut t = tracker(cookie, ident);
        let Some((src, message)) = parse_datagram(family, kind, bytes, Some(src)) else {
            continue;
        };
        let echo = match message {
            Message::Echo(echo) => echo,
            Message::Error(err) => {
                for now_ms in [1, 5_000] {
                    let _ =
                        t.check_error(Instant::from_millis(now_ms), Duration::from_secs(1), &err);
                }
                continue;
            }
        };
        let mut out = vec![0u8; echo.buffer_len()];
        let len = echo.emit(&mut out).expect("emit into buffer_len bytes");
        let packet = EchoPacket::new_checked(&out[..len]).expect("emitted packet is long enough");
        let again = EchoRepr::parse(&packet, family).expect("emitted packet parses");
        assert_eq!(again, echo);
        for now_ms in [1, 5_000] {
            let _ = t.check(
                Instant::from_millis(now_ms),
                Duration::from_secs(1),
                src,
                &echo,
            );
        }
        t.purge(Instant::from_millis(10_000), Duration::from_secs(2));
    }
});

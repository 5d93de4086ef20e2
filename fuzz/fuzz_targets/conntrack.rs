#![no_main]
//! Arbitrary bytes as a ctnetlink datagram: the conntrack parser, then what the daemon
//! does with each entry (the flush selection, and a delete request built from it).

use std::net::IpAddr;

use wanfailover::sys::netlink::conntrack::{emit_ct_delete, parse_ct_messages, CtBody, Flush};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let moved: [IpAddr; 2] = [
        [192, 0, 2, 10].into(),
        [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2].into(),
    ];
    let flush = Flush::new(&moved);
    let mut buf = Vec::new();
    for msg in parse_ct_messages(data).flatten() {
        if let CtBody::Entry(Some(entry)) = msg.body {
            let _ = flush.selects(&entry);
            buf.clear();
            emit_ct_delete(&mut buf, &entry, true, msg.seq);
            // what we send parses back to the same original tuple
            let back = parse_ct_messages(&buf).next();
            assert!(matches!(back, Some(Ok(_))));
        }
    }
});

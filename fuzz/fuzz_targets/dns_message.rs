#![no_main]
//! Arbitrary bytes as a datagram from a DNS server: the answer parser against a fixed
//! question and against the question the message itself carries (so the fuzzer reaches the
//! records), compressed names, and config names. Nothing may panic; names stay within 255
//! bytes and survive an emit/parse round trip.

use wanfailover::check::dns::{
    parse_answer, Name, QueryRepr, RecordType, HEADER_LEN, MAX_ADDRS, MAX_NAME_LEN,
};

fn answer(data: &[u8], name: &Name, id: u16) {
    for qtype in [RecordType::A, RecordType::Aaaa] {
        let query = QueryRepr { id, name, qtype };
        match parse_answer(data, &query) {
            Ok(a) => {
                assert!(a.addrs.len() <= MAX_ADDRS);
                let v6 = qtype == RecordType::Aaaa;
                assert!(a.addrs.iter().all(|ip| ip.is_ipv6() == v6));
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

/// A name emitted in a query reads back the same.
fn round_trip(name: &Name) {
    assert!(name.as_wire().len() <= MAX_NAME_LEN);
    let query = QueryRepr {
        id: 7,
        name,
        qtype: RecordType::A,
    };
    let mut buf = [0u8; HEADER_LEN + MAX_NAME_LEN + 4];
    let len = query.emit(&mut buf).expect("room for any name");
    let (again, end) = Name::parse(&buf[..len], HEADER_LEN).expect("emitted name parses");
    assert_eq!(&again, name);
    assert_eq!(end, len - 4);
    let _ = name.to_string();
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let id = match data {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    let fixed = Name::from_dotted("example.test").expect("a valid name");
    answer(data, &fixed, id);
    if let Ok((echoed, end)) = Name::parse(data, HEADER_LEN) {
        assert!(end <= data.len());
        round_trip(&echoed);
        answer(data, &echoed, id);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(name) = Name::from_dotted(text) {
            round_trip(&name);
        }
    }
});

//! Byte-array tests of the DNS view: golden answers from dnsmasq and hostile messages.

use super::*;

fn name(s: &str) -> Name {
    Name::from_dotted(s).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn query(id: u16, n: &Name, qtype: RecordType) -> QueryRepr<'_> {
    QueryRepr { id, name: n, qtype }
}

/// A response header with our id, QR|RD|RA and `rcode`, and these counts.
fn header(id: u16, rcode: u8, qd: u16, an: u16) -> Vec<u8> {
    let flags = 0x8180u16 | u16::from(rcode);
    let mut h = Vec::new();
    for v in [id, flags, qd, an, 0, 0] {
        h.extend_from_slice(&v.to_be_bytes());
    }
    h
}

/// The question of `q` in wire form.
fn question(n: &Name, qtype: u16) -> Vec<u8> {
    [n.as_wire(), &qtype.to_be_bytes(), &CLASS_IN.to_be_bytes()].concat()
}

/// An answer record owned by the name at offset 12 (a pointer), type `rtype`.
fn record(rtype: u16, ttl: u32, data: &[u8]) -> Vec<u8> {
    let mut r = vec![0xc0, 0x0c];
    r.extend_from_slice(&rtype.to_be_bytes());
    r.extend_from_slice(&CLASS_IN.to_be_bytes());
    r.extend_from_slice(&ttl.to_be_bytes());
    r.extend_from_slice(&(data.len() as u16).to_be_bytes());
    r.extend_from_slice(data);
    r
}

#[test]
fn query_bytes() {
    let n = name("Example.Test.");
    let q = query(0x1234, &n, RecordType::A);
    let mut buf = [0u8; 64];
    let len = q.emit(&mut buf).unwrap();
    assert_eq!(len, q.buffer_len());
    // what dig +noedns sends for the same question, id aside
    let want = hex("123401000001000000000000076578616d706c6504746573740000010001");
    assert_eq!(&buf[..len], &want[..]);
    let m = Message::new_checked(&buf[..len]).unwrap();
    assert!(m.recursion_desired() && !m.is_response());
    assert_eq!(q.emit(&mut buf[..len - 1]), Err(Error::BufferTooSmall));
    let q6 = query(1, &n, RecordType::Aaaa);
    let len = q6.emit(&mut buf).unwrap();
    assert_eq!(&buf[len - 4..len], &[0, 28, 0, 1]);
}

/// Answers of dnsmasq 2.90 started with `--no-resolv --no-hosts
/// --address=/example.test/203.0.113.80 --cname=www.example.test,example.test`, to the
/// queries `query_bytes` emits (ids 0x1234, 0x2345, 0x3456).
#[test]
fn golden_dnsmasq_answers() {
    let n = name("example.test");
    let a = hex(
        "123485800001000100000000076578616d706c6504746573740000010001\
         c00c00010001000000000004cb007150",
    );
    let got = parse_answer(&a, &query(0x1234, &n, RecordType::A)).unwrap();
    assert_eq!(got.rcode, Rcode::NOERROR);
    assert!(!got.truncated);
    assert_eq!(&got.addrs[..], &["203.0.113.80".parse::<IpAddr>().unwrap()]);
    assert_eq!(got.ttl_s, 0);

    // a CNAME without the address record: NOERROR but nothing to use
    let www = name("www.example.test");
    let cname = hex(
        "23458580000100010000000003777777074578616d706c6504546573740000010001\
         c00c0005000100000000000e076578616d706c65047465737400",
    );
    let got = parse_answer(&cname, &query(0x2345, &www, RecordType::A)).unwrap();
    assert_eq!((got.rcode, got.addrs.len()), (Rcode::NOERROR, 0));

    // AAAA with no upstream: REFUSED
    let refused = hex("345681850001000000000000076578616d706c65047465737400001c0001");
    let got = parse_answer(&refused, &query(0x3456, &n, RecordType::Aaaa)).unwrap();
    assert_eq!(got.rcode, Rcode::REFUSED);
    assert_eq!(got.rcode.to_string(), "REFUSED");
}

#[test]
fn cname_chain_and_ttls() {
    let n = name("www.example.test");
    let target = name("cdn.example.net");
    let mut msg = [header(7, 0, 1, 4), question(&n, TYPE_A)].concat();
    // www.example.test CNAME cdn.example.net (TTL 300)
    msg.extend(record(TYPE_CNAME, 300, target.as_wire()));
    let cdn_at = msg.len() - target.as_wire().len();
    // a record of another owner is not ours
    let evil = record(TYPE_A, 5, &[192, 0, 2, 66]);
    msg.extend([name("evil.test").as_wire(), &evil[2..]].concat());
    // cdn.example.net A 203.0.113.7 (TTL 60), twice with a pointer owner
    for last in [7u8, 8] {
        let mut r = record(TYPE_A, 60, &[203, 0, 113, last]);
        r[0..2].copy_from_slice(&(0xc000u16 | cdn_at as u16).to_be_bytes());
        msg.extend(r);
    }
    let got = parse_answer(&msg, &query(7, &n, RecordType::A)).unwrap();
    let want: Vec<IpAddr> = ["203.0.113.7", "203.0.113.8"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(&got.addrs[..], &want[..]);
    assert_eq!(got.ttl_s, 60);
}

#[test]
fn aaaa_record() {
    let n = name("example.test");
    let addr: Ipv6Addr = "2001:db8::80".parse().unwrap();
    let msg = [
        header(9, 0, 1, 1),
        question(&n, TYPE_AAAA),
        record(TYPE_AAAA, 3600, &addr.octets()),
    ]
    .concat();
    let got = parse_answer(&msg, &query(9, &n, RecordType::Aaaa)).unwrap();
    assert_eq!(&got.addrs[..], &[IpAddr::V6(addr)]);
    assert_eq!(got.ttl_s, 3600);
    // an A query must not take the AAAA record, nor a 16-byte "A"
    let bad = [
        header(9, 0, 1, 1),
        question(&n, TYPE_A),
        record(TYPE_A, 1, &addr.octets()),
    ]
    .concat();
    assert_eq!(
        parse_answer(&bad, &query(9, &n, RecordType::A)),
        Err(Error::BadRecord)
    );
}

#[test]
fn only_our_answer_matches() {
    let n = name("example.test");
    let q = query(0xbeef, &n, RecordType::A);
    let good = [header(0xbeef, 0, 1, 0), question(&n, TYPE_A)].concat();
    assert!(parse_answer(&good, &q).is_ok());
    // the echoed name in another case is still ours (0x20 randomisation)
    let mixed = [
        header(0xbeef, 0, 1, 0),
        question(&name("eXaMpLe.TeSt"), TYPE_A),
    ]
    .concat();
    assert!(parse_answer(&mixed, &q).is_ok());
    let mut query_not_answer = good.clone();
    query_not_answer[2] &= 0x7f;
    let mut notify = good.clone();
    notify[2] |= 4 << 3;
    let cases = [
        (query_not_answer, Error::NotAnswer),
        (notify, Error::NotAnswer),
        (
            [header(0xbeee, 0, 1, 0), question(&n, TYPE_A)].concat(),
            Error::OtherId,
        ),
        (
            [
                header(0xbeef, 0, 1, 0),
                question(&name("example.org"), TYPE_A),
            ]
            .concat(),
            Error::OtherQuestion,
        ),
        (
            [header(0xbeef, 0, 1, 0), question(&n, TYPE_AAAA)].concat(),
            Error::OtherQuestion,
        ),
        (header(0xbeef, 0, 0, 0), Error::OtherQuestion),
        (
            [header(0xbeef, 0, 2, 0), question(&n, TYPE_A)].concat(),
            Error::OtherQuestion,
        ),
    ];
    for (msg, want) in cases {
        let got = parse_answer(&msg, &q);
        assert_eq!(got, Err(want));
        assert!(want.is_unmatched());
    }
    // SERVFAIL without the question still answers our id
    let bare = header(0xbeef, 2, 0, 0);
    assert_eq!(parse_answer(&bare, &q).unwrap().rcode, Rcode::SERVFAIL);
}

#[test]
fn rcodes_and_truncation() {
    let n = name("example.test");
    let q = query(1, &n, RecordType::A);
    for (rcode, words) in [(2, "SERVFAIL"), (3, "NXDOMAIN"), (9, "rcode 9")] {
        let msg = [header(1, rcode, 1, 0), question(&n, TYPE_A)].concat();
        let got = parse_answer(&msg, &q).unwrap();
        assert_eq!(got.rcode.to_string(), words);
    }
    // TC set and the records cut off: reported truncated, the records are not read
    let mut tc = [header(1, 0, 1, 3), question(&n, TYPE_A)].concat();
    tc[2] |= 0x02;
    let got = parse_answer(&tc, &q).unwrap();
    assert!(got.truncated && got.addrs.is_empty());
}

#[test]
fn hostile_names() {
    let n = name("example.test");
    let q = query(1, &n, RecordType::A);
    let head = header(1, 0, 1, 0);
    // pointer to itself, forward, and a two-pointer loop
    let cases: [(Vec<u8>, Error); 7] = [
        (
            [&head[..], &[0xc0, 12, 0, 1, 0, 1]].concat(),
            Error::BadPointer,
        ),
        (
            [&head[..], &[0xc0, 40, 0, 1, 0, 1]].concat(),
            Error::BadPointer,
        ),
        (
            [&head[..], &[1, b'a', 0xc0, 15, 1, b'b', 0xc0, 12]].concat(),
            Error::BadPointer,
        ),
        (
            [&head[..], &[0x40, 0, 0, 1, 0, 1]].concat(),
            Error::BadLabel,
        ),
        (
            [&head[..], &[0x80, 0, 0, 1, 0, 1]].concat(),
            Error::BadLabel,
        ),
        ([&head[..], &[5, b'a']].concat(), Error::Truncated),
        (head[..11].to_vec(), Error::Truncated),
    ];
    for (msg, want) in cases {
        assert_eq!(parse_answer(&msg, &q), Err(want), "{msg:?}");
    }
    // 130 one-byte labels make a 261-byte name
    let long: Vec<u8> = [&head[..], &[1, b'a'].repeat(130), &[0, 0, 1, 0, 1]].concat();
    assert_eq!(parse_answer(&long, &q), Err(Error::NameTooLong));
    // a chain of 200 names, each one label in front of the one before: more pointers than
    // any real answer needs (and longer than 255 bytes)
    let mut chain = head.clone();
    chain.extend([0]);
    for i in 0..200u16 {
        let prev = 12 + if i == 0 { 0 } else { 1 + 4 * (i - 1) };
        chain.extend([1, b'x']);
        chain.extend((0xc000 | prev).to_be_bytes());
    }
    let at = chain.len() - 4;
    assert_eq!(
        Name::parse(&chain, at).map(|(n, _)| n.as_wire().len()),
        Err(Error::BadPointer)
    );
    // ten of them are fine
    let at = 13 + 4 * 9;
    let (ten, end) = Name::parse(&chain, at).unwrap();
    assert_eq!(
        (ten.to_string(), end),
        ("x.x.x.x.x.x.x.x.x.x".into(), at + 4)
    );
}

#[test]
fn record_lengths_are_checked() {
    let n = name("example.test");
    let q = query(1, &n, RecordType::A);
    let mut msg = [
        header(1, 0, 1, 1),
        question(&n, TYPE_A),
        record(TYPE_A, 1, &[192, 0, 2, 1]),
    ]
    .concat();
    msg.pop();
    assert_eq!(parse_answer(&msg, &q), Err(Error::Truncated));
    // more answers announced than present
    let short = [
        header(1, 0, 1, 2),
        question(&n, TYPE_A),
        record(TYPE_A, 1, &[192, 0, 2, 1]),
    ]
    .concat();
    assert_eq!(parse_answer(&short, &q), Err(Error::Truncated));
    // a negative TTL counts as zero; at most MAX_ADDRS addresses are kept
    let mut many = [header(1, 0, 1, 6), question(&n, TYPE_A)].concat();
    for i in 0..6 {
        many.extend(record(TYPE_A, 0x8000_0000, &[192, 0, 2, i]));
    }
    let got = parse_answer(&many, &q).unwrap();
    assert_eq!((got.addrs.len(), got.ttl_s), (MAX_ADDRS, 0));
}

#[test]
fn configured_names() {
    let n = name("Example.COM.");
    assert_eq!(n.to_string(), "example.com");
    assert_eq!(n, name("example.com"));
    let cases = [
        ("", NameError::Empty),
        (".", NameError::Empty),
        ("a..b", NameError::EmptyLabel),
        ("a b", NameError::BadChar(' ')),
        ("exämple.com", NameError::BadChar('ä')),
    ];
    for (text, want) in cases {
        assert_eq!(Name::from_dotted(text), Err(want), "{text:?}");
    }
    let label = "a".repeat(64);
    assert_eq!(Name::from_dotted(&label), Err(NameError::LabelTooLong));
    let long = ["abcdefghi"; 26].join(".");
    assert_eq!(Name::from_dotted(&long), Err(NameError::TooLong));
    let just = [&"a".repeat(63)[..]; 4].join(".");
    assert_eq!(
        Name::from_dotted(&just[..253]).unwrap().as_wire().len(),
        255
    );
    // names parsed from the wire show odd bytes escaped
    let odd = Name::parse(&[3, b'a', b'.', 0xff, 0], 0).unwrap().0;
    assert_eq!(odd.to_string(), "a\\046\\255");
}

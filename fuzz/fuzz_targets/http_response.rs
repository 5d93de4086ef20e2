#![no_main]
//! Arbitrary bytes as what an HTTP server sent: the response view, its fields, the body
//! with its framing removed, and the verdict for the expectations a target can have.
//! Nothing may panic; whatever parses must survive an emit/parse round trip. An odd first
//! byte puts a status line's start in front of the rest, so short runs reach the headers.

use wanfailover::check::expect::{judge, Expect};
use wanfailover::check::http::{final_response, ResponseRepr, MAX_HEADERS};

const EXPECTATIONS: [Expect<'static>; 3] = [
    Expect {
        status: 204,
        body: None,
    },
    Expect {
        status: 200,
        body: Some(b"NetworkManager is online"),
    },
    Expect {
        status: 302,
        body: Some(b"<"),
    },
];

libfuzzer_sys::fuzz_target!(|input: &[u8]| {
    let data = match input.split_first() {
        Some((mode, rest)) if mode & 1 == 1 => [&b"HTTP/1.1 "[..], rest].concat(),
        _ => input.to_vec(),
    };
    let data = &data[..];
    for expect in &EXPECTATIONS {
        for more in [true, false] {
            let _ = format!("{:?}", judge(data, more, expect));
        }
    }
    let Ok(response) = final_response(data) else {
        return;
    };
    assert!(response.head_len() <= data.len());
    assert!(response.headers().count() <= MAX_HEADERS);
    let Ok(repr) = ResponseRepr::parse(&response) else {
        return;
    };
    let mut start = [0u8; 64];
    if let Ok((n, _)) = repr.decoded_body(&mut start) {
        assert!(n <= start.len());
    }
    let mut buf = vec![0u8; repr.buffer_len()];
    let n = repr.emit(&mut buf).expect("buffer_len is enough");
    assert_eq!(n, buf.len());
    let again = final_response(&buf).expect("an emitted response parses");
    assert_eq!(ResponseRepr::parse(&again), Ok(repr));
});

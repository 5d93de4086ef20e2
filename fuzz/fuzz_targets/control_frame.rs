#![no_main]
//! Control-socket bytes from an untrusted client: the frame decoder fed in arbitrary
//! chunks, and the request and response decoders on every body it yields. Nothing may
//! panic, and whatever decodes must survive an encode/decode round trip unchanged. (Bytes
//! need not round-trip: postcard accepts non-minimal varints such as `86 00` for 6, while
//! the encoder always writes minimal ones.)

use wanfailover::control::protocol::{self, FrameDecoder, MAX_REQUEST_LEN};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, so splits at every position get explored.
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split % 17) + 1;
    let mut decoder = FrameDecoder::new(MAX_REQUEST_LEN);
    for piece in bytes.chunks(chunk) {
        let mut input = piece;
        loop {
            let before = input.len();
            match decoder.decode(&mut input) {
                Ok(Some(body)) => check_body(body),
                Ok(None) => break,
                Err(_) => return,
            }
            assert!(
                input.len() < before || input.is_empty(),
                "decoder made no progress"
            );
        }
        assert!(input.is_empty());
    }
    check_body(bytes);
});

fn check_body(body: &[u8]) {
    if let Ok(request) = protocol::decode_request(body) {
        let mut frame = Vec::new();
        // A request may decode from a body over the request limit only in the whole-input
        // check; such a request is too long to send and that is fine.
        if protocol::encode_request(&request, &mut frame).is_ok() {
            let again = protocol::decode_request(&frame[protocol::HEADER_LEN..]);
            assert_eq!(again.as_ref(), Ok(&request));
        }
    }
    if let Ok(response) = protocol::decode_response(body) {
        let mut frame = Vec::new();
        if protocol::encode_response(&response, &mut frame).is_ok() {
            let again = protocol::decode_response(&frame[protocol::HEADER_LEN..]);
            assert_eq!(again.as_ref(), Ok(&response));
        }
    }
}

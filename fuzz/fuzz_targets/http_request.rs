#![no_main]
//! Bytes from an untrusted client of the metrics listener: the request reader fed in
//! arbitrary chunks. Nothing may panic, the reader never takes more than its limit, the
//! outcome does not depend on how the bytes were split, and every outcome has an answer.

use wanfailover::metrics::http::{self, Method, Reader, Status, MAX_HEAD_LEN};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, so splits at every position get explored.
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split % 31) + 1;
    let mut reader = Reader::new();
    let mut taken = 0usize;
    let mut chunked = None;
    for piece in bytes.chunks(chunk) {
        taken += piece.len().min(reader.room());
        assert!(taken <= MAX_HEAD_LEN, "the reader took more than its limit");
        chunked = reader.push(piece);
    }
    let whole = Reader::new().push(bytes);
    assert_eq!(chunked, whole, "the outcome depends on the split");
    let mut out = Vec::new();
    match whole {
        None => return,
        Some(Ok(request)) => {
            let head_only = request.method == Method::Head;
            http::write_response(Status::Ok, "text/plain", "", b"x", head_only, &mut out);
        }
        Some(Err(e)) => http::write_error(e.status(), false, &mut out),
    }
    assert!(out.starts_with(b"HTTP/1.1 "));
});

//! Judging an HTTP response against what the `http` target expects.
//!
//! The expectations follow NetworkManager's connectivity check, which users of Kura and
//! balenaOS already configure: without `body`, the URL must answer `204 No Content` (the
//! `generate_204` endpoints); with `body`, the response body must start with that text
//! and the status defaults to `200`. Either default can be overridden with `status`.
//!
//! A redirect where none was expected, or a `200` with a page where a `204` was expected,
//! is what a captive portal answers: the cause says so.

use super::http::{final_response, Error, ResponseRepr};
use super::{Cause, Text};

/// Longest `body` prefix a target may expect.
pub const MAX_BODY_PREFIX: usize = 256;
/// Status expected when the target gives neither `status` nor `body`.
pub const DEFAULT_STATUS: u16 = 204;
/// Status expected when the target gives `body` but no `status`.
pub const DEFAULT_STATUS_WITH_BODY: u16 = 200;

/// What an `http` target expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect<'a> {
    pub status: u16,
    /// The body must start with these bytes (at most [`MAX_BODY_PREFIX`]).
    pub body: Option<&'a [u8]>,
}

/// The verdict on the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    Pass,
    Fail(Cause),
    /// Not decided yet: read more.
    NeedMore,
}

/// Judges the response in `buf`. `more` says whether more bytes may still come (`false`
/// after the server closed, or when the caller's buffer is full).
pub fn judge(buf: &[u8], more: bool, expect: &Expect<'_>) -> Judgement {
    let repr = match final_response(buf).and_then(|r| ResponseRepr::parse(&r)) {
        Ok(repr) => repr,
        Err(Error::Incomplete) if more => return Judgement::NeedMore,
        Err(_) if buf.is_empty() => return Judgement::Fail(Cause::Closed),
        Err(e) => return Judgement::Fail(Cause::BadHttp(e)),
    };
    if repr.status != expect.status {
        let reason = Text::new(repr.reason);
        let redirect = |s: u16| (300..400).contains(&s);
        if redirect(repr.status) && !redirect(expect.status) {
            return Judgement::Fail(Cause::Redirect {
                status: repr.status,
                reason,
            });
        }
        return Judgement::Fail(Cause::Status {
            status: repr.status,
            reason,
            expected: expect.status,
        });
    }
    let Some(prefix) = expect.body else {
        return Judgement::Pass;
    };
    let mut start = [0u8; MAX_BODY_PREFIX];
    let (n, complete) = match repr.decoded_body(&mut start) {
        Ok(decoded) => decoded,
        Err(e) => return Judgement::Fail(Cause::BadHttp(e)),
    };
    let got = &start[..n];
    if got.starts_with(prefix) {
        Judgement::Pass
    } else if prefix.starts_with(got) && !complete && more {
        Judgement::NeedMore
    } else {
        Judgement::Fail(Cause::Body {
            status: repr.status,
            got: Text::new(got),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_CONTENT: Expect<'static> = Expect {
        status: 204,
        body: None,
    };
    const ONLINE: Expect<'static> = Expect {
        status: 200,
        body: Some(b"NetworkManager is online"),
    };

    fn words(j: Judgement) -> String {
        match j {
            Judgement::Fail(cause) => cause.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn generate_204() {
        let ok = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(judge(ok, true, &NO_CONTENT), Judgement::Pass);
        assert_eq!(judge(&ok[..10], true, &NO_CONTENT), Judgement::NeedMore);
        assert_eq!(
            words(judge(&ok[..10], false, &NO_CONTENT)),
            "bad HTTP response: incomplete response head"
        );
        assert_eq!(
            words(judge(b"", false, &NO_CONTENT)),
            "connection closed before a complete response"
        );
    }

    #[test]
    fn captive_portals() {
        let redirect = b"HTTP/1.1 302 Found\r\nLocation: http://192.0.2.1/login\r\n\r\n";
        assert_eq!(
            words(judge(redirect, true, &NO_CONTENT)),
            "HTTP 302 Found: captive portal?"
        );
        let login = b"HTTP/1.1 200 OK\r\n\r\n<html><form action=/login>";
        assert_eq!(
            words(judge(login, true, &NO_CONTENT)),
            "HTTP 200 OK instead of 204: captive portal?"
        );
        assert_eq!(
            words(judge(login, false, &ONLINE)),
            "HTTP 200 but body does not start with the expected text \
             (it starts \"<html><form action=/login>\")"
        );
        // expecting a redirect makes a redirect fine
        let to_login = Expect {
            status: 301,
            body: None,
        };
        assert_eq!(
            words(judge(redirect, true, &to_login)),
            "HTTP 302 Found, expected 301"
        );
    }

    #[test]
    fn body_prefix_arrives_in_pieces() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 24\r\n\r\nNetworkManager is online";
        let head = full.len() - 24;
        assert_eq!(judge(full, true, &ONLINE), Judgement::Pass);
        // part of the body: wait, unless the server has closed
        assert_eq!(judge(&full[..head + 7], true, &ONLINE), Judgement::NeedMore);
        assert!(matches!(
            judge(&full[..head + 7], false, &ONLINE),
            Judgement::Fail(Cause::Body { .. })
        ));
        // a longer body passes on its prefix
        let longer = b"HTTP/1.1 200 OK\r\n\r\nNetworkManager is online\n";
        assert_eq!(judge(longer, true, &ONLINE), Judgement::Pass);
        // a Content-Length shorter than the prefix decides at once
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nNetwork";
        assert!(matches!(
            judge(short, true, &ONLINE),
            Judgement::Fail(Cause::Body { .. })
        ));
        // chunked
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                        7\r\nNetwork\r\n11\r\nManager is online\r\n0\r\n\r\n";
        assert_eq!(judge(chunked, true, &ONLINE), Judgement::Pass);
    }

    #[test]
    fn wrong_status_and_bad_responses() {
        let unavailable = b"HTTP/1.1 503 Service Unavailable\r\n\r\n";
        assert_eq!(
            words(judge(unavailable, true, &NO_CONTENT)),
            "HTTP 503 Service Unavailable, expected 204"
        );
        assert_eq!(
            words(judge(b"SSH-2.0-x\r\n", true, &NO_CONTENT)),
            "bad HTTP response: bad status line"
        );
        let bad_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n";
        assert_eq!(
            words(judge(bad_chunk, true, &ONLINE)),
            "bad HTTP response: bad chunked encoding"
        );
    }
}

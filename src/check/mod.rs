//! HTTP, DNS and TCP checks: the pure half (DESIGN.md §9).
//!
//! ICMP echo proves that a path answers pings. It cannot see a captive portal, a dead DNS
//! upstream or an ISP that answers pings and drops everything else; these checks can. This
//! module is the part that never touches a socket: the wire formats (every byte of a
//! response comes from the internet, so they are checked views with fuzz targets), the
//! judgement of a response against what the config expects, and the outcome a check
//! reports. The non-blocking runners that open sockets through a WAN are in
//! `sys::check`.
//!
//! - [`url`]: the `http://` URLs of `http` targets.
//! - [`http`]: the HTTP/1.1 request emitter and response view.
//! - [`expect`]: a response against the expected status and body prefix, with the cause
//!   of a mismatch in words ("HTTP 302 Found: captive portal?").
//! - [`dns`]: the DNS query emitter and response view (RFC 1035).
//! - [`cache`]: host names resolved through one WAN, kept for their TTL.

pub mod cache;
pub mod dns;
pub mod expect;
pub mod http;
pub mod url;

use core::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Longest piece of a response (a reason phrase, the start of a body) kept in a cause.
pub const TEXT_LEN: usize = 40;

/// A short, printable excerpt of bytes from the network: non-printable bytes and
/// non-ASCII are shown as `?`, and it is cut at [`TEXT_LEN`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(heapless::String<TEXT_LEN>);

impl Text {
    pub fn new(bytes: &[u8]) -> Text {
        let mut s = heapless::String::new();
        for &b in bytes.iter().take(TEXT_LEN) {
            let ch = if b == b' ' || b.is_ascii_graphic() {
                char::from(b)
            } else {
                '?'
            };
            let _ = s.push(ch); // capacity: at most TEXT_LEN characters of one byte each
        }
        Text(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a check failed, in words a user reads in `wanfailover health`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// No answer before the deadline.
    Timeout,
    /// `ECONNREFUSED`: a TCP reset, or an ICMP port unreachable for a DNS query.
    Refused,
    /// `ENETUNREACH`/`EHOSTUNREACH`: no route through this WAN, or a router said so.
    NoRoute,
    /// `ECONNRESET`/`EPIPE`: the connection was reset while in use.
    Reset,
    /// Any other error of the system call, by errno.
    Os(i32),
    /// The server closed the connection before a complete response head.
    Closed,
    /// A redirect where none was expected: what a captive portal answers.
    Redirect { status: u16, reason: Text },
    /// Another status than the expected one.
    Status {
        status: u16,
        reason: Text,
        expected: u16,
    },
    /// The expected status, but the body does not start with the expected text.
    Body { status: u16, got: Text },
    /// Not an HTTP/1.x response, or one this parser refuses.
    BadHttp(http::Error),
    /// A DNS answer with an error code.
    Rcode(dns::Rcode),
    /// The DNS answer had the TC bit: truncated answers count as failed.
    Truncated,
    /// NOERROR, but no record of the type asked for.
    NoRecord(dns::RecordType),
    /// A DNS answer that matched the query but could not be read.
    BadDns(dns::Error),
}

impl Cause {
    /// The cause of a failed system call.
    pub fn from_errno(errno: i32) -> Cause {
        match errno {
            libc::ECONNREFUSED => Cause::Refused,
            libc::ENETUNREACH | libc::EHOSTUNREACH | libc::ENONET => Cause::NoRoute,
            libc::ECONNRESET | libc::EPIPE => Cause::Reset,
            libc::ETIMEDOUT => Cause::Timeout,
            e => Cause::Os(e),
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Timeout => f.write_str("timeout"),
            Cause::Refused => f.write_str("connection refused"),
            Cause::NoRoute => f.write_str("no route"),
            Cause::Reset => f.write_str("connection reset"),
            Cause::Os(errno) => write!(f, "{}", std::io::Error::from_raw_os_error(*errno)),
            Cause::Closed => f.write_str("connection closed before a complete response"),
            Cause::Redirect { status, reason } => {
                write!(f, "HTTP {status} {reason}: captive portal?")
            }
            // 200 for a 204 URL is the other thing captive portals answer: their login page.
            Cause::Status {
                status: 200,
                reason,
                expected: 204,
            } => write!(f, "HTTP 200 {reason} instead of 204: captive portal?"),
            Cause::Status {
                status,
                reason,
                expected,
            } => write!(f, "HTTP {status} {reason}, expected {expected}"),
            Cause::Body { status, got } => write!(
                f,
                "HTTP {status} but body does not start with the expected text (it starts \"{got}\")"
            ),
            Cause::BadHttp(e) => write!(f, "bad HTTP response: {e}"),
            Cause::Rcode(rcode) => write!(f, "DNS {rcode}"),
            Cause::Truncated => f.write_str("truncated answer"),
            Cause::NoRecord(t) => write!(f, "no {t} record"),
            Cause::BadDns(e) => write!(f, "bad DNS answer: {e}"),
        }
    }
}

/// Which step of a check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Looking up the host name of an `http` target through the WAN's `dns` servers.
    Resolve,
    /// Opening the socket, connecting, sending.
    Connect,
    /// Waiting for and judging the answer.
    Answer,
}

/// A failed check: the cause and the step it failed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub step: Step,
    pub cause: Cause,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Step::Resolve => write!(f, "resolving the host name: {}", self.cause),
            Step::Connect | Step::Answer => write!(f, "{}", self.cause),
        }
    }
}

/// Round-trip times a check measured, from its start; `None` where it did not get there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rtt {
    /// TCP handshake completed (tcp and http checks).
    pub connect: Option<Duration>,
    /// First byte of the HTTP response.
    pub first_byte: Option<Duration>,
    /// The DNS answer (dns checks, and the lookup of an http check by name).
    pub answer: Option<Duration>,
}

impl Rtt {
    /// The one time that compares with an ICMP echo's: one network round trip. The TCP
    /// handshake for tcp and http checks (the time to the first byte includes the server's
    /// work), the answer for DNS.
    pub fn round_trip(&self) -> Option<Duration> {
        self.connect.or(self.answer)
    }
}

/// An address learned from a DNS answer, for the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub addr: IpAddr,
    /// The smallest TTL of the records that led to it, in seconds.
    pub ttl_s: u32,
}

/// What a finished check reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result<(), Failed>,
    pub rtt: Rtt,
    /// The address a DNS check (or an http check's lookup) got, if it got one.
    pub resolved: Option<Resolved>,
}

impl Outcome {
    pub fn passed(rtt: Rtt) -> Outcome {
        Outcome {
            result: Ok(()),
            rtt,
            resolved: None,
        }
    }

    pub fn failed(step: Step, cause: Cause, rtt: Rtt) -> Outcome {
        Outcome {
            result: Err(Failed { step, cause }),
            rtt,
            resolved: None,
        }
    }

    pub fn is_pass(&self) -> bool {
        self.result.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_read_as_words() {
        let reason = Text::new(b"Found");
        let cases: [(Cause, &str); 9] = [
            (Cause::Timeout, "timeout"),
            (Cause::from_errno(libc::ECONNREFUSED), "connection refused"),
            (Cause::from_errno(libc::EHOSTUNREACH), "no route"),
            (
                Cause::Redirect {
                    status: 302,
                    reason: reason.clone(),
                },
                "HTTP 302 Found: captive portal?",
            ),
            (
                Cause::Status {
                    status: 200,
                    reason: Text::new(b"OK"),
                    expected: 204,
                },
                "HTTP 200 OK instead of 204: captive portal?",
            ),
            (
                Cause::Status {
                    status: 503,
                    reason: Text::new(b"Service Unavailable"),
                    expected: 204,
                },
                "HTTP 503 Service Unavailable, expected 204",
            ),
            (Cause::Rcode(dns::Rcode::SERVFAIL), "DNS SERVFAIL"),
            (Cause::Rcode(dns::Rcode::NXDOMAIN), "DNS NXDOMAIN"),
            (Cause::NoRecord(dns::RecordType::A), "no A record"),
        ];
        for (cause, words) in cases {
            assert_eq!(cause.to_string(), words);
        }
        let failed = Failed {
            step: Step::Resolve,
            cause: Cause::Truncated,
        };
        assert_eq!(
            failed.to_string(),
            "resolving the host name: truncated answer"
        );
    }

    #[test]
    fn text_from_the_network_is_short_and_printable() {
        assert_eq!(Text::new(b"OK").as_str(), "OK");
        assert_eq!(Text::new(b"a\r\n\x1b[31m\xff").as_str(), "a???[31m?");
        assert_eq!(Text::new(&[b'x'; 1000]).as_str().len(), TEXT_LEN);
    }
}

//! HTTP/1.1 as far as a read-only listener needs it (RFC 9112): the head of one request,
//! read from bytes that arrive in any pieces, and the bytes of one answer. Pure.
//!
//! Only the request line matters: `GET /metrics HTTP/1.1`. Header fields are skipped but
//! still read to the blank line that ends them, so that the client has sent its whole
//! request before the answer and the close (closing on unread bytes makes the kernel send
//! a reset, and a client may lose the answer to it). A request body is never read: `GET`
//! and `HEAD` have none that means anything, and everything else is refused.
//!
//! Hostile input costs little: the head is at most [`MAX_HEAD_LEN`] bytes and the request
//! line at most [`MAX_REQUEST_LINE_LEN`]; anything that is not a well-formed request line
//! is an [`Error`] with the status code to answer it with; nothing here panics.

/// Most bytes of a request head (request line and header fields) kept.
pub const MAX_HEAD_LEN: usize = 8 * 1024;
/// Longest request line.
pub const MAX_REQUEST_LINE_LEN: usize = 1024;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub resource: Resource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    /// `GET` without the body (RFC 9110 §9.3.2: every general-purpose server supports it).
    Head,
    /// Any other well-formed method: answered 405.
    Other,
}

/// The resources the listener serves (the path; a query string is ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `/`: the status page.
    Page,
    /// `/metrics`: the Prometheus text exposition.
    Metrics,
    /// `/status`: the `status --json` document.
    Status,
    /// Anything else: answered 404.
    Unknown,
}

/// Why bytes are not a request this listener answers; each has its status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Not `METHOD SP TARGET SP HTTP/1.x`, or a target that is not a path.
    Malformed,
    /// A request line over [`MAX_REQUEST_LINE_LEN`].
    LineTooLong,
    /// A head over [`MAX_HEAD_LEN`] without its end.
    HeadTooLarge,
    /// `HTTP/2.0` and the like in the request line.
    Version,
}

/// The status codes the listener answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    UriTooLong,
    HeaderFieldsTooLarge,
    VersionNotSupported,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::UriTooLong => 414,
            Status::HeaderFieldsTooLarge => 431,
            Status::VersionNotSupported => 505,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::UriTooLong => "URI Too Long",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::VersionNotSupported => "HTTP Version Not Supported",
        }
    }
}

impl Error {
    /// The status code that answers the error.
    pub fn status(self) -> Status {
        match self {
            Error::Malformed => Status::BadRequest,
            Error::LineTooLong => Status::UriTooLong,
            Error::HeadTooLarge => Status::HeaderFieldsTooLarge,
            Error::Version => Status::VersionNotSupported,
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::Malformed => "malformed request line",
            Error::LineTooLong => "request line too long",
            Error::HeadTooLarge => "request head too large",
            Error::Version => "not HTTP/1.x",
        })
    }
}

/// Reads one request head from bytes that arrive in pieces.
#[derive(Debug, Default)]
pub struct Reader {
    head: Vec<u8>,
    /// Where the line not yet ended starts.
    line_at: usize,
    /// The request line (without its line end) in `head`, once it has ended.
    request_line: Option<(usize, usize)>,
    /// The request's outcome, once the head is complete or cannot become a request.
    outcome: Option<Result<Request, Error>>,
}

impl Reader {
    pub fn new() -> Reader {
        Reader::default()
    }

    /// How many more bytes the head may take (0 once it is decided).
    pub fn room(&self) -> usize {
        if self.outcome.is_some() {
            return 0;
        }
        MAX_HEAD_LEN - self.head.len()
    }

    /// Takes `input` (the bytes after the head, if any, are ignored). Returns the request
    /// once its head is complete, or why there is none; `None` while more is needed. Once
    /// decided, every call returns the same.
    pub fn push(&mut self, input: &[u8]) -> Option<Result<Request, Error>> {
        if self.outcome.is_none() {
            self.outcome = self.take(input);
        }
        self.outcome
    }

    fn take(&mut self, input: &[u8]) -> Option<Result<Request, Error>> {
        let fits = input.len().min(self.room());
        self.head.extend_from_slice(&input[..fits]);
        while let Some(len) = self.head[self.line_at..].iter().position(|&b| b == b'\n') {
            let start = self.line_at;
            self.line_at += len + 1;
            let stop = match self.head[start..start + len] {
                [.., b'\r'] => start + len - 1,
                _ => start + len,
            };
            match self.request_line {
                // RFC 9112 §2.2: empty lines before the request line are ignored
                None if stop == start => {}
                None if stop - start > MAX_REQUEST_LINE_LEN => {
                    return Some(Err(Error::LineTooLong))
                }
                None => self.request_line = Some((start, stop)),
                // the blank line after the header fields: the head is complete
                Some((a, b)) if stop == start => return Some(parse_request_line(&self.head[a..b])),
                // a header field: not needed
                Some(_) => {}
            }
        }
        // a request line too long even without the CR that may end it: decided already
        let unended = self.head.len() - self.line_at;
        if self.request_line.is_none() && unended > MAX_REQUEST_LINE_LEN + 1 {
            return Some(Err(Error::LineTooLong));
        }
        (self.head.len() >= MAX_HEAD_LEN).then_some(Err(Error::HeadTooLarge))
    }
}

/// `METHOD SP TARGET SP HTTP/1.x`, single spaces, nothing else on the line.
pub fn parse_request_line(line: &[u8]) -> Result<Request, Error> {
    if line.len() > MAX_REQUEST_LINE_LEN {
        return Err(Error::LineTooLong);
    }
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed);
    };
    let method = match method {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        m if !m.is_empty() && m.iter().all(|&b| is_tchar(b)) => Method::Other,
        _ => return Err(Error::Malformed),
    };
    check_version(version)?;
    let resource = resource(target)?;
    Ok(Request { method, resource })
}

/// `HTTP/1.0` and `HTTP/1.1` are answered; another well-formed version is 505.
fn check_version(version: &[u8]) -> Result<(), Error> {
    match version {
        b"HTTP/1.1" | b"HTTP/1.0" => Ok(()),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(Error::Version)
        }
        _ => Err(Error::Malformed),
    }
}

/// The resource a target names: origin form (`/metrics?x`), or absolute form
/// (`http://gw:9567/metrics`, which a server must accept, RFC 9112 §3.2.2).
fn resource(target: &[u8]) -> Result<Resource, Error> {
    if target.is_empty() || !target.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return Err(Error::Malformed);
    }
    let path = match strip_prefix_ignore_case(target, b"http://") {
        // the path starts at the first '/' after the authority; none is "/"
        Some(rest) => rest
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .map_or(&b"/"[..], |i| &rest[i..]),
        None if target[0] == b'/' => target,
        // asterisk form (OPTIONS *) and authority form (CONNECT): nothing here
        None if target == b"*" => return Ok(Resource::Unknown),
        None => return Err(Error::Malformed),
    };
    let path = path.split(|&b| b == b'?').next().unwrap_or_default();
    Ok(match path {
        b"/" | b"" => Resource::Page,
        b"/metrics" => Resource::Metrics,
        b"/status" => Resource::Status,
        _ => Resource::Unknown,
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Appends a complete answer: status line, headers, and the body unless `head_only`
/// (`Content-Length` is the body's either way, as RFC 9110 §9.3.2 wants of `HEAD`). Every
/// answer closes the connection; a 405 says which methods are allowed.
pub fn write_response(
    status: Status,
    content_type: &str,
    extra_headers: &str,
    body: &[u8],
    head_only: bool,
    out: &mut Vec<u8>,
) {
    let allow = if status == Status::MethodNotAllowed {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n{allow}{extra_headers}\r\n",
        status.code(),
        status.reason(),
        body.len(),
    );
    out.extend_from_slice(head.as_bytes());
    if !head_only {
        out.extend_from_slice(body);
    }
}

/// Appends a short plain-text answer for an error status.
pub fn write_error(status: Status, head_only: bool, out: &mut Vec<u8>) {
    let body = format!("{} {}\n", status.code(), status.reason());
    let text = "text/plain; charset=utf-8";
    write_response(status, text, "", body.as_bytes(), head_only, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(resource: Resource) -> Result<Request, Error> {
        Ok(Request {
            method: Method::Get,
            resource,
        })
    }

    /// Feeds `bytes` in pieces of `chunk`; the outcome after the last.
    fn read(bytes: &[u8], chunk: usize) -> Option<Result<Request, Error>> {
        let mut r = Reader::new();
        let mut out = None;
        for piece in bytes.chunks(chunk.max(1)) {
            out = r.push(piece);
        }
        out
    }

    #[test]
    fn what_prometheus_chromium_and_curl_send() {
        let prometheus = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9567\r\n\
            User-Agent: Prometheus/2.42.0\r\nAccept: application/openmetrics-text;version=1.0.0,\
            text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\nAccept-Encoding: gzip\r\n\
            X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n";
        let chromium = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:9567\r\nConnection: keep-alive\r\n\
            Upgrade-Insecure-Requests: 1\r\nAccept: text/html\r\n\r\n";
        let curl =
            b"HEAD /status HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
        for chunk in [1, 2, 7, 4096] {
            assert_eq!(read(prometheus, chunk), Some(get(Resource::Metrics)));
            assert_eq!(read(chromium, chunk), Some(get(Resource::Page)));
            let head = Request {
                method: Method::Head,
                resource: Resource::Status,
            };
            assert_eq!(read(curl, chunk), Some(Ok(head)));
        }
    }

    #[test]
    fn targets_and_versions() {
        let table: &[(&[u8], Result<Request, Error>)] = &[
            (b"GET /metrics?name[]=up HTTP/1.1", get(Resource::Metrics)),
            (b"GET /?refresh HTTP/1.0", get(Resource::Page)),
            (b"GET http://gw:9567/status HTTP/1.1", get(Resource::Status)),
            (b"GET HTTP://gw:9567 HTTP/1.1", get(Resource::Page)),
            (b"GET /metrics/ HTTP/1.1", get(Resource::Unknown)),
            (b"GET /../etc/passwd HTTP/1.1", get(Resource::Unknown)),
            (b"GET /METRICS HTTP/1.1", get(Resource::Unknown)),
            (
                b"POST /metrics HTTP/1.1",
                Ok(Request {
                    method: Method::Other,
                    resource: Resource::Metrics,
                }),
            ),
            (
                b"OPTIONS * HTTP/1.1",
                Ok(Request {
                    method: Method::Other,
                    resource: Resource::Unknown,
                }),
            ),
            (b"GET /metrics HTTP/2.0", Err(Error::Version)),
            (b"GET /metrics HTTP/1.1 ", Err(Error::Malformed)),
            (b"GET  /metrics HTTP/1.1", Err(Error::Malformed)),
            (b"GET /metrics", Err(Error::Malformed)),
            (b"GET metrics HTTP/1.1", Err(Error::Malformed)),
            (b"GET /met rics HTTP/1.1", Err(Error::Malformed)),
            (b"GET /m\x00 HTTP/1.1", Err(Error::Malformed)),
            (b"GET /\xc3\xa9 HTTP/1.1", Err(Error::Malformed)),
            // methods are case-sensitive: a method this listener does not know
            (
                b"get /metrics HTTP/1.1",
                Ok(Request {
                    method: Method::Other,
                    resource: Resource::Metrics,
                }),
            ),
            (b"G(T / HTTP/1.1", Err(Error::Malformed)),
            (b"GET / http/1.1", Err(Error::Malformed)),
            (b"GET / HTTP/1.1\t", Err(Error::Malformed)),
            (b"", Err(Error::Malformed)),
        ];
        for (line, expected) in table {
            let got = parse_request_line(line);
            assert_eq!(got, *expected, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn empty_lines_before_the_request_and_bare_line_feeds() {
        assert_eq!(
            read(b"\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n", 3),
            Some(get(Resource::Metrics))
        );
        assert_eq!(
            read(b"GET /status HTTP/1.0\nHost: x\n\n", 1),
            Some(get(Resource::Status))
        );
        // the request line alone is not a complete head
        assert_eq!(read(b"GET / HTTP/1.1\r\nHost: x\r\n", 5), None);
    }

    #[test]
    fn hostile_heads_are_bounded() {
        // a request line that never ends
        let endless = vec![b'A'; 100_000];
        assert_eq!(read(&endless, 512), Some(Err(Error::LineTooLong)));
        let long_path = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_REQUEST_LINE_LEN));
        assert_eq!(
            read(long_path.as_bytes(), 100),
            Some(Err(Error::LineTooLong))
        );
        // header fields that never end
        let mut fields = b"GET / HTTP/1.1\r\n".to_vec();
        fields.extend(b"X-Pad: 0123456789012345678901234567890123456789\r\n".repeat(500));
        assert_eq!(read(&fields, 1000), Some(Err(Error::HeadTooLarge)));
        // endless blank lines
        assert_eq!(
            read(&b"\r\n".repeat(10_000), 64),
            Some(Err(Error::HeadTooLarge))
        );
        // binary noise: decided early, and the reader keeps no more than its limit
        let noise: Vec<u8> = (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let mut r = Reader::new();
        let mut out = None;
        for piece in noise.chunks(333) {
            out = r.push(piece);
            assert!(r.head.len() <= MAX_HEAD_LEN);
        }
        assert!(matches!(out, Some(Err(_))), "{out:?}");
    }

    #[test]
    fn the_outcome_does_not_depend_on_the_split() {
        let longest = format!("GET /{} HTTP/1.1", "a".repeat(MAX_REQUEST_LINE_LEN - 14));
        assert_eq!(longest.len(), MAX_REQUEST_LINE_LEN);
        let heads = [
            format!("{longest}\r\n\r\n"),
            format!("{longest}x\r\n\r\n"),
            format!("{longest}\n\n"),
        ];
        for head in &heads {
            let whole = read(head.as_bytes(), head.len());
            for chunk in 1..40 {
                assert_eq!(read(head.as_bytes(), chunk), whole, "{chunk}");
            }
        }
        assert_eq!(read(heads[0].as_bytes(), 1), Some(get(Resource::Unknown)));
        assert_eq!(read(heads[1].as_bytes(), 1), Some(Err(Error::LineTooLong)));
    }

    #[test]
    fn a_decided_reader_stays_decided() {
        let mut r = Reader::new();
        assert_eq!(r.push(b"BAD\r\n\r\n"), Some(Err(Error::Malformed)));
        assert_eq!(
            r.push(b"GET / HTTP/1.1\r\n\r\n"),
            Some(Err(Error::Malformed))
        );
        assert_eq!(r.room(), 0);
        let mut r = Reader::new();
        assert_eq!(
            r.push(b"GET / HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n"),
            Some(get(Resource::Page))
        );
    }

    #[test]
    fn error_statuses() {
        let codes: Vec<u16> = [
            Error::Malformed,
            Error::LineTooLong,
            Error::HeadTooLarge,
            Error::Version,
        ]
        .iter()
        .map(|e| e.status().code())
        .collect();
        assert_eq!(codes, [400, 414, 431, 505]);
    }

    #[test]
    fn answers() {
        let mut out = Vec::new();
        write_response(Status::Ok, "text/plain", "", b"hi\n", false, &mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\
              Cache-Control: no-store\r\nConnection: close\r\n\r\nhi\n"
        );
        out.clear();
        write_error(Status::MethodNotAllowed, true, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(text.contains("\r\nAllow: GET, HEAD\r\n"));
        assert!(text.contains("\r\nContent-Length: 23\r\n"));
        assert!(text.ends_with("\r\n\r\n"), "HEAD: no body");
    }
}

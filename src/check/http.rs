//! HTTP/1.1 on the wire (RFC 9112): the `GET` an `http` check sends, and a checked view of
//! the response head plus the start of its body.
//!
//! Every byte of a response comes from the internet, often from a captive portal or a
//! broken proxy. [`Response::new_checked`] validates the whole head once (status line,
//! header syntax, at most [`MAX_HEADERS`] fields); [`ResponseRepr`] then holds the fields a
//! check judges by: status, reason, `Content-Length`, `Location`, `Transfer-Encoding`, and
//! the body bytes received so far. Nothing here allocates.
//!
//! Lines may end in CRLF or a bare LF (RFC 9112 §2.2 lets a recipient accept the latter).
//! Obsolete line folding is refused, as §5.2 allows. Interim `1xx` responses in front of the
//! final one are skipped ([`final_response`]).

use core::fmt;

/// The `User-Agent` product token, so a server operator can tell what is asking.
pub const USER_AGENT: &str = concat!("wanfailover/", env!("CARGO_PKG_VERSION"));
/// Most header fields looked at in one response.
pub const MAX_HEADERS: usize = 64;
/// Most interim (`1xx`) responses skipped in front of the final one.
const MAX_INTERIM: usize = 4;

/// Why bytes are not (yet) a usable response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The head is not complete: read more (at the end of the stream it is an error).
    Incomplete,
    /// The first line is not `HTTP/1.x NNN reason`.
    BadStatusLine,
    /// An HTTP version other than 1.x.
    BadVersion,
    /// A header line that is not `name: value`, or a folded one.
    BadHeader,
    /// More than [`MAX_HEADERS`] header fields, or interim responses.
    TooManyHeaders,
    /// A `Content-Length` that is not a number, or two that disagree.
    BadContentLength,
    /// Chunked framing that does not parse.
    BadChunk,
    /// A request field with a byte that would end the line or the field early.
    BadField,
    /// The output buffer is too small for `emit`.
    BufferTooSmall,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Incomplete => "incomplete response head",
            Error::BadStatusLine => "bad status line",
            Error::BadVersion => "not HTTP/1.x",
            Error::BadHeader => "bad header line",
            Error::TooManyHeaders => "too many header lines",
            Error::BadContentLength => "bad Content-Length",
            Error::BadChunk => "bad chunked encoding",
            Error::BadField => "a request field contains a forbidden byte",
            Error::BufferTooSmall => "buffer too small",
        })
    }
}

/// One line of `buf` from `at`: its content (without CR LF or LF) and where the next line
/// starts; `None` if no line end is in the buffer yet.
fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(at..)?;
    let nl = rest.iter().position(|&b| b == b'\n')?;
    let content = &rest[..nl];
    let content = content.strip_suffix(b"\r").unwrap_or(content);
    Some((content, at + nl + 1))
}

/// `tchar` of RFC 9110 §5.6.2: the bytes of a header name.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Optional whitespace around a header value removed.
fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| b != b' ' && b != b'\t');
    let end = v.iter().rposition(|&b| b != b' ' && b != b'\t');
    match (start, end) {
        (Some(s), Some(e)) => &v[s..=e],
        _ => &[],
    }
}

/// Parsed status line: minor version, status code, reason range.
struct StatusLine {
    minor: u8,
    status: u16,
    reason: (usize, usize),
}

fn status_line(l: &[u8]) -> Result<StatusLine, Error> {
    let version = l.get(..8).ok_or(Error::BadStatusLine)?;
    if !version.starts_with(b"HTTP/") || version[6] != b'.' {
        return Err(Error::BadStatusLine);
    }
    let (major, minor) = (version[5], version[7]);
    if !major.is_ascii_digit() || !minor.is_ascii_digit() {
        return Err(Error::BadStatusLine);
    }
    if major != b'1' {
        return Err(Error::BadVersion);
    }
    let code = l.get(8..12).ok_or(Error::BadStatusLine)?;
    let digits = &code[1..];
    if code[0] != b' ' || !digits.iter().all(u8::is_ascii_digit) || digits[0] == b'0' {
        return Err(Error::BadStatusLine);
    }
    let status = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    // "HTTP/1.1 204" without the space and reason is common enough to accept.
    let reason = match l.get(12) {
        None => (12, 12),
        Some(b' ') => (13, l.len()),
        Some(_) => return Err(Error::BadStatusLine),
    };
    let bad_reason = l[reason.0..reason.1]
        .iter()
        .any(|&b| b.is_ascii_control() && b != b'\t');
    if bad_reason {
        return Err(Error::BadStatusLine);
    }
    Ok(StatusLine {
        minor: minor - b'0',
        status,
        reason,
    })
}

/// A header line split into a name and a trimmed value.
fn header(l: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    let colon = l.iter().position(|&b| b == b':').ok_or(Error::BadHeader)?;
    let (name, value) = (&l[..colon], &l[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
        return Err(Error::BadHeader);
    }
    if value.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
        return Err(Error::BadHeader);
    }
    Ok((name, trim_ows(value)))
}

/// A checked view of a response head and the body bytes after it.
#[derive(Debug, Clone, Copy)]
pub struct Response<T: AsRef<[u8]>> {
    buffer: T,
    minor: u8,
    status: u16,
    reason: (usize, usize),
    /// Where the header lines start.
    headers_at: usize,
    /// Where the body starts (after the empty line).
    body_at: usize,
}

impl<T: AsRef<[u8]>> Response<T> {
    /// Checks the status line and every header line. [`Error::Incomplete`] means the head
    /// has not all arrived; a bad status line is reported as soon as its line is complete,
    /// so garbage fails without waiting for more.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let buf = buffer.as_ref();
        // Not even the start of "HTTP/": fail now rather than wait for a line end.
        let start = &buf[..buf.len().min(5)];
        if !b"HTTP/".starts_with(start) {
            return Err(Error::BadStatusLine);
        }
        let (first, mut at) = line(buf, 0).ok_or(Error::Incomplete)?;
        let sl = status_line(first)?;
        let headers_at = at;
        let mut count = 0;
        loop {
            let (l, next) = line(buf, at).ok_or(Error::Incomplete)?;
            if l.is_empty() {
                at = next;
                break;
            }
            if l[0] == b' ' || l[0] == b'\t' {
                return Err(Error::BadHeader); // obsolete line folding
            }
            header(l)?;
            count += 1;
            if count > MAX_HEADERS {
                return Err(Error::TooManyHeaders);
            }
            at = next;
        }
        Ok(Response {
            minor: sl.minor,
            status: sl.status,
            reason: sl.reason,
            headers_at,
            body_at: at,
            buffer,
        })
    }

    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub fn minor_version(&self) -> u8 {
        self.minor
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn reason(&self) -> &[u8] {
        &self.buffer.as_ref()[self.reason.0..self.reason.1]
    }

    /// The header fields in order, names as sent, values trimmed.
    pub fn headers(&self) -> Headers<'_> {
        let buf = self.buffer.as_ref();
        Headers {
            buf: &buf[..self.body_at],
            at: self.headers_at,
        }
    }

    /// Length of the head including its final empty line.
    pub fn head_len(&self) -> usize {
        self.body_at
    }

    /// The bytes after the head, as received (chunk framing included).
    pub fn body(&self) -> &[u8] {
        &self.buffer.as_ref()[self.body_at..]
    }
}

/// The header fields of a checked [`Response`].
pub struct Headers<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Headers<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (l, next) = line(self.buf, self.at)?;
        if l.is_empty() {
            return None;
        }
        self.at = next;
        header(l).ok() // checked in new_checked: always Ok
    }
}

/// The final response in `buf`: interim `1xx` responses in front of it (`100 Continue`,
/// `103 Early Hints`) are skipped. `101 Switching Protocols` was not asked for and is
/// returned as final, to be judged a wrong status.
pub fn final_response(buf: &[u8]) -> Result<Response<&[u8]>, Error> {
    let mut at = 0;
    for _ in 0..=MAX_INTERIM {
        let rest = buf.get(at..).unwrap_or(&[]);
        let r = Response::new_checked(rest)?;
        if !(100..200).contains(&r.status()) || r.status() == 101 {
            return Ok(r);
        }
        at += r.head_len();
    }
    Err(Error::TooManyHeaders)
}

/// What a check needs from a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseRepr<'a> {
    pub minor: u8,
    pub status: u16,
    pub reason: &'a [u8],
    pub content_length: Option<u64>,
    pub location: Option<&'a [u8]>,
    /// `Transfer-Encoding` ends in `chunked`.
    pub chunked: bool,
    /// The body bytes received so far, as sent.
    pub body: &'a [u8],
}

impl<'a> ResponseRepr<'a> {
    pub fn parse(r: &Response<&'a [u8]>) -> Result<ResponseRepr<'a>, Error> {
        let buf: &'a [u8] = r.buffer;
        let mut repr = ResponseRepr {
            minor: r.minor,
            status: r.status,
            reason: &buf[r.reason.0..r.reason.1],
            content_length: None,
            location: None,
            chunked: false,
            body: &buf[r.body_at..],
        };
        let headers = Headers {
            buf: &buf[..r.body_at],
            at: r.headers_at,
        };
        for (name, value) in headers {
            if name.eq_ignore_ascii_case(b"content-length") {
                let n = content_length(value)?;
                if repr.content_length.is_some_and(|old| old != n) {
                    return Err(Error::BadContentLength);
                }
                repr.content_length = Some(n);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                let last = value.rsplit(|&b| b == b',').next().unwrap_or(&[]);
                repr.chunked = trim_ows(last).eq_ignore_ascii_case(b"chunked");
            } else if name.eq_ignore_ascii_case(b"location") {
                repr.location = Some(value);
            }
        }
        Ok(repr)
    }

    /// Whether this response has a body at all (RFC 9112 §6.3: not for 1xx, 204, 304).
    fn has_body(&self) -> bool {
        !(self.status < 200 || self.status == 204 || self.status == 304)
    }

    /// Copies the start of the body, framing removed, into `out`; returns how many bytes
    /// and whether that is the whole body (`false`: more may follow).
    pub fn decoded_body(&self, out: &mut [u8]) -> Result<(usize, bool), Error> {
        if !self.has_body() {
            return Ok((0, true));
        }
        if self.chunked {
            return dechunk(self.body, out);
        }
        let (body, complete) = match self.content_length {
            Some(n) => {
                let len = usize::try_from(n).unwrap_or(usize::MAX);
                (
                    &self.body[..self.body.len().min(len)],
                    self.body.len() >= len,
                )
            }
            None => (self.body, false), // ends when the server closes
        };
        let n = body.len().min(out.len());
        out[..n].copy_from_slice(&body[..n]);
        Ok((n, complete))
    }

    pub fn buffer_len(&self) -> usize {
        let mut n = b"HTTP/1.x NNN \r\n".len() + self.reason.len();
        if let Some(cl) = self.content_length {
            n += b"Content-Length: \r\n".len() + cl.to_string().len();
        }
        if let Some(loc) = self.location {
            n += b"Location: \r\n".len() + loc.len();
        }
        if self.chunked {
            n += b"Transfer-Encoding: chunked\r\n".len();
        }
        n + 2 + self.body.len()
    }

    /// Writes this response (for tests and the fuzz round trip); returns the length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer { buf, at: 0 };
        w.put(b"HTTP/1.")?;
        w.put(&[b'0' + self.minor.min(9), b' '])?;
        w.put(format!("{:03} ", self.status.min(999)).as_bytes())?;
        w.put(self.reason)?;
        w.put(b"\r\n")?;
        if let Some(cl) = self.content_length {
            w.put(format!("Content-Length: {cl}\r\n").as_bytes())?;
        }
        if let Some(loc) = self.location {
            w.put(b"Location: ")?;
            w.put(loc)?;
            w.put(b"\r\n")?;
        }
        if self.chunked {
            w.put(b"Transfer-Encoding: chunked\r\n")?;
        }
        w.put(b"\r\n")?;
        w.put(self.body)?;
        Ok(w.at)
    }
}

fn content_length(v: &[u8]) -> Result<u64, Error> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return Err(Error::BadContentLength);
    }
    Ok(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// Decodes chunked framing from `body` into `out` until `out` is full, the data runs out
/// or the last chunk; returns the bytes written and whether the last chunk was seen.
fn dechunk(body: &[u8], out: &mut [u8]) -> Result<(usize, bool), Error> {
    let (mut at, mut n) = (0, 0);
    while n < out.len() {
        let Some((size_line, data_at)) = line(body, at) else {
            return Ok((n, false));
        };
        let size = chunk_size(size_line)?;
        if size == 0 {
            return Ok((n, true));
        }
        let data = &body[data_at..];
        let take = data.len().min(size).min(out.len() - n);
        out[n..n + take].copy_from_slice(&data[..take]);
        n += take;
        if data.len() < size {
            return Ok((n, false));
        }
        // the chunk's data ends in CRLF (or LF)
        let after = &data[size..];
        at = data_at
            + size
            + match after {
                [b'\r', b'\n', ..] => 2,
                [b'\n', ..] => 1,
                [] | [b'\r'] => return Ok((n, false)),
                _ => return Err(Error::BadChunk),
            };
    }
    Ok((n, false))
}

/// The size of a chunk from its line: hex digits, then an optional `;extension`.
fn chunk_size(l: &[u8]) -> Result<usize, Error> {
    let digits = l.split(|&b| b == b';').next().unwrap_or(&[]);
    let digits = trim_ows(digits);
    if digits.is_empty() || digits.len() > 8 {
        return Err(Error::BadChunk);
    }
    digits.iter().try_fold(0usize, |n, &d| {
        let v = char::from(d).to_digit(16).ok_or(Error::BadChunk)?;
        Ok(n * 16 + v as usize)
    })
}

/// Appends to a fixed buffer.
struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self.at + bytes.len();
        let dst = self
            .buf
            .get_mut(self.at..end)
            .ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        self.at = end;
        Ok(())
    }
}

/// The request of an `http` check: `GET` with `Host`, `Connection: close`, no body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRepr<'a> {
    /// The `Host` value: the URL's host, with the port when it is not 80.
    pub host: &'a str,
    /// The origin-form target: path and query, starting with `/`.
    pub path: &'a str,
}

impl RequestRepr<'_> {
    const PARTS: [&'static [u8]; 5] = [
        b"GET ",
        b" HTTP/1.1\r\nHost: ",
        b"\r\nUser-Agent: ",
        USER_AGENT.as_bytes(),
        // a proxy must not answer from its cache; the server closes after one response
        b"\r\nAccept: */*\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
    ];

    pub fn buffer_len(&self) -> usize {
        Self::PARTS.iter().map(|p| p.len()).sum::<usize>() + self.host.len() + self.path.len()
    }

    /// Writes the request; returns its length. A host or path with a byte that could end
    /// the field (space, control, non-ASCII) is refused, so no input can add a header.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let visible = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if !visible(self.host) || !visible(self.path) || !self.path.starts_with('/') {
            return Err(Error::BadField);
        }
        let [get, version, agent, ua, tail] = Self::PARTS;
        let mut w = Writer { buf, at: 0 };
        for part in [get, self.path.as_bytes(), version, self.host.as_bytes()] {
            w.put(part)?;
        }
        for part in [agent, ua, tail] {
            w.put(part)?;
        }
        Ok(w.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(bytes: &[u8]) -> Result<ResponseRepr<'_>, Error> {
        ResponseRepr::parse(&final_response(bytes)?)
    }

    fn body(bytes: &[u8]) -> (Vec<u8>, bool) {
        let mut out = [0u8; 64];
        let (n, complete) = repr(bytes).unwrap().decoded_body(&mut out).unwrap();
        (out[..n].to_vec(), complete)
    }

    #[test]
    fn request_bytes() {
        let req = RequestRepr {
            host: "203.0.113.80",
            path: "/generate_204?x=1",
        };
        let mut buf = [0u8; 256];
        let n = req.emit(&mut buf).unwrap();
        assert_eq!(n, req.buffer_len());
        let want = format!(
            "GET /generate_204?x=1 HTTP/1.1\r\nHost: 203.0.113.80\r\nUser-Agent: wanfailover/{}\r\n\
             Accept: */*\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), want);
        assert_eq!(req.emit(&mut buf[..n - 1]), Err(Error::BufferTooSmall));
    }

    #[test]
    fn request_fields_cannot_inject_headers() {
        let mut buf = [0u8; 256];
        for (host, path) in [
            ("a\r\nX-Evil: 1", "/"),
            ("a", "/ HTTP/1.0\r\nX: y"),
            ("a", "/\n"),
            ("a", "relative"),
            ("", "/"),
            ("a", "/é"),
        ] {
            let req = RequestRepr { host, path };
            assert_eq!(
                req.emit(&mut buf),
                Err(Error::BadField),
                "{host:?} {path:?}"
            );
        }
    }

    #[test]
    fn status_line_and_headers() {
        let raw = b"HTTP/1.1 302 Found\r\nLocation: http://portal.example/login\r\n\
                    content-length: 5\r\nX-Other:  spaced value \t\r\n\r\nhello";
        let r = final_response(raw).unwrap();
        assert_eq!((r.minor_version(), r.status()), (1, 302));
        assert_eq!(r.reason(), b"Found");
        let headers: Vec<_> = r.headers().collect();
        assert_eq!(headers.len(), 3);
        assert_eq!(headers[2], (&b"X-Other"[..], &b"spaced value"[..]));
        let repr = ResponseRepr::parse(&r).unwrap();
        assert_eq!(repr.location, Some(&b"http://portal.example/login"[..]));
        assert_eq!(repr.content_length, Some(5));
        assert_eq!(repr.body, b"hello");
        assert_eq!(body(raw), (b"hello".to_vec(), true));
    }

    #[test]
    fn lenient_where_servers_are_sloppy() {
        // bare LF, no reason phrase, HTTP/1.0
        let r = repr(b"HTTP/1.0 204\n\n").unwrap();
        assert_eq!((r.minor, r.status, r.reason), (0, 204, &b""[..]));
        let r = repr(b"HTTP/1.1 200 \r\n\r\n").unwrap();
        assert_eq!(r.reason, b"");
    }

    #[test]
    fn incomplete_until_the_empty_line() {
        let full = b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n";
        for cut in 0..full.len() {
            let got = final_response(&full[..cut]).map(|r| r.status());
            assert_eq!(got, Err(Error::Incomplete), "cut at {cut}");
        }
        assert_eq!(repr(full).unwrap().status, 204);
    }

    #[test]
    fn garbage_fails_without_waiting_for_a_line_end() {
        assert_eq!(
            final_response(b"SSH-2.0-OpenSSH").map(|r| r.status()),
            Err(Error::BadStatusLine)
        );
        assert_eq!(
            final_response(b"<html>").map(|r| r.status()),
            Err(Error::BadStatusLine)
        );
    }

    #[test]
    fn hostile_heads_are_errors() {
        let cases: [(&[u8], Error); 13] = [
            (b"HTTP/2.0 200 OK\r\n\r\n", Error::BadVersion),
            (b"HTTP/1.1 20 OK\r\n\r\n", Error::BadStatusLine),
            (b"HTTP/1.1 2000 OK\r\n\r\n", Error::BadStatusLine),
            (b"HTTP/1.1 099 OK\r\n\r\n", Error::BadStatusLine),
            (b"HTTP/1.1 +20 OK\r\n\r\n", Error::BadStatusLine),
            (b"HTTP/1.1 200OK\r\n\r\n", Error::BadStatusLine),
            (b"HTTP/1.1 200 O\x00K\r\n\r\n", Error::BadStatusLine),
            (b"HTTP/1.x 200 OK\r\n\r\n", Error::BadStatusLine),
            (b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", Error::BadHeader),
            (b"HTTP/1.1 200 OK\r\n: empty\r\n\r\n", Error::BadHeader),
            (b"HTTP/1.1 200 OK\r\nA b: c\r\n\r\n", Error::BadHeader),
            (
                b"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
                Error::BadHeader,
            ),
            (b"HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n", Error::BadHeader),
        ];
        for (raw, want) in cases {
            assert_eq!(
                repr(raw).err(),
                Some(want),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        let many: Vec<u8> = [
            &b"HTTP/1.1 200 OK\r\n"[..],
            &b"A: b\r\n".repeat(MAX_HEADERS + 1),
            b"\r\n",
        ]
        .concat();
        assert_eq!(repr(&many).err(), Some(Error::TooManyHeaders));
    }

    #[test]
    fn content_length_must_be_one_number() {
        let cases: [&[u8]; 5] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        ];
        for raw in cases {
            assert_eq!(repr(raw).err(), Some(Error::BadContentLength));
        }
        let same = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab";
        assert_eq!(repr(same).unwrap().content_length, Some(2));
    }

    #[test]
    fn interim_responses_are_skipped() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n\
                    HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(repr(raw).unwrap().status, 204);
        let upgrade = b"HTTP/1.1 101 Switching Protocols\r\n\r\n";
        assert_eq!(repr(upgrade).unwrap().status, 101);
        let endless = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(10);
        assert_eq!(repr(&endless).err(), Some(Error::TooManyHeaders));
    }

    #[test]
    fn body_framing() {
        // up to the close
        assert_eq!(
            body(b"HTTP/1.1 200 OK\r\n\r\nNetworkManager is online"),
            (b"NetworkManager is online".to_vec(), false)
        );
        // Content-Length cuts extra bytes
        assert_eq!(
            body(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef"),
            (b"abc".to_vec(), true)
        );
        // 204 and 304 have no body whatever follows
        assert_eq!(body(b"HTTP/1.1 204 No\r\n\r\njunk"), (vec![], true));
        // chunked, with an extension and a bare LF
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n\
                        5;ext=1\r\nhello\r\n1\n \n6\r\nworld!\r\n0\r\n\r\n";
        assert_eq!(body(chunked), (b"hello world!".to_vec(), true));
        // a chunk still arriving
        let partial = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nhel";
        assert_eq!(body(partial), (b"hel".to_vec(), false));
    }

    #[test]
    fn bad_chunks() {
        for chunks in [
            &b"zz\r\nhi\r\n"[..],
            b"5\r\nhelloXX",
            b"\r\n",
            b"123456789\r\n",
        ] {
            let raw = [
                &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
                chunks,
            ]
            .concat();
            let r = repr(&raw).unwrap();
            let mut out = [0u8; 64];
            assert_eq!(r.decoded_body(&mut out), Err(Error::BadChunk), "{chunks:?}");
        }
    }

    #[test]
    fn emit_parse_round_trip() {
        let repr1 = ResponseRepr {
            minor: 1,
            status: 302,
            reason: b"Found",
            content_length: Some(4),
            location: Some(b"http://192.0.2.1/login"),
            chunked: false,
            body: b"body",
        };
        let mut buf = [0u8; 256];
        let n = repr1.emit(&mut buf).unwrap();
        assert_eq!(n, repr1.buffer_len());
        assert_eq!(repr(&buf[..n]).unwrap(), repr1);
        assert_eq!(repr1.emit(&mut buf[..n - 1]), Err(Error::BufferTooSmall));
    }
}

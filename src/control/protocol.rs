//! The control-socket protocol: request/response enums and their framing. Pure: byte
//! buffers in, byte buffers out; no sockets.
//!
//! Every message travels in one frame (the full description, for tools written in other
//! languages, is in `docs/control-protocol.md`):
//!
//! ```text
//! +-------+---------+----------------+----------------------------+
//! | magic | version | body length    | body: postcard(Request or  |
//! | 0x57  | 0x02    | u16 big-endian |       Response)            |
//! +-------+---------+----------------+----------------------------+
//!   1 B     1 B       2 B              1 ..= MAX_BODY_LEN bytes
//! ```
//!
//! A whole frame is at most [`MAX_FRAME_LEN`] (64 KiB). The daemon accepts request bodies
//! of at most [`MAX_REQUEST_LEN`]: a request is a handful of names, and the small limit
//! bounds what a hostile client can make the daemon allocate.

use super::wire::{self, Decode, Encode};

use crate::engine::{HistoryEntry, RoutingStatus, WanCounters, WanHealth, WanStatus};

/// First byte of every frame: catches a peer that is not speaking this protocol at all.
pub const MAGIC: u8 = 0x57;
/// Protocol version carried in every frame header. Bumped on any incompatible change of
/// the frame layout or of the encoding of [`Request`] / [`Response`]: postcard structs carry
/// no lengths, so a field added to [`WanStatus`] or [`HistoryEntry`] is one. Version 2: each
/// status row ends with its families and its automatic priority, each history entry with its
/// family.
pub const VERSION: u8 = 2;
/// Frame header: magic, version, body length (u16 big-endian).
pub const HEADER_LEN: usize = 4;
/// Largest frame, header included.
pub const MAX_FRAME_LEN: usize = 64 * 1024;
/// Largest body of any frame.
pub const MAX_BODY_LEN: usize = MAX_FRAME_LEN - HEADER_LEN;
/// Largest request body the daemon accepts.
pub const MAX_REQUEST_LEN: usize = 4 * 1024;

/// What a client asks. The postcard variant index (the wire tag, spelled out in `wire`) is
/// the declaration order; never reorder, only append.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
pub enum Request {
    /// Tag 0: the daemon's version string.
    Version,
    /// Tag 1: one row per WAN.
    Status,
    /// Tag 2: recent transitions and switches.
    History,
    /// Tag 3: rank this WAN first while it is usable (mutating).
    Prefer(String),
    /// Tag 4: back to automatic ranking (mutating).
    Auto,
    /// Tag 5: new priority order, not persisted (mutating).
    Order(Vec<String>),
    /// Tag 6: re-read the configuration file (mutating).
    Reload,
    /// Tag 7: restore foreign routes and exit (mutating).
    Stop,
    /// Tag 8: the daemon's work counters.
    Counters,
    /// Tag 9: per WAN and target, the last result and the cause of the last failure.
    Health,
    /// Tag 10: the routing half (mode, multipath weights, policies, flushes).
    Routing,
}

impl Request {
    /// Whether the request changes the daemon's behaviour; only root or the socket group
    /// may send those.
    pub fn is_mutating(&self) -> bool {
        match self {
            Request::Version | Request::Status | Request::History => false,
            Request::Counters | Request::Health | Request::Routing => false,
            Request::Prefer(_) | Request::Auto | Request::Order(_) => true,
            Request::Reload | Request::Stop => true,
        }
    }

    /// The CLI word for the request, for log lines and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Version => "version",
            Request::Status => "status",
            Request::History => "history",
            Request::Prefer(_) => "prefer",
            Request::Auto => "auto",
            Request::Order(_) => "order",
            Request::Reload => "reload",
            Request::Stop => "stop",
            Request::Counters => "counters",
            Request::Health => "health",
            Request::Routing => "routing",
        }
    }
}

/// What the daemon answers: exactly one response per request, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
pub enum Response {
    /// Tag 0: a mutating request was applied.
    Ok,
    /// Tag 1: the request failed; the text is for the user.
    Error(String),
    /// Tag 2: the peer may not send this request (neither root nor in the socket group).
    Denied(String),
    /// Tag 3: the daemon's version string.
    Version(String),
    /// Tag 4: one row per WAN, in config order.
    Status(Vec<WanStatus>),
    /// Tag 5: history, oldest first, with the daemon's clock at the time of the answer so
    /// a client can show "how long ago".
    History {
        now_us: u64,
        entries: Vec<HistoryEntry>,
    },
    /// Tag 6: the daemon's work counters.
    Counters(Counters),
    /// Tag 7: one entry per WAN, in config order, with a row per target.
    Health(Vec<WanHealth>),
    /// Tag 8: the routing half (a daemon built without the `routing` feature answers
    /// `Error`).
    Routing(RoutingStatus),
}

/// How much work the daemon did since it started: what the benchmark reads to show that one
/// kernel fact costs one decision, what tells an operator that notifications were lost, and
/// what a fleet's SNMP manager or Prometheus counts (switches, uptime, per-WAN bytes and
/// probes). Fields are only ever appended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
pub struct Counters {
    /// Decision passes of the engine (timers, ranking, reconciliation, hooks).
    pub decision_passes: u64,
    /// Route dumps asked of the kernel.
    pub route_dumps: u64,
    /// Times rtnetlink notifications were lost (`ENOBUFS`, or a datagram cut short).
    pub netlink_overruns: u64,
    /// Netlink messages that could not be decoded.
    pub netlink_parse_errors: u64,
    /// Multipath default routes seen and left alone.
    pub multipath_skipped: u64,
    /// Changes of the active WAN, not counting the first choice after start-up.
    pub switches: u64,
    /// How long the daemon has been running, ms.
    pub uptime_ms: u64,
    /// Per WAN, in configuration order.
    pub wans: Vec<WanCounters>,
}

/// Why bytes are not a valid frame or message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The first byte is not [`MAGIC`]: the peer does not speak this protocol.
    BadMagic(u8),
    /// The peer speaks another protocol version.
    Version { got: u8, supported: u8 },
    /// The header announces a body over the limit.
    TooLong { len: usize, max: usize },
    /// The header announces an empty body (every message is at least one byte).
    Empty,
    /// The body is not a valid postcard encoding of the expected message.
    Malformed,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrameError::BadMagic(b) => write!(f, "not a control frame (first byte {b:#04x})"),
            FrameError::Version { got, supported } => {
                write!(f, "protocol version {got} (supported: {supported})")
            }
            FrameError::TooLong { len, max } => {
                write!(f, "frame body of {len} bytes exceeds the limit of {max}")
            }
            FrameError::Empty => f.write_str("empty frame body"),
            FrameError::Malformed => f.write_str("malformed message body"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Appends one frame carrying `request` to `out`. On error `out` is left as it was.
pub fn encode_request(request: &Request, out: &mut Vec<u8>) -> Result<(), FrameError> {
    encode(request, MAX_REQUEST_LEN, out)
}

/// Appends one frame carrying `response` to `out`. On error `out` is left as it was.
pub fn encode_response(response: &Response, out: &mut Vec<u8>) -> Result<(), FrameError> {
    encode(response, MAX_BODY_LEN, out)
}

/// Decodes a request from a frame body (as returned by [`FrameDecoder::decode`]).
pub fn decode_request(body: &[u8]) -> Result<Request, FrameError> {
    decode(body)
}

/// Decodes a response from a frame body (as returned by [`FrameDecoder::decode`]).
pub fn decode_response(body: &[u8]) -> Result<Response, FrameError> {
    decode(body)
}

fn encode<T: Encode>(value: &T, max: usize, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let start = out.len();
    out.extend_from_slice(&[MAGIC, VERSION, 0, 0]);
    value.encode(out);
    let body_len = out.len() - start - HEADER_LEN;
    if body_len > max {
        out.truncate(start);
        return Err(FrameError::TooLong { len: body_len, max });
    }
    let len = u16::try_from(body_len).expect("invariant: max body fits in u16");
    out[start + 2..start + HEADER_LEN].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

fn decode<T: Decode>(body: &[u8]) -> Result<T, FrameError> {
    // Trailing bytes after a complete message mean the peer and we disagree about the
    // encoding: rejected too, rather than guessed at.
    wire::decode_all(body).ok_or(FrameError::Malformed)
}

/// Reassembles frames from a byte stream that arrives in arbitrary pieces.
///
/// Holds at most one frame; never allocates more than `HEADER_LEN + max_body_len` bytes,
/// never panics on any input. After an error every further call returns the same error
/// (the connection is beyond repair).
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    max_body_len: usize,
    /// The previous call returned a complete frame; drop it before taking more bytes.
    delivered: bool,
    failed: Option<FrameError>,
}

impl FrameDecoder {
    /// A decoder that rejects bodies over `max_body_len` (capped at [`MAX_BODY_LEN`]).
    pub fn new(max_body_len: usize) -> FrameDecoder {
        FrameDecoder {
            buf: Vec::new(),
            max_body_len: max_body_len.min(MAX_BODY_LEN),
            delivered: false,
            failed: None,
        }
    }

    /// How many more bytes complete the current header or body. Reading no more than
    /// this from a stream never reads past the end of the current frame.
    pub fn wanted(&self) -> usize {
        if self.failed.is_some() {
            return 0;
        }
        let held = if self.delivered { 0 } else { self.buf.len() };
        match self.body_len() {
            Some(body) if !self.delivered => HEADER_LEN + body - held,
            _ => HEADER_LEN - held.min(HEADER_LEN),
        }
    }

    /// Whether some bytes of a frame are buffered (a frame has begun but is incomplete).
    pub fn is_partial(&self) -> bool {
        !self.delivered && !self.buf.is_empty()
    }

    /// Takes bytes from the front of `input` up to the end of the current frame. Returns
    /// the frame's body once it is complete; call again (with the rest of `input`) for
    /// the next one.
    pub fn decode<'s>(&'s mut self, input: &mut &[u8]) -> Result<Option<&'s [u8]>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if self.delivered {
            self.buf.clear();
            self.delivered = false;
        }
        if self.buf.len() < HEADER_LEN {
            self.take(input, HEADER_LEN - self.buf.len());
            if self.buf.len() < HEADER_LEN {
                return Ok(None);
            }
            if let Err(err) = self.check_header() {
                self.failed = Some(err.clone());
                return Err(err);
            }
            let body_len = self.body_len().expect("invariant: header complete");
            self.buf.reserve_exact(body_len);
        }
        let body_len = self.body_len().expect("invariant: header complete");
        self.take(input, HEADER_LEN + body_len - self.buf.len());
        if self.buf.len() < HEADER_LEN + body_len {
            return Ok(None);
        }
        self.delivered = true;
        Ok(Some(&self.buf[HEADER_LEN..]))
    }

    fn take(&mut self, input: &mut &[u8], n: usize) {
        let n = n.min(input.len());
        self.buf.extend_from_slice(&input[..n]);
        *input = &input[n..];
    }

    fn body_len(&self) -> Option<usize> {
        if self.buf.len() < HEADER_LEN {
            return None;
        }
        Some(usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])))
    }

    fn check_header(&self) -> Result<(), FrameError> {
        if self.buf[0] != MAGIC {
            return Err(FrameError::BadMagic(self.buf[0]));
        }
        if self.buf[1] != VERSION {
            return Err(FrameError::Version {
                got: self.buf[1],
                supported: VERSION,
            });
        }
        match self.body_len() {
            Some(0) => Err(FrameError::Empty),
            Some(len) if len > self.max_body_len => Err(FrameError::TooLong {
                len,
                max: self.max_body_len,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::report::fixture::{status_row, StatusRowExt};
    use crate::engine::TargetHealth;

    fn fiber() -> WanStatus {
        WanStatus {
            jitter_us: None,
            loss_centi_pct: Some(250),
            rx_bps: Some(1_000_000),
            ..status_row("fiber")
        }
        .with_one_family("ipv4")
    }

    fn history_entry() -> HistoryEntry {
        HistoryEntry {
            at_us: 5_000_000,
            kind: "transition".into(),
            wan: "lte".into(),
            from: "up".into(),
            to: "down".into(),
            cause: "3 rounds failed".into(),
            family: "ipv6".into(),
        }
    }

    fn all_requests() -> Vec<Request> {
        vec![
            Request::Version,
            Request::Status,
            Request::History,
            Request::Prefer("lte".into()),
            Request::Auto,
            Request::Order(vec!["lte".into(), "fiber".into()]),
            Request::Order(Vec::new()),
            Request::Reload,
            Request::Stop,
            Request::Counters,
            Request::Health,
            Request::Routing,
        ]
    }

    fn all_responses() -> Vec<Response> {
        vec![
            Response::Ok,
            Response::Error("unknown WAN \"x\"".into()),
            Response::Denied("permission denied".into()),
            Response::Version("0.1.0".into()),
            Response::Status(vec![fiber(), fiber()]),
            Response::Status(Vec::new()),
            Response::History {
                now_us: 9_000_000,
                entries: vec![history_entry()],
            },
            Response::Counters(Counters {
                decision_passes: 300,
                route_dumps: 2,
                netlink_overruns: 1,
                netlink_parse_errors: 0,
                multipath_skipped: 0,
                switches: 4,
                uptime_ms: 86_400_000,
                wans: vec![WanCounters {
                    name: "lte".into(),
                    rx_bytes: Some(1 << 40),
                    tx_bytes: None,
                    probes_sent: 300,
                    probes_lost: 2,
                }],
            }),
            Response::Health(vec![health()]),
            Response::Health(Vec::new()),
            Response::Routing(crate::engine::RoutingStatus {
                mode: "balance".into(),
                sticky: Some("source".into()),
                multipath: vec![crate::engine::MultipathHop {
                    wan: "lte".into(),
                    weight: 256,
                }],
                policies: vec![crate::engine::PolicyStatus {
                    name: "vpn".into(),
                    wan: "lte".into(),
                    uses: None,
                    blocked: false,
                }],
                flushes: 2,
                flushed: u64::MAX,
            }),
            Response::Routing(crate::engine::RoutingStatus::default()),
        ]
    }

    fn health() -> WanHealth {
        let row = |kind: &str, target: &str, cause: Option<&str>| TargetHealth {
            kind: kind.into(),
            target: target.into(),
            result: if cause.is_some() { "fail" } else { "pass" }.into(),
            rtt_us: Some(900),
            loss_centi_pct: Some(0),
            cause: cause.map(str::to_string),
            failed_ago_ms: cause.map(|_| 4_000),
        };
        WanHealth {
            name: "lte".into(),
            state: "down".into(),
            targets: vec![
                row("icmp", "198.51.100.53", None),
                row(
                    "http",
                    "http://203.0.113.80/",
                    Some("HTTP 302 Found: captive portal?"),
                ),
            ],
        }
    }

    /// Decodes every frame in `bytes`, fed in chunks of `chunk` bytes.
    fn frames(bytes: &[u8], chunk: usize, max: usize) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut dec = FrameDecoder::new(max);
        let mut out = Vec::new();
        for piece in bytes.chunks(chunk) {
            let mut input = piece;
            while let Some(body) = dec.decode(&mut input)? {
                out.push(body.to_vec());
            }
            assert!(input.is_empty());
        }
        Ok(out)
    }

    #[test]
    fn every_request_round_trips() {
        for req in all_requests() {
            let mut buf = Vec::new();
            encode_request(&req, &mut buf).unwrap();
            let bodies = frames(&buf, buf.len(), MAX_REQUEST_LEN).unwrap();
            assert_eq!(bodies.len(), 1);
            assert_eq!(decode_request(&bodies[0]).unwrap(), req);
        }
    }

    #[test]
    fn every_response_round_trips() {
        for resp in all_responses() {
            let mut buf = Vec::new();
            encode_response(&resp, &mut buf).unwrap();
            let bodies = frames(&buf, 7, MAX_BODY_LEN).unwrap();
            assert_eq!(decode_response(&bodies[0]).unwrap(), resp);
        }
    }

    #[test]
    fn wire_bytes_match_the_documentation() {
        let mut buf = Vec::new();
        encode_request(&Request::Prefer("lte".into()), &mut buf).unwrap();
        assert_eq!(buf, [0x57, 0x02, 0x00, 0x05, 0x03, 0x03, b'l', b't', b'e']);
        buf.clear();
        encode_request(&Request::Status, &mut buf).unwrap();
        assert_eq!(buf, [0x57, 0x02, 0x00, 0x01, 0x01]);
        buf.clear();
        let mut row = WanStatus {
            latency_us: Some(300),
            ..fiber()
        };
        row.families[0].latency_us = Some(300);
        encode_response(&Response::Status(vec![row]), &mut buf).unwrap();
        #[rustfmt::skip]
        let expected = [
            0x57, 0x02, 0x00, 0x3b,
            0x04, 0x01, // Status, one row
            0x05, b'f', b'i', b'b', b'e', b'r', 0x04, b'e', b't', b'h', b'0', 0x02, b'u', b'p',
            0x01, 0x01, 0x01, 0x00, // priority 1, metric 1, active, not preferred
            0x01, 0xac, 0x02, // latency_us Some(300)
            0x00, // jitter_us None
            0x01, 0xfa, 0x01, // loss_centi_pct Some(250)
            0x01, 0xc0, 0x84, 0x3d, // rx_bps Some(1_000_000)
            0x00, // tx_bps None
            0x80, 0xdc, 0x0b, // since_ms 192_000
            0x00, // late_rounds 0
            0x01, // families: one
            0x04, b'i', b'p', b'v', b'4', 0x02, b'u', b'p',
            0x01, 0x01, // metric 1, active
            0x01, 0xac, 0x02, 0x00, 0x01, 0xfa, 0x01, // latency, jitter, loss
            0x80, 0xdc, 0x0b, // since_ms 192_000
            0x00, 0x00, // fixed priority, no device
        ];
        assert_eq!(buf, expected);
    }

    /// The hand-written body codec is postcard's format: the same bytes for every message,
    /// and the same verdict as postcard on valid bodies, their prefixes, their one-byte
    /// mutations and a few thousand pseudo-random bodies.
    #[test]
    fn bodies_are_exactly_postcard() {
        // What the serde codec accepted: one whole message, no bytes after it.
        fn postcard_whole<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Option<T> {
            match postcard::take_from_bytes::<T>(body) {
                Ok((value, [])) => Some(value),
                _ => None,
            }
        }
        fn same_verdict(body: &[u8]) {
            let ours = decode_request(body).ok();
            assert_eq!(ours, postcard_whole(body), "request {body:02x?}");
            let ours = decode_response(body).ok();
            assert_eq!(ours, postcard_whole(body), "response {body:02x?}");
        }
        let mut bodies = Vec::new();
        for req in all_requests() {
            let mut buf = Vec::new();
            encode_request(&req, &mut buf).unwrap();
            assert_eq!(buf[HEADER_LEN..], postcard::to_allocvec(&req).unwrap()[..]);
            bodies.push(buf.split_off(HEADER_LEN));
        }
        for resp in all_responses() {
            let mut buf = Vec::new();
            encode_response(&resp, &mut buf).unwrap();
            assert_eq!(buf[HEADER_LEN..], postcard::to_allocvec(&resp).unwrap()[..]);
            bodies.push(buf.split_off(HEADER_LEN));
        }
        for body in &bodies {
            for end in 0..=body.len() {
                same_verdict(&body[..end]);
            }
            for at in 0..body.len() {
                for byte in [0x00, 0x01, 0x02, 0x03, 0x7f, 0x80, 0xff] {
                    let mut mutated = body.clone();
                    mutated[at] = byte;
                    same_verdict(&mutated);
                }
            }
        }
        // Varints at the edges of their widths, in every message position that has one.
        for varint in [
            &[0x80, 0x80, 0x04][..],
            &[0xff, 0xff, 0x03],
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0xff, 0xff, 0xff, 0xff, 0x1f],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            &[0x86, 0x00],
        ] {
            same_verdict(varint);
            for tag in 0..12u8 {
                let mut body = vec![tag];
                body.extend_from_slice(varint);
                same_verdict(&body);
                body.push(0);
                same_verdict(&body);
            }
        }
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..5_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            let body: Vec<u8> = (0..len)
                .map(|i| (seed.rotate_left(i as u32 * 5) % 12) as u8)
                .collect();
            same_verdict(&body);
        }
    }

    #[test]
    fn byte_by_byte_and_two_frames_in_one_read() {
        let mut buf = Vec::new();
        for req in all_requests() {
            encode_request(&req, &mut buf).unwrap();
        }
        for chunk in [1, 2, 3, 5, buf.len()] {
            let bodies = frames(&buf, chunk, MAX_REQUEST_LEN).unwrap();
            let decoded: Vec<Request> = bodies.iter().map(|b| decode_request(b).unwrap()).collect();
            assert_eq!(decoded, all_requests(), "chunk {chunk}");
        }
    }

    #[test]
    fn wanted_never_reads_past_a_frame() {
        let mut buf = Vec::new();
        encode_request(&Request::Prefer("fiber".into()), &mut buf).unwrap();
        let mut dec = FrameDecoder::new(MAX_REQUEST_LEN);
        assert_eq!(dec.wanted(), HEADER_LEN);
        let mut input = &buf[..2];
        assert_eq!(dec.decode(&mut input), Ok(None));
        assert_eq!(dec.wanted(), 2);
        let mut input = &buf[2..HEADER_LEN];
        assert_eq!(dec.decode(&mut input), Ok(None));
        assert_eq!(dec.wanted(), buf.len() - HEADER_LEN);
        assert!(dec.is_partial());
        let mut input = &buf[HEADER_LEN..];
        assert!(dec.decode(&mut input).unwrap().is_some());
        assert_eq!(dec.wanted(), HEADER_LEN);
        assert!(!dec.is_partial());
    }

    #[test]
    fn hostile_headers_are_rejected() {
        let cases: [(&[u8], FrameError); 4] = [
            (&[0x00, 0x02, 0x00, 0x01], FrameError::BadMagic(0)),
            (
                &[0x57, 0x01, 0x00, 0x01],
                FrameError::Version {
                    got: 1,
                    supported: 2,
                },
            ),
            (&[0x57, 0x02, 0x00, 0x00], FrameError::Empty),
            (
                &[0x57, 0x02, 0x10, 0x01],
                FrameError::TooLong {
                    len: 4097,
                    max: MAX_REQUEST_LEN,
                },
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(frames(bytes, 1, MAX_REQUEST_LEN), Err(expected.clone()));
            // Sticky: the decoder stays failed.
            let mut dec = FrameDecoder::new(MAX_REQUEST_LEN);
            let _ = dec.decode(&mut &bytes[..]);
            assert_eq!(dec.decode(&mut &[0x57u8][..]), Err(expected));
            assert_eq!(dec.wanted(), 0);
        }
        let oversize = [0x57, 0x02, 0xff, 0xff];
        let max = FrameError::TooLong {
            len: 0xffff,
            max: MAX_BODY_LEN,
        };
        assert_eq!(frames(&oversize, 4, usize::MAX), Err(max));
    }

    #[test]
    fn max_size_frame_is_accepted() {
        let mut frame = vec![MAGIC, VERSION];
        frame.extend_from_slice(&(MAX_BODY_LEN as u16).to_be_bytes());
        frame.resize(MAX_FRAME_LEN, 0xaa);
        let bodies = frames(&frame, 1000, MAX_BODY_LEN).unwrap();
        assert_eq!(bodies[0].len(), MAX_BODY_LEN);
        assert_eq!(decode_request(&bodies[0]), Err(FrameError::Malformed));
    }

    #[test]
    fn garbage_bodies_are_malformed() {
        let cases: [&[u8]; 6] = [
            &[0x0b],                               // no such request tag
            &[0x03, 0x05, b'a'],                   // string shorter than announced
            &[0x03, 0x01, 0xff],                   // invalid UTF-8
            &[0x01, 0x00],                         // trailing byte
            &[0x05, 0xff, 0xff, 0xff, 0xff, 0x0f], // 4 G names announced
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80], // endless varint
        ];
        for body in cases {
            assert_eq!(decode_request(body), Err(FrameError::Malformed), "{body:?}");
        }
        assert_eq!(decode_response(&[0x09]), Err(FrameError::Malformed));
        // a routing answer cut short
        assert_eq!(decode_response(&[0x08, 0x01]), Err(FrameError::Malformed));
    }

    #[test]
    fn oversized_messages_are_not_encoded() {
        let names = vec!["x".repeat(30); 200];
        let mut buf = vec![1, 2, 3];
        let err = encode_request(&Request::Order(names), &mut buf).unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLong {
                max: MAX_REQUEST_LEN,
                ..
            }
        ));
        assert_eq!(buf, [1, 2, 3]);
    }

    #[test]
    fn only_steering_requests_are_mutating() {
        let mutating: Vec<&str> = all_requests()
            .iter()
            .filter(|r| r.is_mutating())
            .map(|r| r.name())
            .collect();
        assert_eq!(
            mutating,
            ["prefer", "auto", "order", "order", "reload", "stop"]
        );
    }
}

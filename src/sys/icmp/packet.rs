//! Echo request/reply wire format for ICMPv4 (RFC 792) and ICMPv6 (RFC 4443), the IPv4
//! header a raw IPv4 socket puts in front of it, and the probe payload this daemon sends.
//!
//! Pure code: no sockets, no clock. A checked view ([`EchoPacket`]) guards every field access
//! by length, and a typed [`EchoRepr`] is what the rest of the code works with
//! (`parse` / `emit` / `buffer_len`).
//!
//! Checksums: the ICMPv4 checksum covers the ICMP message only and is computed and verified
//! here. The ICMPv6 checksum covers an IPv6 pseudo-header (source, destination, length,
//! next header) that a socket user does not see on receive; on raw `IPPROTO_ICMPV6` sockets
//! Linux forces `IPV6_CHECKSUM` at offset 2, so the kernel fills it in on send and drops
//! messages with a bad checksum on receive (ping sockets do the same). ICMPv6 messages are
//! therefore emitted with a zero checksum and not verified here.

use core::fmt;
use std::net::Ipv4Addr;

use crate::engine::Family;

/// ICMPv4 `Echo Reply`.
pub const ICMP_ECHOREPLY: u8 = 0;
/// ICMPv4 `Echo`.
pub const ICMP_ECHO: u8 = 8;
/// ICMPv6 `Echo Request`.
pub const ICMP6_ECHO_REQUEST: u8 = 128;
/// ICMPv6 `Echo Reply`.
pub const ICMP6_ECHO_REPLY: u8 = 129;
/// `IPPROTO_ICMP`, the IPv4 header's protocol field for ICMP.
pub const IPPROTO_ICMP: u8 = 1;

/// Length of the ICMP echo header: type, code, checksum, identifier, sequence.
pub const HEADER_LEN: usize = 8;
const IPV4_MIN_HEADER_LEN: usize = 20;

/// Why bytes were not a usable echo message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Shorter than the headers or lengths it announces.
    Truncated,
    /// The IPv4 header's version is not 4.
    BadVersion,
    /// The IPv4 header length (IHL) is below 5 words or runs past the data.
    BadIhl,
    /// The IPv4 total length is shorter than its own header.
    BadTotalLength,
    /// The IPv4 payload is not ICMP.
    NotIcmp,
    /// The ICMPv4 checksum does not match.
    BadChecksum,
    /// Not an echo request/reply of the expected family (type, code).
    NotEcho { msg_type: u8, code: u8 },
    /// The output buffer is too small for `emit`.
    BufferTooSmall,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => f.write_str("truncated packet"),
            WireError::BadVersion => f.write_str("IP version is not 4"),
            WireError::BadIhl => f.write_str("bad IPv4 header length"),
            WireError::BadTotalLength => f.write_str("bad IPv4 total length"),
            WireError::NotIcmp => f.write_str("IPv4 payload is not ICMP"),
            WireError::BadChecksum => f.write_str("bad ICMP checksum"),
            WireError::NotEcho { msg_type, code } => {
                write!(f, "not an echo message (type {msg_type}, code {code})")
            }
            WireError::BufferTooSmall => f.write_str("buffer too small"),
        }
    }
}

/// The Internet checksum (RFC 1071) of `data`: one's complement of the one's complement sum
/// of its 16-bit big-endian words, an odd last byte padded with zero.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Strips the IPv4 header a raw `IPPROTO_ICMP` socket delivers in front of the ICMP
/// message. Returns the source address and the ICMP bytes, bounded by the header's total
/// length (bytes past it are ignored). Linux delivers the header in network byte order.
pub fn ipv4_payload(buf: &[u8]) -> Result<(Ipv4Addr, &[u8]), WireError> {
    if buf.len() < IPV4_MIN_HEADER_LEN {
        return Err(WireError::Truncated);
    }
    if buf[0] >> 4 != 4 {
        return Err(WireError::BadVersion);
    }
    let ihl_bytes = usize::from(buf[0] & 0x0f) * 4;
    if ihl_bytes < IPV4_MIN_HEADER_LEN || ihl_bytes > buf.len() {
        return Err(WireError::BadIhl);
    }
    let total_len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    if total_len < ihl_bytes {
        return Err(WireError::BadTotalLength);
    }
    if total_len > buf.len() {
        return Err(WireError::Truncated);
    }
    if buf[9] != IPPROTO_ICMP {
        return Err(WireError::NotIcmp);
    }
    let src = Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]);
    Ok((src, &buf[ihl_bytes..total_len]))
}

/// A checked view of an ICMP(v6) echo message: every accessor is in bounds once
/// [`EchoPacket::new_checked`] succeeded.
#[derive(Debug, Clone, Copy)]
pub struct EchoPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EchoPacket<T> {
    /// Wraps `buffer` without checking its length; accessors may panic if it is short.
    pub fn new_unchecked(buffer: T) -> Self {
        EchoPacket { buffer }
    }

    /// Wraps `buffer` if it holds at least an echo header.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(EchoPacket { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn be16(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    pub fn checksum(&self) -> u16 {
        self.be16(2)
    }

    pub fn identifier(&self) -> u16 {
        self.be16(4)
    }

    pub fn sequence(&self) -> u16 {
        self.be16(6)
    }

    /// The echo data after the header.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// Whether the ICMPv4 checksum over the whole message is right.
    pub fn verify_checksum(&self) -> bool {
        checksum(self.buffer.as_ref()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EchoPacket<T> {
    fn set_be16(&mut self, at: usize, v: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[0] = v;
    }

    pub fn set_code(&mut self, v: u8) {
        self.buffer.as_mut()[1] = v;
    }

    pub fn set_checksum(&mut self, v: u16) {
        self.set_be16(2, v);
    }

    pub fn set_identifier(&mut self, v: u16) {
        self.set_be16(4, v);
    }

    pub fn set_sequence(&mut self, v: u16) {
        self.set_be16(6, v);
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Computes and stores the ICMPv4 checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum(self.buffer.as_ref());
        self.set_checksum(sum);
    }
}

/// Echo request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoKind {
    Request,
    Reply,
}

impl EchoKind {
    /// The ICMP type number for this kind in `family`.
    pub fn msg_type(self, family: Family) -> u8 {
        match (family, self) {
            (Family::V4, EchoKind::Request) => ICMP_ECHO,
            (Family::V4, EchoKind::Reply) => ICMP_ECHOREPLY,
            (Family::V6, EchoKind::Request) => ICMP6_ECHO_REQUEST,
            (Family::V6, EchoKind::Reply) => ICMP6_ECHO_REPLY,
        }
    }

    fn from_type(family: Family, msg_type: u8) -> Option<EchoKind> {
        [EchoKind::Request, EchoKind::Reply]
            .into_iter()
            .find(|k| k.msg_type(family) == msg_type)
    }
}

/// A parsed echo message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoRepr<'a> {
    pub family: Family,
    pub kind: EchoKind,
    pub ident: u16,
    pub seq: u16,
    pub data: &'a [u8],
}

impl<'a> EchoRepr<'a> {
    /// Parses an echo message of `family`. ICMPv4 checksums are verified (see the module
    /// documentation for ICMPv6). Code must be 0.
    pub fn parse(packet: &EchoPacket<&'a [u8]>, family: Family) -> Result<Self, WireError> {
        let (msg_type, code) = (packet.msg_type(), packet.code());
        let kind = match EchoKind::from_type(family, msg_type) {
            Some(kind) if code == 0 => kind,
            _ => return Err(WireError::NotEcho { msg_type, code }),
        };
        if family == Family::V4 && !packet.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        let data = &packet.buffer[HEADER_LEN..];
        Ok(EchoRepr {
            family,
            kind,
            ident: packet.identifier(),
            seq: packet.sequence(),
            data,
        })
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data.len()
    }

    /// Writes the message into the first `buffer_len()` bytes of `buf`; returns that length.
    /// ICMPv4 gets its checksum; ICMPv6 gets zero for the kernel to fill in.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.buffer_len();
        let out = buf.get_mut(..len).ok_or(WireError::BufferTooSmall)?;
        let mut packet = EchoPacket::new_unchecked(out);
        packet.set_msg_type(self.kind.msg_type(self.family));
        packet.set_code(0);
        packet.set_identifier(self.ident);
        packet.set_sequence(self.seq);
        packet.data_mut().copy_from_slice(self.data);
        match self.family {
            Family::V4 => packet.fill_checksum(),
            Family::V6 => packet.set_checksum(0),
        }
        Ok(len)
    }
}

/// Process-wide random value every probe carries, so replies to another process's or a
/// previous run's probes (or forged ones) are told apart.
pub type Cookie = [u8; 8];

/// The data of every probe this daemon sends. Layout (big-endian, fixed 20 bytes):
///
/// | bytes | field |
/// |---|---|
/// | 0..8 | process cookie |
/// | 8..16 | send stamp, µs of `CLOCK_MONOTONIC` |
/// | 16 | target index |
/// | 17..20 | zero |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbePayload {
    pub cookie: Cookie,
    pub sent_us: u64,
    pub target_idx: u8,
}

impl ProbePayload {
    pub const LEN: usize = 20;

    /// Parses exactly [`ProbePayload::LEN`] bytes; anything else is not one of our probes.
    pub fn parse(data: &[u8]) -> Option<ProbePayload> {
        if data.len() != Self::LEN {
            return None;
        }
        let mut cookie = [0u8; 8];
        cookie.copy_from_slice(&data[..8]);
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&data[8..16]);
        Some(ProbePayload {
            cookie,
            sent_us: u64::from_be_bytes(stamp),
            target_idx: data[16],
        })
    }

    /// Writes the payload into `buf[..LEN]`.
    pub fn emit(&self, buf: &mut [u8; Self::LEN]) {
        buf[..8].copy_from_slice(&self.cookie);
        buf[8..16].copy_from_slice(&self.sent_us.to_be_bytes());
        buf[16] = self.target_idx;
        buf[17..].fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOKIE: Cookie = [1, 2, 3, 4, 5, 6, 7, 8];
    const PAYLOAD: [u8; 20] = [
        1, 2, 3, 4, 5, 6, 7, 8, // cookie
        0, 0, 0, 0, 0, 0xab, 0xcd, 0xef, // stamp 0xabcdef µs
        2, 0, 0, 0, // target 2, zero
    ];
    /// Echo request, id 0x1234, seq 1, our payload; checksum 0x051c worked out by hand
    /// (independently of `checksum`).
    const REQUEST_V4: [u8; 28] = [
        8, 0, 0x05, 0x1c, 0x12, 0x34, 0, 1, //
        1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0xab, 0xcd, 0xef, 2, 0, 0, 0,
    ];
    /// The matching echo reply (type 0): checksum 0x0d1c.
    const REPLY_V4: [u8; 28] = [
        0, 0, 0x0d, 0x1c, 0x12, 0x34, 0, 1, //
        1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0xab, 0xcd, 0xef, 2, 0, 0, 0,
    ];
    /// IPv4 header, IHL 5, total length 48, ICMP, 198.51.100.53 → 192.0.2.10.
    const IP_HEADER: [u8; 20] = [
        0x45, 0, 0, 48, 0, 0, 0x40, 0, 64, 1, 0x4e, 0x5a, 198, 51, 100, 53, 192, 0, 2, 10,
    ];

    fn payload() -> ProbePayload {
        ProbePayload {
            cookie: COOKIE,
            sent_us: 0xabcdef,
            target_idx: 2,
        }
    }

    fn with_ip(header: &[u8], icmp: &[u8]) -> Vec<u8> {
        let mut v = header.to_vec();
        let total = (header.len() + icmp.len()) as u16;
        v[0] = 0x40 | (header.len() / 4) as u8;
        v[2..4].copy_from_slice(&total.to_be_bytes());
        v.extend_from_slice(icmp);
        v
    }

    fn parse(bytes: &[u8], family: Family) -> Result<EchoRepr<'_>, WireError> {
        EchoRepr::parse(&EchoPacket::new_checked(bytes)?, family)
    }

    #[test]
    fn checksum_rfc1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (complement 220d).
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        assert_eq!(checksum(&[0xff]), !0xff00);
        assert_eq!(checksum(&[]), 0xffff);
    }

    #[test]
    fn emit_golden_request_v4() {
        let mut data = [0u8; ProbePayload::LEN];
        payload().emit(&mut data);
        assert_eq!(data, PAYLOAD);
        let repr = EchoRepr {
            family: Family::V4,
            kind: EchoKind::Request,
            ident: 0x1234,
            seq: 1,
            data: &data,
        };
        let mut buf = [0xeeu8; 64];
        assert_eq!(repr.buffer_len(), 28);
        assert_eq!(repr.emit(&mut buf), Ok(28));
        assert_eq!(buf[..28], REQUEST_V4);
        assert_eq!(buf[28], 0xee, "emit wrote past buffer_len");
        assert_eq!(parse(&REQUEST_V4, Family::V4), Ok(repr));
    }

    #[test]
    fn emit_v6_leaves_checksum_to_the_kernel() {
        let repr = EchoRepr {
            family: Family::V6,
            kind: EchoKind::Request,
            ident: 0x1234,
            seq: 1,
            data: &PAYLOAD,
        };
        let mut buf = [0xffu8; 28];
        repr.emit(&mut buf).unwrap();
        assert_eq!(buf[..8], [128, 0, 0, 0, 0x12, 0x34, 0, 1]);
        assert_eq!(buf[8..], PAYLOAD);
    }

    #[test]
    fn emit_into_short_buffer_fails() {
        let repr = EchoRepr {
            family: Family::V4,
            kind: EchoKind::Request,
            ident: 1,
            seq: 1,
            data: &PAYLOAD,
        };
        assert_eq!(repr.emit(&mut [0u8; 27]), Err(WireError::BufferTooSmall));
    }

    #[test]
    fn parse_reply_v4_behind_ihl5_header() {
        let bytes = with_ip(&IP_HEADER, &REPLY_V4);
        assert_eq!(bytes[..20], IP_HEADER, "fixture total length");
        let (src, icmp) = ipv4_payload(&bytes).unwrap();
        assert_eq!(src, Ipv4Addr::new(198, 51, 100, 53));
        let repr = parse(icmp, Family::V4).unwrap();
        assert_eq!(
            (repr.kind, repr.ident, repr.seq),
            (EchoKind::Reply, 0x1234, 1)
        );
        assert_eq!(ProbePayload::parse(repr.data), Some(payload()));
    }

    #[test]
    fn parse_reply_v4_behind_header_with_options() {
        // IHL 7: 8 bytes of options (NOP padding, then a timestamp-like blob).
        let mut header = IP_HEADER.to_vec();
        header.extend_from_slice(&[1, 1, 1, 1, 0x44, 4, 5, 0]);
        let bytes = with_ip(&header, &REPLY_V4);
        assert_eq!(bytes[0], 0x47);
        let (_, icmp) = ipv4_payload(&bytes).unwrap();
        assert_eq!(icmp, REPLY_V4);
    }

    #[test]
    fn ipv4_header_errors() {
        let good = with_ip(&IP_HEADER, &REPLY_V4);
        assert_eq!(ipv4_payload(&good[..19]), Err(WireError::Truncated));
        let mut v = good.clone();
        v[0] = 0x65;
        assert_eq!(ipv4_payload(&v), Err(WireError::BadVersion));
        for ihl in [0u8, 4, 15] {
            let mut v = good[..40].to_vec();
            v[0] = 0x40 | ihl;
            assert_eq!(ipv4_payload(&v), Err(WireError::BadIhl), "ihl {ihl}");
        }
        let mut v = good.clone();
        v[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(ipv4_payload(&v), Err(WireError::BadTotalLength));
        // Total length announces more than arrived.
        assert_eq!(
            ipv4_payload(&good[..good.len() - 1]),
            Err(WireError::Truncated)
        );
        let mut v = good.clone();
        v[9] = 17;
        assert_eq!(ipv4_payload(&v), Err(WireError::NotIcmp));
    }

    #[test]
    fn bytes_past_total_length_are_ignored() {
        let mut bytes = with_ip(&IP_HEADER, &REPLY_V4);
        bytes.extend_from_slice(&[0xde, 0xad]);
        let (_, icmp) = ipv4_payload(&bytes).unwrap();
        assert_eq!(parse(icmp, Family::V4).unwrap().data, PAYLOAD);
    }

    #[test]
    fn truncated_and_oversized_echo() {
        assert_eq!(parse(&REPLY_V4[..7], Family::V4), Err(WireError::Truncated));
        assert_eq!(parse(&[], Family::V6), Err(WireError::Truncated));
        // A header-only echo is valid, just not one of ours.
        let mut bare = [0u8, 0, 0, 0, 0x12, 0x34, 0, 1];
        EchoPacket::new_unchecked(&mut bare[..]).fill_checksum();
        assert_eq!(parse(&bare, Family::V4).unwrap().data, &[] as &[u8]);
        // Oversized data (someone else's 56-byte ping) parses but is not our payload.
        let big = [0u8; HEADER_LEN + 56];
        let mut big = big.to_vec();
        big[0] = ICMP6_ECHO_REPLY;
        let repr = parse(&big, Family::V6).unwrap();
        assert_eq!(ProbePayload::parse(repr.data), None);
        assert_eq!(ProbePayload::parse(&PAYLOAD[..19]), None);
    }

    #[test]
    fn wrong_checksum_rejected_v4_only() {
        let mut v = REPLY_V4;
        v[27] ^= 1;
        assert_eq!(parse(&v, Family::V4), Err(WireError::BadChecksum));
        let mut v6 = REPLY_V4;
        v6[0] = ICMP6_ECHO_REPLY;
        assert!(parse(&v6, Family::V6).is_ok(), "the kernel verifies ICMPv6");
    }

    #[test]
    fn wrong_type_or_code_rejected() {
        let mut v = REPLY_V4;
        v[1] = 1;
        assert_eq!(
            parse(&v, Family::V4),
            Err(WireError::NotEcho {
                msg_type: 0,
                code: 1
            })
        );
        let mut v = REPLY_V4;
        v[0] = 3;
        assert_eq!(
            parse(&v, Family::V4),
            Err(WireError::NotEcho {
                msg_type: 3,
                code: 0
            })
        );
        // An ICMPv4 type number is not an ICMPv6 echo.
        assert_eq!(
            parse(&REPLY_V4, Family::V6),
            Err(WireError::NotEcho {
                msg_type: 0,
                code: 0
            })
        );
    }
}

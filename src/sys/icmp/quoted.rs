//! ICMP error messages (destination unreachable, time exceeded) that quote one of our echo
//! requests: a router on the way saying the probe will never be answered, so the engine can
//! count it failed at once instead of waiting for the timeout.
//!
//! An error quotes the invoking packet: its IP header and at least the first 8 bytes of the
//! ICMP request (RFC 792; RFC 4443 and Linux quote as much as fits in 576 / 1280 bytes, so
//! usually the whole probe payload). The quoted IPv4 total length describes the original
//! packet, which may be longer than what was quoted. Quoted IPv6 packets with extension
//! headers are not ours (we never send any) and are rejected.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::packet::{
    checksum, EchoPacket, EchoRepr, WireError, HEADER_LEN, ICMP6_ECHO_REQUEST, ICMP_ECHO,
    IPPROTO_ICMP,
};
use crate::engine::Family;

/// ICMPv4 `Destination Unreachable`.
pub const ICMP_DEST_UNREACH: u8 = 3;
/// ICMPv4 `Time Exceeded`.
pub const ICMP_TIME_EXCEEDED: u8 = 11;
/// ICMPv6 `Destination Unreachable`.
pub const ICMP6_DST_UNREACH: u8 = 1;
/// ICMPv6 `Time Exceeded`.
pub const ICMP6_TIME_EXCEEDED: u8 = 3;
/// `IPPROTO_ICMPV6`, the IPv6 next-header value for ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;
const IPV6_HEADER_LEN: usize = 40;

/// The ICMP error types this module understands, per family.
pub fn error_types(family: Family) -> [u8; 2] {
    match family {
        Family::V4 => [ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED],
        Family::V6 => [ICMP6_DST_UNREACH, ICMP6_TIME_EXCEEDED],
    }
}

/// An ICMP message a probe socket may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    Echo(EchoRepr<'a>),
    Error(ErrorRepr<'a>),
}

impl<'a> Message<'a> {
    /// Parses an ICMP message of `family` (starting at its ICMP header).
    pub fn parse(bytes: &'a [u8], family: Family) -> Result<Self, WireError> {
        let packet = EchoPacket::new_checked(bytes)?;
        if error_types(family).contains(&packet.msg_type()) {
            return ErrorRepr::parse(bytes, family).map(Message::Error);
        }
        EchoRepr::parse(&packet, family).map(Message::Echo)
    }
}

/// An ICMP error quoting an echo request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorRepr<'a> {
    pub family: Family,
    pub msg_type: u8,
    pub code: u8,
    /// Destination of the quoted request (the probed target).
    pub dst: IpAddr,
    pub ident: u16,
    pub seq: u16,
    /// As much of the request's data as was quoted (possibly nothing).
    pub data: &'a [u8],
}

impl<'a> ErrorRepr<'a> {
    /// Parses an ICMP error message (starting at its ICMP header) of `family`. ICMPv4
    /// checksums are verified; the kernel verifies ICMPv6 ones.
    pub fn parse(bytes: &'a [u8], family: Family) -> Result<Self, WireError> {
        if bytes.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let (msg_type, code) = (bytes[0], bytes[1]);
        if !error_types(family).contains(&msg_type) {
            return Err(WireError::NotEcho { msg_type, code });
        }
        if family == Family::V4 && checksum(bytes) != 0 {
            return Err(WireError::BadChecksum);
        }
        let quoted = &bytes[HEADER_LEN..];
        let (dst, request) = match family {
            Family::V4 => quoted_ipv4(quoted)?,
            Family::V6 => quoted_ipv6(quoted)?,
        };
        let (ident, seq, data) = quoted_request(request, family)?;
        Ok(ErrorRepr {
            family,
            msg_type,
            code,
            dst,
            ident,
            seq,
            data,
        })
    }
}

/// Destination and payload of a quoted IPv4 packet.
fn quoted_ipv4(buf: &[u8]) -> Result<(IpAddr, &[u8]), WireError> {
    if buf.len() < 20 {
        return Err(WireError::Truncated);
    }
    if buf[0] >> 4 != 4 {
        return Err(WireError::BadVersion);
    }
    let ihl_bytes = usize::from(buf[0] & 0x0f) * 4;
    if ihl_bytes < 20 || ihl_bytes > buf.len() {
        return Err(WireError::BadIhl);
    }
    let total_len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    if total_len < ihl_bytes {
        return Err(WireError::BadTotalLength);
    }
    if buf[9] != IPPROTO_ICMP {
        return Err(WireError::NotIcmp);
    }
    let dst = Ipv4Addr::new(buf[16], buf[17], buf[18], buf[19]);
    Ok((IpAddr::V4(dst), &buf[ihl_bytes..total_len.min(buf.len())]))
}

/// Destination and payload of a quoted IPv6 packet without extension headers.
fn quoted_ipv6(buf: &[u8]) -> Result<(IpAddr, &[u8]), WireError> {
    if buf.len() < IPV6_HEADER_LEN {
        return Err(WireError::Truncated);
    }
    if buf[0] >> 4 != 6 {
        return Err(WireError::BadVersion);
    }
    if buf[6] != IPPROTO_ICMPV6 {
        return Err(WireError::NotIcmp);
    }
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&buf[24..40]);
    let payload_len = usize::from(u16::from_be_bytes([buf[4], buf[5]]));
    let end = (IPV6_HEADER_LEN + payload_len).min(buf.len());
    Ok((IpAddr::V6(Ipv6Addr::from(dst)), &buf[IPV6_HEADER_LEN..end]))
}

/// Identifier, sequence and quoted data of a quoted echo request. Its checksum is not
/// checked: the quote may be cut short.
fn quoted_request(buf: &[u8], family: Family) -> Result<(u16, u16, &[u8]), WireError> {
    if buf.len() < HEADER_LEN {
        return Err(WireError::Truncated);
    }
    let want = match family {
        Family::V4 => ICMP_ECHO,
        Family::V6 => ICMP6_ECHO_REQUEST,
    };
    if buf[0] != want || buf[1] != 0 {
        return Err(WireError::NotEcho {
            msg_type: buf[0],
            code: buf[1],
        });
    }
    let ident = u16::from_be_bytes([buf[4], buf[5]]);
    let seq = u16::from_be_bytes([buf[6], buf[7]]);
    Ok((ident, seq, &buf[HEADER_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::icmp::packet::EchoKind;

    const DATA: [u8; 20] = [7; 20];

    fn request(family: Family) -> Vec<u8> {
        let repr = EchoRepr {
            family,
            kind: EchoKind::Request,
            ident: 0x1234,
            seq: 9,
            data: &DATA,
        };
        let mut v = vec![0u8; repr.buffer_len()];
        repr.emit(&mut v).unwrap();
        v
    }

    /// Host unreachable from router 192.0.2.9 for our request 192.0.2.10 → 198.51.100.53,
    /// quoting `quote_len` bytes of the request.
    fn unreachable_v4(quote_len: usize) -> Vec<u8> {
        let req = request(Family::V4);
        let total = (20 + req.len()) as u16;
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 1, 0, 0, 192, 0, 2, 10, 198, 51, 100, 53,
        ];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        let mut msg = vec![ICMP_DEST_UNREACH, 1, 0, 0, 0, 0, 0, 0];
        msg.extend_from_slice(&ip);
        msg.extend_from_slice(&req[..quote_len]);
        EchoPacket::new_unchecked(&mut msg[..]).fill_checksum();
        msg
    }

    #[test]
    fn parses_a_full_v4_quote() {
        let msg = unreachable_v4(28);
        let e = ErrorRepr::parse(&msg, Family::V4).unwrap();
        assert_eq!((e.msg_type, e.code, e.ident, e.seq), (3, 1, 0x1234, 9));
        assert_eq!(e.dst, "198.51.100.53".parse::<IpAddr>().unwrap());
        assert_eq!(e.data, DATA);
    }

    #[test]
    fn parses_a_minimal_v4_quote() {
        // RFC 792 minimum: IP header + 8 bytes; the total length still says 48.
        let msg = unreachable_v4(8);
        let e = ErrorRepr::parse(&msg, Family::V4).unwrap();
        assert_eq!((e.ident, e.seq, e.data.len()), (0x1234, 9, 0));
    }

    #[test]
    fn v4_errors() {
        let msg = unreachable_v4(28);
        let mut bad = msg.clone();
        bad[40] ^= 1;
        assert_eq!(
            ErrorRepr::parse(&bad, Family::V4),
            Err(WireError::BadChecksum)
        );
        assert_eq!(
            ErrorRepr::parse(&unreachable_v4(7), Family::V4),
            Err(WireError::Truncated)
        );
        assert_eq!(
            ErrorRepr::parse(&msg[..27], Family::V4),
            Err(WireError::BadChecksum)
        );
        let mut other = msg.clone();
        other[0] = 5; // redirect
        EchoPacket::new_unchecked(&mut other[..]).fill_checksum();
        assert!(matches!(
            ErrorRepr::parse(&other, Family::V4),
            Err(WireError::NotEcho { .. })
        ));
        let mut ihl = msg.clone();
        ihl[8] = 0x4f;
        EchoPacket::new_unchecked(&mut ihl[..]).fill_checksum();
        assert_eq!(ErrorRepr::parse(&ihl, Family::V4), Err(WireError::BadIhl));
    }

    #[test]
    fn parses_a_v6_time_exceeded() {
        let req = request(Family::V6);
        let mut msg = vec![ICMP6_TIME_EXCEEDED, 0, 0, 0, 0, 0, 0, 0];
        let mut ip6 = vec![0x60, 0, 0, 0, 0, req.len() as u8, IPPROTO_ICMPV6, 1];
        ip6.extend_from_slice(&"2001:db8:1::2".parse::<Ipv6Addr>().unwrap().octets());
        ip6.extend_from_slice(&"2001:db8:ff::53".parse::<Ipv6Addr>().unwrap().octets());
        msg.extend_from_slice(&ip6);
        msg.extend_from_slice(&req);
        let e = ErrorRepr::parse(&msg, Family::V6).unwrap();
        assert_eq!(
            (e.msg_type, e.ident, e.seq, e.data),
            (3, 0x1234, 9, &DATA[..])
        );
        assert_eq!(e.dst, "2001:db8:ff::53".parse::<IpAddr>().unwrap());
        msg[8 + 6] = 0; // hop-by-hop extension header: never ours
        assert_eq!(ErrorRepr::parse(&msg, Family::V6), Err(WireError::NotIcmp));
    }
}

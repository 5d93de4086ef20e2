//! The values a `[[policy]]` matches on, parsed from their text: address prefixes, ports and
//! port ranges, firewall marks. Pure and shared: the FIB-rule codec writes these types as
//! they are (`sys::netlink::message::rule`).

use std::net::IpAddr;

use crate::engine::Family;

/// An address prefix, `192.0.2.0/24` or `2001:db8::/32`, host bits zero (so that the rule
/// the kernel shows back is the one written, and a delete matches it exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    len: u8,
}

impl Cidr {
    /// `None` when `len` is longer than the address or host bits are set.
    pub fn new(addr: IpAddr, len: u8) -> Option<Cidr> {
        let c = Cidr { addr, len };
        (len <= c.max_len() && c.network() == addr).then_some(c)
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    pub fn family(&self) -> Family {
        Family::of(self.addr)
    }

    fn max_len(&self) -> u8 {
        match self.addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    /// The address with the host bits cleared.
    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        }
    }

    /// Whether `ip` is inside the prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        Family::of(ip) == self.family()
            && Cidr {
                addr: ip,
                len: self.len,
            }
            .network()
                == self.addr
    }
}

impl core::fmt::Display for Cidr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Why a prefix did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrError {
    /// Not `ADDRESS/LENGTH` nor a bare address.
    Syntax,
    /// The length is longer than the address family allows.
    Length { max: u8 },
    /// Host bits are set: the prefix meant is this one.
    HostBits { network: Cidr },
}

impl core::fmt::Display for CidrError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CidrError::Syntax => f.write_str(
                "expected an address or a prefix such as \"192.0.2.0/24\" or \"2001:db8::/32\"",
            ),
            CidrError::Length { max } => write!(f, "the prefix length must be 0 to {max}"),
            CidrError::HostBits { network } => {
                write!(f, "host bits are set: did you mean \"{network}\"?")
            }
        }
    }
}

/// `ADDRESS/LENGTH`, or a bare address (a host: /32 or /128).
pub fn parse_cidr(text: &str) -> Result<Cidr, CidrError> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| CidrError::Syntax)?;
    let max = Cidr { addr, len: 0 }.max_len();
    let len = match len {
        None => max,
        // digits only: "+24" and " 24" are not lengths
        Some(l) if !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()) => {
            l.parse::<u8>().map_err(|_| CidrError::Length { max })?
        }
        Some(_) => return Err(CidrError::Syntax),
    };
    if len > max {
        return Err(CidrError::Length { max });
    }
    Cidr::new(addr, len).ok_or_else(|| CidrError::HostBits {
        network: Cidr {
            addr: Cidr { addr, len }.network(),
            len,
        },
    })
}

/// A port or an inclusive range of ports (`struct fib_rule_port_range`); `start <= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub fn single(port: u16) -> PortRange {
        PortRange {
            start: port,
            end: port,
        }
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }
}

impl core::fmt::Display for PortRange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// `"LO-HI"` (or a single port as a string), ports 1 to 65535, `LO <= HI`.
pub fn parse_port_range(text: &str) -> Result<PortRange, &'static str> {
    const SYNTAX: &str = "expected a port (1 to 65535) or a range such as \"1000-2000\"";
    let port = |s: &str| -> Result<u16, &'static str> {
        if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SYNTAX);
        }
        match s.parse::<u32>() {
            Ok(p @ 1..=65535) => Ok(p as u16),
            _ => Err("ports are 1 to 65535"),
        }
    };
    let (start, end) = match text.split_once('-') {
        Some((lo, hi)) => (port(lo.trim())?, port(hi.trim())?),
        None => {
            let p = port(text.trim())?;
            (p, p)
        }
    };
    if start > end {
        return Err("the first port of a range must not be above the last");
    }
    Ok(PortRange { start, end })
}

/// A firewall mark to match: `mark & mask == value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fwmark {
    pub value: u32,
    pub mask: u32,
}

impl core::fmt::Display for Fwmark {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:#x}/{:#x}", self.value, self.mask)
    }
}

/// `"VALUE/MASK"` or `"VALUE"` (every bit), each decimal or `0x` hexadecimal, as `ip rule`
/// writes them. A mask of 0 would match every packet, and value bits outside the mask
/// would match none: both are refused.
pub fn parse_fwmark(text: &str) -> Result<Fwmark, &'static str> {
    const SYNTAX: &str = "expected \"VALUE/MASK\" such as \"0x10/0xff\" (decimal or 0x hex)";
    let number = |s: &str| -> Result<u32, &'static str> {
        let s = s.trim();
        let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(hex, 16)
            }
            None if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse(),
            _ => return Err(SYNTAX),
        };
        parsed.map_err(|_| "marks are 32-bit: at most 0xffffffff")
    };
    let (value, mask) = match text.split_once('/') {
        Some((v, m)) => (number(v)?, number(m)?),
        None => (number(text)?, u32::MAX),
    };
    if mask == 0 {
        return Err("a mask of 0 matches every packet");
    }
    if value & !mask != 0 {
        return Err("the value has bits outside the mask: it would never match");
    }
    Ok(Fwmark { value, mask })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        parse_cidr(s).unwrap()
    }

    #[test]
    fn prefixes() {
        assert_eq!(cidr("192.0.2.0/24").to_string(), "192.0.2.0/24");
        assert_eq!(cidr("192.0.2.7").prefix_len(), 32);
        assert_eq!(cidr("2001:db8::/32").family(), Family::V6);
        assert_eq!(cidr("2001:db8::1").prefix_len(), 128);
        assert_eq!(cidr("0.0.0.0/0").prefix_len(), 0);
        assert_eq!(cidr("::/0").prefix_len(), 0);
        assert!(cidr("192.0.2.0/24").contains("192.0.2.200".parse().unwrap()));
        assert!(!cidr("192.0.2.0/24").contains("192.0.3.1".parse().unwrap()));
        assert!(!cidr("::/0").contains("192.0.2.1".parse().unwrap()));
        assert!(cidr("0.0.0.0/0").contains("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn bad_prefixes() {
        let host_bits = parse_cidr("192.0.2.5/24").unwrap_err();
        assert_eq!(
            host_bits.to_string(),
            "host bits are set: did you mean \"192.0.2.0/24\"?"
        );
        assert_eq!(
            parse_cidr("192.0.2.0/33"),
            Err(CidrError::Length { max: 32 })
        );
        assert_eq!(
            parse_cidr("2001:db8::/129"),
            Err(CidrError::Length { max: 128 })
        );
        assert_eq!(
            parse_cidr("192.0.2.0/999"),
            Err(CidrError::Length { max: 32 })
        );
        for bad in [
            "",
            "/24",
            "192.0.2.0/",
            "192.0.2.0/+4",
            "192.0.2.0/2 4",
            "eth0",
            "1/2/3",
        ] {
            assert_eq!(parse_cidr(bad), Err(CidrError::Syntax), "{bad}");
        }
    }

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("1194"), Ok(PortRange::single(1194)));
        assert_eq!(
            parse_port_range("1000-2000"),
            Ok(PortRange {
                start: 1000,
                end: 2000
            })
        );
        assert_eq!(
            parse_port_range("1000 - 2000").map(|r| r.to_string()),
            Ok("1000-2000".into())
        );
        assert!(parse_port_range("2000-1000").is_err());
        assert!(parse_port_range("0").is_err());
        assert!(parse_port_range("65536").is_err());
        assert!(parse_port_range("1-2-3").is_err());
        assert!(parse_port_range("http").is_err());
        assert!(parse_port_range("-5").is_err());
        assert!(PortRange::single(53).contains(53));
    }

    #[test]
    fn fwmarks() {
        let m = parse_fwmark("0x10/0xff").unwrap();
        assert_eq!((m.value, m.mask), (0x10, 0xff));
        assert_eq!(m.to_string(), "0x10/0xff");
        assert_eq!(
            parse_fwmark("16"),
            Ok(Fwmark {
                value: 16,
                mask: u32::MAX
            })
        );
        assert_eq!(
            parse_fwmark("0X1/0XFFFFFFFF"),
            Ok(Fwmark {
                value: 1,
                mask: u32::MAX
            })
        );
        assert!(parse_fwmark("0x100/0xff").is_err());
        assert!(parse_fwmark("1/0").is_err());
        assert!(parse_fwmark("0x1ffffffff").is_err());
        assert!(parse_fwmark("0x").is_err());
        assert!(parse_fwmark("mark").is_err());
        assert!(parse_fwmark("-1").is_err());
    }
}

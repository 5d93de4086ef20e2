//! Object identifiers as net-snmp's `pass_persist` writes them: dotted decimal, with or
//! without a leading dot (`.1.3.6.1.4.1.8072`). Pure.
//!
//! Ordering is SNMP's lexicographic order (RFC 3416 §4.2.2 "lexicographic successor"):
//! sub-identifier by sub-identifier as unsigned numbers, a prefix before anything that
//! extends it. That is exactly `Ord` on the sub-identifier vector, so [`Oid`] derives it.

use core::fmt;

/// The most sub-identifiers an OID may have (RFC 2578 §3.5).
pub const MAX_LEN: usize = 128;

/// An object identifier: 1 ..= [`MAX_LEN`] sub-identifiers, each a `u32`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Oid(Vec<u32>);

/// Why a line is not an OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidError {
    Empty,
    /// A sub-identifier that is not a decimal number, or an empty one (`1..3`).
    BadSubId,
    /// A sub-identifier over 4294967295.
    TooLarge,
    /// More than [`MAX_LEN`] sub-identifiers.
    TooLong,
}

impl fmt::Display for OidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OidError::Empty => "empty OID",
            OidError::BadSubId => "OID sub-identifier is not a decimal number",
            OidError::TooLarge => "OID sub-identifier over 4294967295",
            OidError::TooLong => "OID with more than 128 sub-identifiers",
        })
    }
}

impl std::error::Error for OidError {}

impl Oid {
    /// Parses `1.3.6.1` or `.1.3.6.1`; surrounding blanks are ignored. Never panics.
    pub fn parse(text: &str) -> Result<Oid, OidError> {
        let text = text.trim();
        let text = text.strip_prefix('.').unwrap_or(text);
        if text.is_empty() {
            return Err(OidError::Empty);
        }
        let mut subs = Vec::new();
        for part in text.split('.') {
            if subs.len() == MAX_LEN {
                return Err(OidError::TooLong);
            }
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(OidError::BadSubId);
            }
            subs.push(part.parse::<u32>().map_err(|_| OidError::TooLarge)?);
        }
        Ok(Oid(subs))
    }

    /// An OID from sub-identifiers; `None` if there are none or more than [`MAX_LEN`].
    pub fn from_slice(subs: &[u32]) -> Option<Oid> {
        (1..=MAX_LEN)
            .contains(&subs.len())
            .then(|| Oid(subs.to_vec()))
    }

    pub fn as_slice(&self) -> &[u32] {
        &self.0
    }

    /// This OID with `subs` appended; `None` past [`MAX_LEN`].
    pub fn child(&self, subs: &[u32]) -> Option<Oid> {
        if self.0.len() + subs.len() > MAX_LEN {
            return None;
        }
        let mut v = self.0.clone();
        v.extend_from_slice(subs);
        Some(Oid(v))
    }

    /// Whether `self` is `prefix` or lies below it.
    pub fn starts_with(&self, prefix: &Oid) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

/// With a leading dot, as net-snmp writes OIDs to a `pass_persist` program.
impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for sub in &self.0 {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(s: &str) -> Oid {
        Oid::parse(s).unwrap()
    }

    #[test]
    fn parses_with_and_without_leading_dot() {
        assert_eq!(oid(".1.3.6.1").as_slice(), [1, 3, 6, 1]);
        assert_eq!(oid("1.3.6.1"), oid(".1.3.6.1"));
        assert_eq!(oid(" .1.3 \r"), oid("1.3"));
        assert_eq!(oid("0"), Oid(vec![0]));
        assert_eq!(oid("4294967295").as_slice(), [u32::MAX]);
        assert_eq!(oid(".1.3.6.1").to_string(), ".1.3.6.1");
    }

    #[test]
    fn rejects_what_is_not_an_oid() {
        let cases = [
            ("", OidError::Empty),
            (".", OidError::Empty),
            ("  ", OidError::Empty),
            ("1..3", OidError::BadSubId),
            ("1.3.", OidError::BadSubId),
            ("..1", OidError::BadSubId),
            ("1.x", OidError::BadSubId),
            ("1.+3", OidError::BadSubId),
            ("1.-3", OidError::BadSubId),
            ("iso.3", OidError::BadSubId),
            ("1.4294967296", OidError::TooLarge),
            ("1.99999999999999999999999", OidError::TooLarge),
        ];
        for (text, err) in cases {
            assert_eq!(Oid::parse(text), Err(err), "{text:?}");
        }
        let at_limit = vec!["1"; MAX_LEN].join(".");
        assert!(Oid::parse(&at_limit).is_ok());
        assert_eq!(Oid::parse(&format!("{at_limit}.1")), Err(OidError::TooLong));
    }

    #[test]
    fn order_is_snmp_lexicographic() {
        // A prefix sorts before its extensions; sub-identifiers compare as numbers.
        let sorted = [
            "1.3", "1.3.0", "1.3.6", "1.3.6.1", "1.3.6.2", "1.3.10", "1.4",
        ];
        for pair in sorted.windows(2) {
            assert!(oid(pair[0]) < oid(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn children_and_prefixes() {
        let base = oid("1.3.6");
        assert_eq!(base.child(&[1, 2]), Some(oid("1.3.6.1.2")));
        assert!(oid("1.3.6.1").starts_with(&base));
        assert!(base.starts_with(&base));
        assert!(!oid("1.3.7").starts_with(&base));
        assert!(!oid("1.3").starts_with(&base));
        let long = Oid::from_slice(&[1; MAX_LEN]).unwrap();
        assert_eq!(long.child(&[1]), None);
        assert_eq!(Oid::from_slice(&[]), None);
    }
}

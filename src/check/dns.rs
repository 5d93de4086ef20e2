//! DNS messages on the wire (RFC 1035): the one-question query a check sends and a checked
//! view of the answer.
//!
//! A `dns` check (and the lookup behind an `http` target with a host name) sends one `A`
//! or `AAAA` query with recursion desired and a random id, and accepts an answer only if
//! it echoes that id and question (name compared case-insensitively, RFC 4343; servers
//! may randomise the case of the name they echo). Names in answers may be compressed
//! (§4.1.4): every pointer must point before the name part it continues, which makes
//! loops impossible, and a name may not grow past 255 bytes. Address records are
//! followed through the answer's `CNAME` chain. Nothing here allocates.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Length of the fixed message header.
pub const HEADER_LEN: usize = 12;
/// Longest name in wire form, the root label included (RFC 1035 §3.1).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label.
pub const MAX_LABEL_LEN: usize = 63;
/// Largest answer over UDP without EDNS (RFC 1035 §4.2.1); a bigger one comes truncated.
pub const MAX_MESSAGE_LEN: usize = 512;
/// Addresses kept from one answer.
pub const MAX_ADDRS: usize = 4;
/// `CNAME` records followed from the question's name to the addresses.
const MAX_CNAMES: usize = 8;
/// Compression pointers followed in one name (they must also point backwards).
const MAX_POINTERS: usize = 32;

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_AAAA: u16 = 28;
pub const CLASS_IN: u16 = 1;

const FLAG_QR: u16 = 0x8000;
const OPCODE_MASK: u16 = 0x7800;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;
const RCODE_MASK: u16 = 0x000f;

/// Why bytes are not a usable answer to our query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Shorter than its header, question or records say.
    Truncated,
    /// A label type other than a plain label or a pointer (`0x40`, `0x80`).
    BadLabel,
    /// A compression pointer that does not point before the name part it continues.
    BadPointer,
    /// A name longer than 255 bytes.
    NameTooLong,
    /// QR is clear or the opcode is not QUERY.
    NotAnswer,
    /// Another id than our query's.
    OtherId,
    /// Another question than ours.
    OtherQuestion,
    /// An address record whose data is not 4 (A) or 16 (AAAA) bytes.
    BadRecord,
    /// The output buffer is too small for `emit`.
    BufferTooSmall,
}

impl Error {
    /// Whether the message is not an answer to our query at all (the runner ignores it
    /// and keeps waiting) rather than a broken answer to it (the check fails).
    pub fn is_unmatched(&self) -> bool {
        matches!(
            self,
            Error::NotAnswer | Error::OtherId | Error::OtherQuestion
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "message shorter than its contents",
            Error::BadLabel => "unknown label type",
            Error::BadPointer => "bad compression pointer",
            Error::NameTooLong => "name longer than 255 bytes",
            Error::NotAnswer => "not an answer",
            Error::OtherId => "another query's id",
            Error::OtherQuestion => "another question",
            Error::BadRecord => "bad address record",
            Error::BufferTooSmall => "buffer too small",
        })
    }
}

/// The record types a check asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    A,
    Aaaa,
}

impl RecordType {
    pub fn value(self) -> u16 {
        match self {
            RecordType::A => TYPE_A,
            RecordType::Aaaa => TYPE_AAAA,
        }
    }

    /// `A` for IPv4, `AAAA` for IPv6: what a WAN of that family can reach.
    pub fn for_ipv6(ipv6: bool) -> RecordType {
        if ipv6 {
            RecordType::Aaaa
        } else {
            RecordType::A
        }
    }

    fn data_len(self) -> usize {
        match self {
            RecordType::A => 4,
            RecordType::Aaaa => 16,
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
        })
    }
}

/// A response code (RFC 1035 §4.1.1, RFC 6895).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rcode(pub u8);

impl Rcode {
    pub const NOERROR: Rcode = Rcode(0);
    pub const FORMERR: Rcode = Rcode(1);
    pub const SERVFAIL: Rcode = Rcode(2);
    pub const NXDOMAIN: Rcode = Rcode(3);
    pub const NOTIMP: Rcode = Rcode(4);
    pub const REFUSED: Rcode = Rcode(5);
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = [
            "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
        ];
        match name.get(usize::from(self.0)) {
            Some(n) => f.write_str(n),
            None => write!(f, "rcode {}", self.0),
        }
    }
}

/// Why a configured name is not a host name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    Empty,
    EmptyLabel,
    LabelTooLong,
    TooLong,
    /// Only letters, digits, `-` and `_`.
    BadChar(char),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => f.write_str("empty name"),
            NameError::EmptyLabel => f.write_str("empty label (two dots in a row?)"),
            NameError::LabelTooLong => write!(f, "a label is longer than {MAX_LABEL_LEN} bytes"),
            NameError::TooLong => write!(f, "longer than {MAX_NAME_LEN} bytes"),
            NameError::BadChar(c) => write!(
                f,
                "{:?} is not allowed: letters, digits, '-' and '_' only",
                c
            ),
        }
    }
}

/// A domain name in wire form (length-prefixed labels ending in the root label), in lower
/// case so that equality is the case-insensitive comparison DNS wants.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name {
    wire: heapless::Vec<u8, MAX_NAME_LEN>,
}

impl Name {
    /// A host name as written in the config: `example.com` (a final dot is allowed).
    pub fn from_dotted(text: &str) -> Result<Name, NameError> {
        let text = text.strip_suffix('.').unwrap_or(text);
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        let mut wire = heapless::Vec::new();
        for label in text.split('.') {
            if label.is_empty() {
                return Err(NameError::EmptyLabel);
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
            let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
            if let Some(c) = label.chars().find(|&c| !ok(c)) {
                return Err(NameError::BadChar(c));
            }
            let len = label.len() as u8; // at most 63
            wire.push(len).map_err(|_| NameError::TooLong)?;
            for b in label.bytes() {
                wire.push(b.to_ascii_lowercase())
                    .map_err(|_| NameError::TooLong)?;
            }
        }
        wire.push(0).map_err(|_| NameError::TooLong)?;
        Ok(Name { wire })
    }

    /// Reads the (possibly compressed) name at `at` in `msg`; returns it and the offset
    /// just after it in place.
    pub fn parse(msg: &[u8], at: usize) -> Result<(Name, usize), Error> {
        let mut wire = heapless::Vec::<u8, MAX_NAME_LEN>::new();
        let (mut pos, mut limit, mut end) = (at, at, None);
        for _ in 0..=MAX_POINTERS {
            loop {
                let len = *msg.get(pos).ok_or(Error::Truncated)?;
                match len & 0xc0 {
                    0x00 => {
                        let n = usize::from(len);
                        let label = msg.get(pos + 1..pos + 1 + n).ok_or(Error::Truncated)?;
                        wire.push(len).map_err(|_| Error::NameTooLong)?;
                        for b in label {
                            let lower = b.to_ascii_lowercase();
                            wire.push(lower).map_err(|_| Error::NameTooLong)?;
                        }
                        pos += 1 + n;
                        if n == 0 {
                            return Ok((Name { wire }, end.unwrap_or(pos)));
                        }
                    }
                    0xc0 => break,
                    _ => return Err(Error::BadLabel),
                }
            }
            let low = *msg.get(pos + 1).ok_or(Error::Truncated)?;
            let target = usize::from(u16::from_be_bytes([msg[pos] & 0x3f, low]));
            end.get_or_insert(pos + 2);
            // Compression points at a name written earlier: strictly before the part this
            // pointer continues. Each jump goes lower, so no loop can form.
            if target >= limit {
                return Err(Error::BadPointer);
            }
            (pos, limit) = (target, target);
        }
        Err(Error::BadPointer)
    }

    /// The wire form, root label included.
    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    /// The labels, in order.
    fn labels(&self) -> impl Iterator<Item = &[u8]> {
        let mut at = 0;
        core::iter::from_fn(move || {
            let len = usize::from(*self.wire.get(at)?);
            let label = self.wire.get(at + 1..at + 1 + len)?;
            at += 1 + len;
            (len > 0).then_some(label)
        })
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            for &b in label {
                if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                    write!(f, "{}", char::from(b))?;
                } else {
                    write!(f, "\\{b:03}")?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// A checked view of a DNS message: the header fields, in bounds once
/// [`Message::new_checked`] succeeded.
#[derive(Debug, Clone, Copy)]
pub struct Message<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Message<T> {
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Message { buffer })
    }

    fn be16(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    pub fn id(&self) -> u16 {
        self.be16(0)
    }

    pub fn flags(&self) -> u16 {
        self.be16(2)
    }

    /// QR: this is a response.
    pub fn is_response(&self) -> bool {
        self.flags() & FLAG_QR != 0
    }

    pub fn opcode(&self) -> u8 {
        ((self.flags() & OPCODE_MASK) >> 11) as u8
    }

    /// TC: the server cut the answer short.
    pub fn truncated(&self) -> bool {
        self.flags() & FLAG_TC != 0
    }

    pub fn recursion_desired(&self) -> bool {
        self.flags() & FLAG_RD != 0
    }

    pub fn rcode(&self) -> Rcode {
        Rcode((self.flags() & RCODE_MASK) as u8)
    }

    pub fn question_count(&self) -> u16 {
        self.be16(4)
    }

    pub fn answer_count(&self) -> u16 {
        self.be16(6)
    }

    /// The whole message (names in it may point anywhere before themselves).
    pub fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Message<T> {
    fn set_be16(&mut self, at: usize, v: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_id(&mut self, v: u16) {
        self.set_be16(0, v);
    }

    pub fn set_flags(&mut self, v: u16) {
        self.set_be16(2, v);
    }

    /// Sets QDCOUNT, ANCOUNT, NSCOUNT and ARCOUNT.
    pub fn set_counts(&mut self, counts: [u16; 4]) {
        for (i, c) in counts.into_iter().enumerate() {
            self.set_be16(4 + 2 * i, c);
        }
    }
}

/// The query of a check: one question, recursion desired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryRepr<'a> {
    /// Random, drawn by the caller for every query.
    pub id: u16,
    pub name: &'a Name,
    pub qtype: RecordType,
}

impl QueryRepr<'_> {
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.name.as_wire().len() + 4
    }

    /// Writes the query; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let len = self.buffer_len();
        let out = buf.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        let mut msg = Message::new_checked(&mut out[..])?;
        msg.set_id(self.id);
        msg.set_flags(FLAG_RD);
        msg.set_counts([1, 0, 0, 0]);
        let name = self.name.as_wire();
        let (q, rest) = out[HEADER_LEN..].split_at_mut(name.len());
        q.copy_from_slice(name);
        rest[..2].copy_from_slice(&self.qtype.value().to_be_bytes());
        rest[2..4].copy_from_slice(&CLASS_IN.to_be_bytes());
        Ok(len)
    }
}

/// An answer to our query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub rcode: Rcode,
    /// TC: cut short; a check counts it as failed.
    pub truncated: bool,
    /// Addresses of the type asked for, owned by the name asked for or its CNAME target
    /// (at most [`MAX_ADDRS`]).
    pub addrs: heapless::Vec<IpAddr, MAX_ADDRS>,
    /// The smallest TTL of the records that led to the addresses, in seconds.
    pub ttl_s: u32,
}

/// A resource record's fixed fields after its owner name.
struct Record {
    rtype: u16,
    class: u16,
    ttl_s: u32,
    /// Offset and length of the data.
    data: (usize, usize),
}

fn record_at(msg: &[u8], at: usize) -> Result<(Name, Record, usize), Error> {
    let (owner, at) = Name::parse(msg, at)?;
    let fixed = msg.get(at..at + 10).ok_or(Error::Truncated)?;
    let be16 = |i: usize| u16::from_be_bytes([fixed[i], fixed[i + 1]]);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let len = usize::from(be16(8));
    let data_at = at + 10;
    if msg.len() < data_at + len {
        return Err(Error::Truncated);
    }
    // RFC 2181 §8: a TTL with the top bit set is to be taken as zero.
    let ttl_s = if ttl > i32::MAX as u32 { 0 } else { ttl };
    let record = Record {
        rtype: be16(0),
        class: be16(2),
        ttl_s,
        data: (data_at, len),
    };
    Ok((owner, record, data_at + len))
}

/// Reads `msg` as the answer to `query`. Errors for which [`Error::is_unmatched`] holds
/// mean "not ours"; the others mean a broken answer to our query.
pub fn parse_answer(msg: &[u8], query: &QueryRepr<'_>) -> Result<Answer, Error> {
    let m = Message::new_checked(msg)?;
    if !m.is_response() || m.opcode() != 0 {
        return Err(Error::NotAnswer);
    }
    if m.id() != query.id {
        return Err(Error::OtherId);
    }
    let mut answer = Answer {
        rcode: m.rcode(),
        truncated: m.truncated(),
        addrs: heapless::Vec::new(),
        ttl_s: u32::MAX,
    };
    // A server refusing or failing may leave the question out; the id still matched.
    if m.question_count() == 0 && answer.rcode != Rcode::NOERROR {
        return Ok(answer);
    }
    if m.question_count() != 1 {
        return Err(Error::OtherQuestion);
    }
    let (qname, at) = Name::parse(msg, HEADER_LEN)?;
    let q = msg.get(at..at + 4).ok_or(Error::Truncated)?;
    let (qtype, qclass) = (
        u16::from_be_bytes([q[0], q[1]]),
        u16::from_be_bytes([q[2], q[3]]),
    );
    if qname != *query.name || qtype != query.qtype.value() || qclass != CLASS_IN {
        return Err(Error::OtherQuestion);
    }
    if answer.rcode == Rcode::NOERROR && !answer.truncated {
        read_addresses(msg, at + 4, m.answer_count(), query, &mut answer)?;
    }
    if answer.addrs.is_empty() {
        answer.ttl_s = 0;
    }
    Ok(answer)
}

/// Collects the addresses of `query.qtype` through the answer section's CNAME chain.
fn read_addresses(
    msg: &[u8],
    mut at: usize,
    count: u16,
    query: &QueryRepr<'_>,
    answer: &mut Answer,
) -> Result<(), Error> {
    let mut owner_wanted = query.name.clone();
    let mut chain_ttl = u32::MAX;
    let mut cnames = 0;
    for _ in 0..count {
        let (owner, rec, next) = record_at(msg, at)?;
        at = next;
        if rec.class != CLASS_IN || owner != owner_wanted {
            continue;
        }
        let (data_at, len) = rec.data;
        if rec.rtype == TYPE_CNAME && cnames < MAX_CNAMES {
            let (target, _) = Name::parse(msg, data_at)?;
            owner_wanted = target;
            chain_ttl = chain_ttl.min(rec.ttl_s);
            cnames += 1;
        } else if rec.rtype == query.qtype.value() {
            if len != query.qtype.data_len() {
                return Err(Error::BadRecord);
            }
            let data = &msg[data_at..data_at + len];
            let addr = match query.qtype {
                RecordType::A => IpAddr::V4(Ipv4Addr::new(data[0], data[1], data[2], data[3])),
                RecordType::Aaaa => {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(data);
                    IpAddr::V6(Ipv6Addr::from(b))
                }
            };
            if answer.addrs.push(addr).is_ok() {
                answer.ttl_s = answer.ttl_s.min(rec.ttl_s).min(chain_ttl);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

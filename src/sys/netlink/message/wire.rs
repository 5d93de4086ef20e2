//! Checked views of the fixed netlink headers, in the manner of smoltcp's `wire` module.
//!
//! A view (`NlMsg<T>`, `RtMsg<T>`, …) wraps a buffer `T: AsRef<[u8]>`; `new_checked`
//! verifies once that the structure fits, after which every accessor reads a named field
//! (in host byte order, as netlink is) without further checks. With `T: AsMut<[u8]>` the
//! setters write them. A `…Repr` is the parsed form of the fields the daemon uses, with
//! `parse` from a view and `emit` into one. Field offsets are those of the kernel's UAPI
//! structures (`linux/netlink.h`, `linux/rtnetlink.h`, `linux/if_link.h`,
//! `linux/if_addr.h`).

use core::ops::Range;

use super::ParseError;

type Field = Range<usize>;

/// A fixed header (or payload) is shorter than its structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;

fn u16_at(b: &[u8], f: Field) -> u16 {
    let mut a = [0; 2];
    a.copy_from_slice(&b[f]);
    u16::from_ne_bytes(a)
}

fn u32_at(b: &[u8], f: Field) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[f]);
    u32::from_ne_bytes(a)
}

fn u64_at(b: &[u8], f: Field) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[f]);
    u64::from_ne_bytes(a)
}

/// `NLMSG_ALIGN` / `RTA_ALIGN`: 4 bytes.
pub fn align(len: usize) -> usize {
    const ALIGNTO: usize = 4;
    (len + ALIGNTO - 1) & !(ALIGNTO - 1)
}

/// Declares a view: the struct, `new_unchecked`, `new_checked` (the buffer holds at least
/// `LEN` bytes) and `into_inner`.
macro_rules! view {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// The size of the structure.
            pub const LEN: usize = $len;

            /// A view without checking the length: accessors may panic on a short buffer.
            pub const fn new_unchecked(buffer: T) -> $name<T> {
                $name { buffer }
            }

            /// A view of a buffer that holds at least the whole structure.
            pub fn new_checked(buffer: T) -> Result<$name<T>, Truncated> {
                if buffer.as_ref().len() < Self::LEN {
                    return Err(Truncated);
                }
                Ok($name { buffer })
            }

            pub fn into_inner(self) -> T {
                self.buffer
            }

            /// What follows the structure (attributes, for the rtnetlink headers).
            pub fn rest(&self) -> &[u8] {
                &self.buffer.as_ref()[Self::LEN..]
            }
        }
    };
}

/// Declares getters (and, for writable buffers, setters) of fixed fields.
macro_rules! fields {
    ($name:ident { $($(#[$doc:meta])* $get:ident / $set:ident : $ty:ty = $read:ident $at:expr;)* }) => {
        impl<T: AsRef<[u8]>> $name<T> {
            $(
                $(#[$doc])*
                pub fn $get(&self) -> $ty {
                    fields!(@read $read, self.buffer.as_ref(), $at)
                }
            )*
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> $name<T> {
            $(
                pub fn $set(&mut self, value: $ty) {
                    fields!(@write $read, self.buffer.as_mut(), $at, value)
                }
            )*
        }
    };
    (@read byte, $b:expr, $at:expr) => { $b[$at] };
    (@read u16, $b:expr, $at:expr) => { u16_at($b, $at) };
    (@read u32, $b:expr, $at:expr) => { u32_at($b, $at) };
    (@read i32, $b:expr, $at:expr) => { u32_at($b, $at) as i32 };
    (@write byte, $b:expr, $at:expr, $v:expr) => { $b[$at] = $v };
    (@write u16, $b:expr, $at:expr, $v:expr) => { $b[$at].copy_from_slice(&$v.to_ne_bytes()) };
    (@write u32, $b:expr, $at:expr, $v:expr) => { $b[$at].copy_from_slice(&$v.to_ne_bytes()) };
    (@write i32, $b:expr, $at:expr, $v:expr) => { $b[$at].copy_from_slice(&$v.to_ne_bytes()) };
}

// ----- struct nlmsghdr --------------------------------------------------------------------

view!(
    /// `struct nlmsghdr` and the message it starts.
    NlMsg,
    16
);

fields!(NlMsg {
    /// `nlmsg_len`: the whole message, header included.
    nlmsg_len / set_nlmsg_len: u32 = u32 0..4;
    nlmsg_type / set_nlmsg_type: u16 = u16 4..6;
    nlmsg_flags / set_nlmsg_flags: u16 = u16 6..8;
    nlmsg_seq / set_nlmsg_seq: u32 = u32 8..12;
    nlmsg_pid / set_nlmsg_pid: u32 = u32 12..16;
});

impl<T: AsRef<[u8]>> NlMsg<T> {
    /// A view of the message at the start of `buffer`: the header fits and `nlmsg_len`
    /// covers it without running past the buffer.
    pub fn new_message(buffer: T) -> Result<NlMsg<T>, ParseError> {
        let msg = NlMsg::new_checked(buffer).map_err(|_| ParseError::TruncatedHeader)?;
        let nlmsg_len = msg.nlmsg_len();
        let len = usize::try_from(nlmsg_len).unwrap_or(usize::MAX);
        if len < Self::LEN || len > msg.buffer.as_ref().len() {
            return Err(ParseError::BadLength { nlmsg_len });
        }
        Ok(msg)
    }

    /// The payload, up to `nlmsg_len` (checked by [`NlMsg::new_message`]).
    pub fn payload(&self) -> &[u8] {
        let len = self.nlmsg_len() as usize;
        &self.buffer.as_ref()[Self::LEN..len]
    }

    /// Where the next message of the datagram starts, after alignment padding (the last
    /// message may lack it).
    pub fn next_offset(&self) -> usize {
        align(self.nlmsg_len() as usize)
    }
}

/// The messages of one datagram as checked views. A broken netlink header ends the
/// iteration (there is no way to find the next message).
#[derive(Debug, Clone)]
pub struct NlMsgs<'a> {
    rest: &'a [u8],
}

impl<'a> NlMsgs<'a> {
    pub fn new(datagram: &'a [u8]) -> NlMsgs<'a> {
        NlMsgs { rest: datagram }
    }
}

impl<'a> Iterator for NlMsgs<'a> {
    type Item = Result<NlMsg<&'a [u8]>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match NlMsg::new_message(self.rest) {
            Ok(msg) => {
                self.rest = self.rest.get(msg.next_offset()..).unwrap_or(&[]);
                Some(Ok(msg))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// The header fields of a message we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsgRepr {
    pub nlmsg_type: u16,
    pub flags: u16,
    pub seq: u32,
}

impl NlMsgRepr {
    /// Writes the header for a message of `len` bytes in all. `nlmsg_pid` is 0: the kernel
    /// knows who is asking.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, msg: &mut NlMsg<T>, len: u32) {
        msg.set_nlmsg_len(len);
        msg.set_nlmsg_type(self.nlmsg_type);
        msg.set_nlmsg_flags(self.flags);
        msg.set_nlmsg_seq(self.seq);
        msg.set_nlmsg_pid(0);
    }
}

// ----- struct nlmsgerr --------------------------------------------------------------------

view!(
    /// `struct nlmsgerr { int error; struct nlmsghdr msg; }`: the answer to a request, with
    /// the request's header (maybe followed by its payload and extended-ACK attributes).
    NlMsgErr,
    4 + 16
);

fields!(NlMsgErr {
    /// 0 for an ACK, else a negative errno.
    error / set_error: i32 = i32 0..4;
});

impl<T: AsRef<[u8]>> NlMsgErr<T> {
    /// The header of the request answered.
    pub fn request(&self) -> NlMsg<&[u8]> {
        NlMsg::new_unchecked(&self.buffer.as_ref()[4..Self::LEN])
    }
}

/// The `int` that follows the header of `NLMSG_DONE`: 0, or the failed dump's negative
/// errno. Older kernels may send none.
pub fn done_error(payload: &[u8]) -> i32 {
    if payload.len() >= 4 {
        u32_at(payload, 0..4) as i32
    } else {
        0
    }
}

// ----- struct rtmsg -----------------------------------------------------------------------

view!(
    /// `struct rtmsg`, followed by the route's attributes.
    RtMsg,
    12
);

fields!(RtMsg {
    family / set_family: u8 = byte 0;
    dst_len / set_dst_len: u8 = byte 1;
    src_len / set_src_len: u8 = byte 2;
    tos / set_tos: u8 = byte 3;
    /// `rtm_table`; a table above 255 is `RT_TABLE_UNSPEC` here and in `RTA_TABLE`.
    table / set_table: u8 = byte 4;
    protocol / set_protocol: u8 = byte 5;
    scope / set_scope: u8 = byte 6;
    /// `rtm_type` (`RTN_*`).
    kind / set_kind: u8 = byte 7;
    flags / set_flags: u32 = u32 8..12;
});

/// The `rtmsg` fields of a route request or dump.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtMsgRepr {
    pub family: u8,
    pub dst_len: u8,
    pub table: u8,
    pub protocol: u8,
    pub scope: u8,
    pub kind: u8,
}

impl RtMsgRepr {
    pub fn parse<T: AsRef<[u8]>>(rtm: &RtMsg<T>) -> RtMsgRepr {
        RtMsgRepr {
            family: rtm.family(),
            dst_len: rtm.dst_len(),
            table: rtm.table(),
            protocol: rtm.protocol(),
            scope: rtm.scope(),
            kind: rtm.kind(),
        }
    }

    /// Writes every field (source length, TOS and flags are 0).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, rtm: &mut RtMsg<T>) {
        rtm.set_family(self.family);
        rtm.set_dst_len(self.dst_len);
        rtm.set_src_len(0);
        rtm.set_tos(0);
        rtm.set_table(self.table);
        rtm.set_protocol(self.protocol);
        rtm.set_scope(self.scope);
        rtm.set_kind(self.kind);
        rtm.set_flags(0);
    }
}

// ----- struct fib_rule_hdr ----------------------------------------------------------------

view!(
    /// `struct fib_rule_hdr` (`linux/fib_rules.h`), followed by the rule's attributes.
    FibRuleHdr,
    12
);

fields!(FibRuleHdr {
    family / set_family: u8 = byte 0;
    dst_len / set_dst_len: u8 = byte 1;
    src_len / set_src_len: u8 = byte 2;
    tos / set_tos: u8 = byte 3;
    /// The table when it fits in 8 bits; else `RT_TABLE_UNSPEC` and `FRA_TABLE`.
    table / set_table: u8 = byte 4;
    res1 / set_res1: u8 = byte 5;
    res2 / set_res2: u8 = byte 6;
    /// `FR_ACT_*`.
    action / set_action: u8 = byte 7;
    /// `FIB_RULE_*`.
    flags / set_flags: u32 = u32 8..12;
});

// ----- struct rtnexthop -------------------------------------------------------------------

view!(
    /// `struct rtnexthop`: one next hop of `RTA_MULTIPATH`, followed by its own attributes
    /// (`RTA_GATEWAY`) up to `rtnh_len`.
    RtNexthop,
    8
);

fields!(RtNexthop {
    /// The whole next hop, attributes included.
    rtnh_len / set_rtnh_len: u16 = u16 0..2;
    /// `RTNH_F_*`.
    flags / set_flags: u8 = byte 2;
    /// The weight minus one.
    hops / set_hops: u8 = byte 3;
    ifindex / set_ifindex: u32 = u32 4..8;
});

// ----- struct ifinfomsg -------------------------------------------------------------------

view!(
    /// `struct ifinfomsg`, followed by the link's attributes.
    IfInfoMsg,
    16
);

fields!(IfInfoMsg {
    family / set_family: u8 = byte 0;
    /// `ifi_type` (`ARPHRD_*`).
    link_type / set_link_type: u16 = u16 2..4;
    index / set_index: u32 = u32 4..8;
    /// `ifi_flags` (`IFF_*`).
    flags / set_flags: u32 = u32 8..12;
    change / set_change: u32 = u32 12..16;
});

/// The `ifinfomsg` fields of a link request: which link (0 for all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfInfoMsgRepr {
    pub index: u32,
}

impl IfInfoMsgRepr {
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, ifi: &mut IfInfoMsg<T>) {
        ifi.set_family(0);
        ifi.buffer.as_mut()[1] = 0; // padding
        ifi.set_link_type(0);
        ifi.set_index(self.index);
        ifi.set_flags(0);
        ifi.set_change(0);
    }
}

// ----- struct ifaddrmsg -------------------------------------------------------------------

view!(
    /// `struct ifaddrmsg`, followed by the address's attributes.
    IfAddrMsg,
    8
);

fields!(IfAddrMsg {
    family / set_family: u8 = byte 0;
    prefix_len / set_prefix_len: u8 = byte 1;
    /// `ifa_flags`: the low 8 bits of the flags (all of them are in `IFA_FLAGS`).
    flags / set_flags: u8 = byte 2;
    scope / set_scope: u8 = byte 3;
    index / set_index: u32 = u32 4..8;
});

// ----- struct rtattr and what the daemon reads from attributes ---------------------------

/// Upper bound on attributes read from one message: the kernel never sends more than a few
/// dozen for the structures decoded here; a flood of tiny attributes is hostile input.
pub const MAX_ATTRS: usize = 512;

/// One `struct rtattr` (`rta_len`, `rta_type`) and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    /// `rta_type` without `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER`.
    pub kind: u16,
    pub value: &'a [u8],
}

impl Attr<'_> {
    /// A `u32` value; `None` when the value is shorter.
    pub fn u32(&self) -> Option<u32> {
        (self.value.len() >= 4).then(|| u32_at(self.value, 0..4))
    }

    /// The first byte.
    pub fn u8(&self) -> Option<u8> {
        self.value.first().copied()
    }
}

/// The attributes after a fixed header, bounds-checked and capped at [`MAX_ATTRS`].
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    nlmsg_type: u16,
    rest: &'a [u8],
    count: usize,
}

impl<'a> Attrs<'a> {
    /// `nlmsg_type` names the message in errors.
    pub fn new(nlmsg_type: u16, rest: &'a [u8]) -> Attrs<'a> {
        Attrs {
            nlmsg_type,
            rest,
            count: 0,
        }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Fewer than 4 trailing bytes are padding, not an attribute.
        if self.rest.len() < 4 {
            return None;
        }
        self.count += 1;
        let nlmsg_type = self.nlmsg_type;
        if self.count > MAX_ATTRS {
            self.rest = &[];
            return Some(Err(ParseError::TooManyAttrs { nlmsg_type }));
        }
        let len = usize::from(u16_at(self.rest, 0..2));
        let rta_type = u16_at(self.rest, 2..4) & libc::NLA_TYPE_MASK as u16;
        if len < 4 || len > self.rest.len() {
            self.rest = &[];
            return Some(Err(ParseError::BadAttr {
                nlmsg_type,
                rta_type,
            }));
        }
        let value = &self.rest[4..len];
        self.rest = self.rest.get(align(len)..).unwrap_or(&[]);
        Some(Ok(Attr {
            kind: rta_type,
            value,
        }))
    }
}

/// Appends one attribute, padded to alignment.
pub fn emit_attr(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = u16::try_from(4 + value.len()).expect("invariant: our attributes are tiny");
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(value);
    buf.resize(align(buf.len()), 0);
}

/// `struct rtnl_link_stats64` (`IFLA_STATS64`): the byte counters, `(rx, tx)`.
pub fn link_stats64_bytes(value: &[u8]) -> Option<(u64, u64)> {
    // { rx_packets, tx_packets, rx_bytes, tx_bytes, ... }, all __u64
    const RX_BYTES: Field = 16..24;
    const TX_BYTES: Field = 24..32;
    (value.len() >= TX_BYTES.end).then(|| (u64_at(value, RX_BYTES), u64_at(value, TX_BYTES)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_check_their_length_once() {
        assert_eq!(RtMsg::new_checked(&[0u8; 11][..]), Err(Truncated));
        assert!(RtMsg::new_checked(&[0u8; 12][..]).is_ok());
        assert_eq!(IfInfoMsg::new_checked(&[0u8; 15][..]), Err(Truncated));
        assert_eq!(IfAddrMsg::new_checked(&[0u8; 7][..]), Err(Truncated));
        assert_eq!(NlMsgErr::new_checked(&[0u8; 19][..]), Err(Truncated));
        assert_eq!(
            NlMsg::new_message(&[0u8; 15][..]),
            Err(ParseError::TruncatedHeader)
        );
    }

    #[test]
    fn setters_and_getters_meet() {
        let mut b = [0u8; 12];
        let mut rtm = RtMsg::new_unchecked(&mut b[..]);
        let repr = RtMsgRepr {
            family: 10,
            dst_len: 0,
            table: 254,
            protocol: 87,
            scope: 253,
            kind: 1,
        };
        repr.emit(&mut rtm);
        assert_eq!(RtMsgRepr::parse(&rtm), repr);
        assert_eq!(b, [10, 0, 0, 0, 254, 87, 253, 1, 0, 0, 0, 0]);
        let mut h = [0u8; 16];
        let mut msg = NlMsg::new_unchecked(&mut h[..]);
        msg.set_nlmsg_len(16);
        msg.set_nlmsg_seq(7);
        assert_eq!((msg.nlmsg_len(), msg.nlmsg_seq()), (16, 7));
        assert!(msg.payload().is_empty());
    }

    #[test]
    fn short_attribute_values_read_as_none() {
        let a = Attr {
            kind: 4,
            value: &[1, 2, 3],
        };
        assert_eq!((a.u32(), a.u8()), (None, Some(1)));
        assert_eq!(link_stats64_bytes(&[0; 31]), None);
    }
}

//! The body encoding of control frames: the postcard 1.x wire format
//! (`docs/control-protocol.md` §3), written out for the few types the protocol carries.
//! Pure: values in, bytes out, and back.
//!
//! A derived serde codec generates a visitor per type and per direction; these few lines per
//! type do the same work in a fraction of the binary. The decoder accepts exactly what
//! postcard accepts: varints of at most as many bytes as the type needs, without bits beyond
//! its width in the last one (non-minimal ones included), `00`/`01` for a bool or an option,
//! UTF-8 strings, and variant tags the enum knows. Lengths are `usize` varints, as postcard
//! reads them (32 bits wide on a 32-bit target).

use super::protocol::{Counters, Request, Response};
use crate::engine::{
    FamilyStatus, HistoryEntry, MultipathHop, PolicyStatus, RoutingStatus, TargetHealth,
    WanCounters, WanHealth, WanStatus,
};

/// A value that can be written as a body, or as a part of one.
pub trait Encode {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);
}

/// A value that can be read from a body, or from a part of one.
pub trait Decode {
    /// Reads one value from the front of `r`. Bytes that are not one mark the reader
    /// failed, and what is returned then is a placeholder that [`decode_all`] discards.
    fn decode(r: &mut Reader) -> Self;
}

/// Reads the whole of `body` as one `T`: `None` when it is not one, or when bytes follow.
pub fn decode_all<T: Decode>(body: &[u8]) -> Option<T> {
    let mut r = Reader {
        rest: body,
        failed: false,
    };
    let value = T::decode(&mut r);
    (!r.failed && r.rest.is_empty()).then_some(value)
}

/// The unread rest of a body. Errors are sticky, as in a stream: after the first one
/// every read fails and takes nothing, so a message is decoded straight through and
/// judged once at the end, with no error path per field.
pub struct Reader<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Reader<'a> {
    /// The next value, of a type the caller's field or variable names.
    pub fn get<T: Decode>(&mut self) -> T {
        T::decode(self)
    }

    /// Marks the reader failed: nothing more is read.
    fn fail(&mut self) {
        self.failed = true;
        self.rest = &[];
    }

    fn byte(&mut self) -> Option<u8> {
        match self.rest.split_first() {
            Some((&first, rest)) => {
                self.rest = rest;
                Some(first)
            }
            None => {
                self.fail();
                None
            }
        }
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.rest.len() {
            self.fail();
            return None;
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(taken)
    }

    /// A varint of an unsigned integer `bits` wide: at most `ceil(bits / 7)` bytes, the
    /// last of them without bits beyond the width.
    fn uint(&mut self, bits: u32) -> Option<u64> {
        let max_len = bits.div_ceil(7);
        let mut value = 0u64;
        for i in 0..max_len {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if i + 1 < max_len || byte < 1 << (bits % 7) {
                    return Some(value);
                }
                break;
            }
        }
        self.fail();
        None
    }

    /// A length or a count (0 once failed).
    fn len(&mut self) -> usize {
        self.uint(usize::BITS)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
    }

    /// A bool or an option's tag (false once failed).
    fn flag(&mut self) -> bool {
        match self.byte() {
            Some(0) | None => false,
            Some(1) => true,
            Some(_) => {
                self.fail();
                false
            }
        }
    }
}

fn put_uint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

macro_rules! uint {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                put_uint(out, u64::from(*self));
            }
        }

        impl Decode for $t {
            fn decode(r: &mut Reader) -> $t {
                // The varint's width check keeps the value within the type.
                r.uint(<$t>::BITS)
                    .and_then(|v| <$t>::try_from(v).ok())
                    .unwrap_or(0)
            }
        }
    )*};
}

uint!(u16, u32, u64);

impl Encode for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl Decode for bool {
    fn decode(r: &mut Reader) -> bool {
        r.flag()
    }
}

impl Encode for String {
    fn encode(&self, out: &mut Vec<u8>) {
        put_uint(out, self.len() as u64);
        out.extend_from_slice(self.as_bytes());
    }
}

impl Decode for String {
    fn decode(r: &mut Reader) -> String {
        let len = r.len();
        match r.take(len).map(std::str::from_utf8) {
            Some(Ok(text)) => text.to_string(),
            Some(Err(_)) => {
                r.fail();
                String::new()
            }
            None => String::new(),
        }
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                value.encode(out);
            }
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(r: &mut Reader) -> Option<T> {
        r.flag().then(|| r.get())
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        put_uint(out, self.len() as u64);
        for item in self {
            item.encode(out);
        }
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader) -> Vec<T> {
        let len = r.len();
        // No capacity from the count: it is the peer's claim. Every item takes at least
        // one byte, so a false count fails at the end of the body, and the loop ends there.
        let mut items = Vec::new();
        while items.len() < len && !r.failed {
            items.push(r.get());
        }
        items
    }
}

/// A struct: its fields in declaration order, nothing in between. The decoder's struct
/// expression reads them in the order written, which is that same order.
macro_rules! fields {
    ($t:ident { $($field:ident),* $(,)? }) => {
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                $(self.$field.encode(out);)*
            }
        }

        impl Decode for $t {
            fn decode(r: &mut Reader) -> $t {
                $t { $($field: r.get(),)* }
            }
        }
    };
}

fields!(WanStatus {
    name,
    interface,
    state,
    priority,
    metric,
    active,
    preferred,
    latency_us,
    jitter_us,
    loss_centi_pct,
    rx_bps,
    tx_bps,
    since_ms,
    late_rounds,
    families,
    priority_auto,
    device,
});
fields!(FamilyStatus {
    family,
    state,
    metric,
    active,
    latency_us,
    jitter_us,
    loss_centi_pct,
    since_ms,
});
fields!(HistoryEntry {
    at_us,
    kind,
    wan,
    from,
    to,
    cause,
    family,
});
fields!(Counters {
    decision_passes,
    route_dumps,
    netlink_overruns,
    netlink_parse_errors,
    multipath_skipped,
    switches,
    uptime_ms,
    wans,
});
fields!(WanCounters {
    name,
    rx_bytes,
    tx_bytes,
    probes_sent,
    probes_lost,
});
fields!(WanHealth {
    name,
    state,
    targets
});
fields!(TargetHealth {
    kind,
    target,
    result,
    rtt_us,
    loss_centi_pct,
    cause,
    failed_ago_ms,
});
fields!(RoutingStatus {
    mode,
    sticky,
    multipath,
    policies,
    flushes,
    flushed,
});
fields!(MultipathHop { wan, weight });
fields!(PolicyStatus {
    name,
    wan,
    uses,
    blocked
});

/// A variant tag: a `u32` varint.
fn put_tag(out: &mut Vec<u8>, tag: u32) {
    put_uint(out, u64::from(tag));
}

impl Encode for Request {
    fn encode(&self, out: &mut Vec<u8>) {
        let tag = match self {
            Request::Version => 0,
            Request::Status => 1,
            Request::History => 2,
            Request::Prefer(_) => 3,
            Request::Auto => 4,
            Request::Order(_) => 5,
            Request::Reload => 6,
            Request::Stop => 7,
            Request::Counters => 8,
            Request::Health => 9,
            Request::Routing => 10,
        };
        put_tag(out, tag);
        match self {
            Request::Prefer(name) => name.encode(out),
            Request::Order(names) => names.encode(out),
            _ => {}
        }
    }
}

impl Decode for Request {
    fn decode(r: &mut Reader) -> Request {
        match r.get::<u32>() {
            0 => Request::Version,
            1 => Request::Status,
            2 => Request::History,
            3 => Request::Prefer(r.get()),
            4 => Request::Auto,
            5 => Request::Order(r.get()),
            6 => Request::Reload,
            7 => Request::Stop,
            8 => Request::Counters,
            9 => Request::Health,
            10 => Request::Routing,
            _ => {
                r.fail();
                Request::Version
            }
        }
    }
}

impl Encode for Response {
    fn encode(&self, out: &mut Vec<u8>) {
        let tag = match self {
            Response::Ok => 0,
            Response::Error(_) => 1,
            Response::Denied(_) => 2,
            Response::Version(_) => 3,
            Response::Status(_) => 4,
            Response::History { .. } => 5,
            Response::Counters(_) => 6,
            Response::Health(_) => 7,
            Response::Routing(_) => 8,
        };
        put_tag(out, tag);
        match self {
            Response::Ok => {}
            Response::Error(text) | Response::Denied(text) | Response::Version(text) => {
                text.encode(out)
            }
            Response::Status(rows) => rows.encode(out),
            Response::History { now_us, entries } => {
                now_us.encode(out);
                entries.encode(out);
            }
            Response::Counters(counters) => counters.encode(out),
            Response::Health(wans) => wans.encode(out),
            Response::Routing(routing) => routing.encode(out),
        }
    }
}

impl Decode for Response {
    fn decode(r: &mut Reader) -> Response {
        match r.get::<u32>() {
            0 => Response::Ok,
            1 => Response::Error(r.get()),
            2 => Response::Denied(r.get()),
            3 => Response::Version(r.get()),
            4 => Response::Status(r.get()),
            5 => Response::History {
                now_us: r.get(),
                entries: r.get(),
            },
            6 => Response::Counters(r.get()),
            7 => Response::Health(r.get()),
            8 => Response::Routing(r.get()),
            _ => {
                r.fail();
                Response::Ok
            }
        }
    }
}

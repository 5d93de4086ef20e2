//! ICMP/ICMPv6 echo probes through each WAN.
//!
//! - [`packet`]: the wire format (pure): echo request/reply, the IPv4 header in front of
//!   raw IPv4 receives, the Internet checksum, the probe payload.
//! - [`quoted`]: ICMP errors (unreachable, time exceeded) quoting one of our requests.
//! - [`matcher`]: which replies count (pure): outstanding probes, cookie, expiry, counters.
//! - [`Prober`] (`socket.rs`): one socket per WAN and family, raw with a ping-socket
//!   fallback, `SO_BINDTODEVICE`, ICMP filters, non-blocking send and drain.
//! - [`rp_filter_warning`]: the start-up check for strict reverse-path filtering.
//!
//! # Driving it from the poll loop
//!
//! ```text
//! open:    Prober::open(ifname, family) per WAN and family; on Err report
//!          ProbeFailed { error: e.probe_error() } for its probes and retry on the next
//!          link/address event. Poll prober.fd() for POLLIN.
//! rebuild: prober.reopen() on any link re-creation (new ifindex) or address change.
//! send:    Action::SendProbe -> prober.send(now, target, addr, seq);
//!          Err(e) -> Input::ProbeFailed { error: e.probe_error() }.
//! recv:    POLLIN -> prober.recv_events(now, timeout, &mut |e| match e {
//!              Event::Reply(r) => Input::Reply { .. },
//!              Event::Failed { .. } => Input::ProbeFailed { error: ProbeError::IcmpError, .. },
//!          }) (or prober.recv(..) for replies only).
//! expiry:  the engine counts a probe lost after its timeout; the prober only purges
//!          entries older than twice the timeout on every recv.
//! ```
//!
//! Every probe carries this process's random cookie (read once from `/dev/urandom`).
//! ICMP errors are only seen on raw sockets: ping sockets without `IP_RECVERR` drop them,
//! so behind a ping socket a rejected probe simply times out.

mod error;
pub mod matcher;
mod open;
pub mod packet;
pub mod quoted;
mod rp_filter;
mod socket;

pub use error::{Error, Op, SendError};
pub use matcher::Stats;
pub use open::set_type_filter;
pub use quoted::Message;
pub use rp_filter::{rp_filter_decision, rp_filter_warning};
pub use socket::{parse_datagram, Event, Preference, Prober, Reply, SocketKind, RECV_BATCH};

use std::io::Read;
use std::sync::OnceLock;

use packet::Cookie;

/// Fills `buf` from the kernel's CSPRNG. `/dev/urandom` never blocks once the system has
/// booted; if it cannot be read at all, a value mixed from the pid and the clock is used
/// (weaker, but a forger would still have to see one of our probes first).
fn random_bytes(buf: &mut [u8]) {
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .is_ok();
    if ok {
        return;
    }
    let mut x = u64::from(std::process::id()) ^ socket::monotonic_us().rotate_left(17);
    for b in buf.iter_mut() {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}

/// The cookie of this process, drawn once.
pub fn process_cookie() -> Cookie {
    static COOKIE: OnceLock<Cookie> = OnceLock::new();
    *COOKIE.get_or_init(|| {
        let mut c = [0u8; 8];
        random_bytes(&mut c);
        c
    })
}

fn random_u16() -> u16 {
    let mut b = [0u8; 2];
    random_bytes(&mut b);
    u16::from_ne_bytes(b)
}

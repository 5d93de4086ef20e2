//! rtnetlink: link, address and default-route state from the kernel, and route add/delete.
//!
//! Three parts:
//! - [`message`]: the wire format, pure ([`parse_messages`] for everything the kernel
//!   sends, `emit_*` for our requests) over checked views of the fixed headers
//!   ([`message::wire`]), fuzzed and tested against captured bytes; its documentation says
//!   why it is hand-written next to `neli`;
//! - [`Netlink`]: two non-blocking `NETLINK_ROUTE` sockets (opened with `neli`): one
//!   subscribed to `RTNLGRP_LINK`, `RTNLGRP_IPV4_IFADDR`, `RTNLGRP_IPV6_IFADDR`,
//!   `RTNLGRP_IPV4_ROUTE`, `RTNLGRP_IPV6_ROUTE`, one for dumps and route requests, whose
//!   replies are matched by sequence number;
//! - [`View`]: the kernel view (links, addresses, main-table default routes), pure, fed with
//!   [`Event`]s, reporting each [`Change`]: what changed (a link appeared, its admin state
//!   or carrier, its addresses or default routes of one family, its counters), so that the
//!   daemon feeds the engine one input per change.
//!
//! # Driving it from a poll loop
//!
//! ```text
//! let mut nl = Netlink::open()?;            // in the daemon's network namespace
//! let mut view = View::new();
//! nl.sync(&mut view, 2 s)?;                 // start-up: blocking dump of everything
//! loop {
//!     poll([nl.event_fd(), nl.request_fd(), ...]);
//!     nl.receive()?;                        // drains both sockets (bounded batch)
//!     while let Some(ev) = nl.next_event() {
//!         match &ev {
//!             Event::Ack { seq, result } => engine RouteDone for the op sent as `seq`,
//!             Event::Overrun => nl.dump_all()?,
//!             _ => {}
//!         }
//!         view.apply(&ev, &mut changes);
//!     }
//!     for change in changes.drain(..) {      // one change, one engine input
//!         Link      => Input::Link (view.link(..)); a dump of the routes if it
//!                      `appeared` (new ifindex) or went admin down
//!         LinkGone  => Input::LinkGone
//!         AddrChanged   => Input::Addresses(view.has_address(..))
//!         RoutesChanged => Input::Routes(view.default_routes(..))
//!         Counters      => Input::Counters(view.link(..).stats)
//!     }
//!     engine actions: AddRoute { op } => nl.add_route(&r, op)?, DelRoute => nl.del_route(..)?
//! }
//! ```
//!
//! Dumps never block: [`Netlink::dump`] queues one, the replies come through
//! [`Netlink::receive`] like notifications, framed by [`Event::DumpStarted`] and
//! [`Event::DumpDone`]. A completed dump replaces its part of the view (entries it did not
//! show are removed, except those a notification confirmed while it ran). An interrupted
//! (`NLM_F_DUMP_INTR`) or failed dump is repeated automatically (a few times in a row).
//!
//! For throughput, [`Netlink::get_link`] asks for one link; its `IFLA_STATS64` counters come
//! back as a [`Source::Reply`] message, and [`View::apply`] reports [`Change::Counters`].
//!
//! For measuring "carrier loss → route re-ranked", timestamp when [`Netlink::receive`]
//! returns the `RTM_NEWLINK` without carrier and when the [`Event::Ack`] of the resulting
//! add arrives; both are plain values the benchmark can observe.
//!
//! # Kernel facts this module is built on (Linux 6.x)
//!
//! - **Admin down deletes IPv4 routes silently.** `ip link set X down` flushes the IPv4
//!   routes through X without any `RTM_DELROUTE`; IPv6 routes of the link are deleted with
//!   notifications. The daemon must call [`Netlink::dump_routes`] after a [`Change::Link`]
//!   that reports an admin down; the completed dump then replaces the routes of both
//!   families in the view. The same for a link that `appeared` with a new ifindex. Any
//!   other link change (carrier, operstate, flags) leaves the routes as they are.
//!   Bringing the link up again restores the connected routes but no default route, in
//!   either family: that is the DHCP client's (or the daemon's) job.
//! - **Dumps are filtered in the kernel** where it can: the request socket has
//!   `NETLINK_GET_STRICT_CHK` (Linux 4.20+), and a route dump asks for the main table and
//!   unicast routes only (the answers carry `NLM_F_DUMP_FILTERED`). The kernel cannot
//!   filter on the destination: a dump request with `rtm_dst_len` or `RTA_DST` is `EINVAL`.
//! - **Carrier loss is not a route event.** Routes through a link without carrier only get
//!   the `linkdown` flag, with no notification; the `RTM_NEWLINK` (IFF_LOWER_UP cleared)
//!   arrives asynchronously after linkwatch runs, within a few milliseconds in the lab.
//!   After an admin up, the first `RTM_NEWLINK` still says "no carrier" in `ip`'s terms
//!   (IFF_RUNNING clear, operstate down) and the one saying "up" follows about half a second
//!   later (linkwatch rate limit); [`Link::carrier`] follows `IFLA_CARRIER`/IFF_LOWER_UP,
//!   which is already set in the first one.
//! - **Bridge and IPv6 per-port link messages** (`ifi_family` `AF_BRIDGE`/`AF_INET6`) share
//!   the link group; a bridge `RTM_DELLINK` only means "left the bridge". They are ignored.
//! - **The metric is part of the route key**, in both families. A route is added with
//!   `NLM_F_CREATE | NLM_F_EXCL` (`EEXIST` if another route holds that key, for IPv4 the
//!   key is table + prefix + tos + metric, whatever the device), never `NLM_F_REPLACE`.
//!   IPv6 answers `EEXIST` too for an equal metric on another device (without
//!   `NLM_F_APPEND`, which would merge them into one multipath route). A foreign route
//!   given back on exit goes in with `NLM_F_CREATE | NLM_F_APPEND` (`ip route append`):
//!   two DHCP clients' metric-0 routes on different devices coexist, and the second must
//!   not be refused because the first is back. IPv4 refuses an append only for an exact
//!   duplicate; IPv6 keeps device-only routes of an equal metric apart and merges gateway
//!   routes into multipath (the only way the kernel holds them at one metric).
//!   A notification carrying `NLM_F_REPLACE` (someone else's `ip route replace`) means
//!   the route with that key was displaced; the view drops it.
//! - **IPv6 turns metric 0 into 1024** and merges equal-metric routes added with
//!   `NLM_F_APPEND` into one multipath route. Multipath default routes (`RTA_MULTIPATH`) are
//!   not managed: the view skips and counts them ([`ViewStats::multipath_skipped`]).
//! - **Deletes are exact**: family, table, metric, protocol, gateway (`RTA_GATEWAY` or
//!   `RTA_VIA`) and oif, type `RTN_UNICAST`; the scope is sent as `RT_SCOPE_NOWHERE`
//!   ("any"), as iproute2 does, because device-only routes are installed with link scope.
//! - **`ENOBUFS`** on the event socket means notifications were lost: [`Event::Overrun`],
//!   and the daemon calls [`Netlink::dump_all`]. The request socket only carries answers
//!   the daemon asked for (dumps are flow-controlled by the kernel); should it overflow
//!   anyway, the same event is reported and ACKs may be lost, which is why the engine's
//!   reconciler gives up on an unanswered operation after a while (`RouteError::Timeout`)
//!   and retries it. A datagram larger than the receive buffer
//!   (`MSG_TRUNC`) has lost data too: on the event socket, or outside a dump, it is an
//!   [`Event::Overrun`]; inside a dump, the dump is marked incomplete and repeated.
//! - **Errors**: `EEXIST` → `Exists`; `ESRCH`/`ENOENT` → `NotFound` (a delete of a route
//!   already gone is done); `ENETUNREACH` (gateway outside every connected subnet),
//!   `EHOSTUNREACH`, `ENODEV` → `Unreachable`; anything else `Other(errno)`.
//! - **Route protocols** of DHCP clients (`RTPROT_DHCP` 16), router advertisements
//!   (`RTPROT_RA` 9) and others arrive as plain numbers in [`crate::engine::Route`].
//!   Kernel RA default routes are re-installed by every RA, with an expiry: the daemon
//!   should not fight them route by route; instead set `accept_ra_defrtr=0` on a managed
//!   WAN (and install the learned gateway itself) or steer their metric with
//!   `ra_defrtr_metric` (Linux 5.18+).

pub mod conntrack;
pub mod message;
mod socket;
mod sorted;
pub mod view;

use std::io;

pub use message::{
    parse_messages, Addr, Body, DumpKind, IfName, Link, LinkStats, Message, OperState, ParseError,
    RouteMsg,
};
pub use socket::{Netlink, Stats};
pub use view::{Change, LinkChanges, View, ViewStats};

use crate::engine::RouteError;

/// Sequence number of a request, echoed by its ACK.
pub type Seq = u32;

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A multicast notification.
    Notify,
    /// Part of a dump of this kind.
    Dump(DumpKind),
    /// The answer to a single request ([`Netlink::get_link`]).
    Reply,
}

/// What [`Netlink::receive`] produced, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A link, address or route message.
    Message { source: Source, msg: Message },
    /// A dump request went out; its messages follow.
    DumpStarted { kind: DumpKind, seq: Seq },
    /// The dump ended; `complete` is false when it failed or was interrupted (it is then
    /// repeated automatically).
    DumpDone {
        kind: DumpKind,
        seq: Seq,
        complete: bool,
    },
    /// The kernel answered the route request with this sequence number (the engine's
    /// operation id).
    Ack {
        seq: Seq,
        result: Result<(), RouteError>,
    },
    /// Notifications were lost (`ENOBUFS`, or a datagram cut short by the receive buffer):
    /// re-dump everything.
    Overrun,
}

/// Maps the positive errno of a route request's `NLMSG_ERROR` to the engine's terms.
pub fn route_error(errno: i32) -> RouteError {
    match errno {
        libc::EEXIST => RouteError::Exists,
        libc::ESRCH | libc::ENOENT => RouteError::NotFound,
        libc::ENETUNREACH | libc::ENODEV | libc::EHOSTUNREACH => RouteError::Unreachable,
        other => RouteError::Other(other),
    }
}

/// The netlink operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Open,
    Dump,
    GetLink,
    AddRoute,
    DelRoute,
    Recv,
    Poll,
    /// The start-up dump did not complete in time.
    Sync,
}

impl core::fmt::Display for Op {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Op::Open => "opening rtnetlink sockets",
            Op::Dump => "sending a dump request",
            Op::GetLink => "requesting a link",
            Op::AddRoute => "adding a route",
            Op::DelRoute => "deleting a route",
            Op::Recv => "receiving",
            Op::Poll => "waiting for rtnetlink",
            Op::Sync => "start-up dump",
        })
    }
}

/// A failed netlink operation and the OS error behind it.
#[derive(Debug)]
pub struct Error {
    pub op: Op,
    pub source: io::Error,
}

impl Error {
    pub fn new(op: Op, source: io::Error) -> Error {
        Error { op, source }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "netlink: {}: {}", self.op, self.source)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

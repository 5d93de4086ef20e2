//! The two rtnetlink sockets: one subscribed to link/address/route notifications, one for
//! requests (dumps, single-link gets, route add/delete) with our own sequence matching.
//! Both are non-blocking; received datagrams are parsed into a queue of [`Event`]s.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use neli::consts::socket::NlFamily;
use neli::err::SocketError;
use neli::socket::synchronous::NlSocketHandle;
use neli::utils::Groups;
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::socket::{setsockopt, sockopt, MsgFlags};

use super::message::{
    emit_dump, emit_get_link, emit_route, parse_messages, Body, DumpKind, Message, RouteOp,
    NLM_F_DUMP_INTR,
};
use super::view::{Change, View};
use super::{route_error, Error, Event, Op, Seq, Source};
use crate::engine::{Route, OP_ID_LIMIT};
use crate::sys::poll::Poller;

/// Receive buffer for one datagram: the kernel sizes dump chunks after the largest read
/// (up to 32 KiB), and a single link message with many attributes stays far below this.
const RECV_BUF_LEN: usize = 64 * 1024;
/// Event socket receive buffer: room for a burst (a bridge with many ports flapping).
const EVENT_RCVBUF: usize = 1024 * 1024;
/// Datagrams read per socket and [`Netlink::receive`] call, so one busy socket cannot
/// starve the rest of the poll loop. The socket stays readable; poll wakes again.
const MAX_BATCH: usize = 64;
/// An interrupted (`NLM_F_DUMP_INTR`) or failed dump is retried this many times in a row.
const MAX_DUMP_RETRIES: u8 = 3;
/// How many kinds of dump there are ([`DumpKind`]): the most that can wait at once.
const DUMP_KINDS: usize = 3;

/// What was counted on the receive path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages skipped because they could not be decoded.
    pub parse_errors: u64,
    /// Data was lost: `ENOBUFS`, or a datagram larger than the receive buffer.
    pub overruns: u64,
    /// Route dumps sent (repeats of an interrupted dump included).
    pub route_dumps: u64,
}

#[derive(Debug, Clone, Copy)]
struct ActiveDump {
    kind: DumpKind,
    seq: Seq,
    interrupted: bool,
}

/// The daemon's rtnetlink endpoint. See the module documentation for the poll-loop contract.
pub struct Netlink {
    events: NlSocketHandle,
    requests: NlSocketHandle,
    pid: u32,
    rx: Vec<u8>,
    tx: Vec<u8>,
    queue: VecDeque<Event>,
    next_seq: Seq,
    /// Dumps waiting to be sent, in order; each kind at most once.
    dumps: heapless::Vec<DumpKind, DUMP_KINDS>,
    active: Option<ActiveDump>,
    retries: u8,
    stats: Stats,
}

impl Netlink {
    /// Opens both sockets in the calling thread's network namespace.
    pub fn open() -> Result<Netlink, Error> {
        let groups = Groups::new_groups(&[
            libc::RTNLGRP_LINK,
            libc::RTNLGRP_IPV4_IFADDR,
            libc::RTNLGRP_IPV6_IFADDR,
            libc::RTNLGRP_IPV4_ROUTE,
            libc::RTNLGRP_IPV6_ROUTE,
        ]);
        let events = connect(groups)?;
        let requests = connect(Groups::empty())?;
        grow_rcvbuf(&events)?;
        // Dumps filtered in the kernel (see `emit_dump`); before Linux 4.20 the option is
        // unknown and dumps come whole, which the view filters as well.
        if let Err(e) = requests.enable_strict_checking(true) {
            log::debug!("netlink: no strict checking, dumps come unfiltered: {e}");
        }
        Ok(Netlink {
            pid: requests.pid(),
            events,
            requests,
            rx: vec![0; RECV_BUF_LEN],
            tx: Vec::with_capacity(256),
            queue: VecDeque::new(),
            next_seq: 0,
            dumps: heapless::Vec::new(),
            active: None,
            retries: 0,
            stats: Stats::default(),
        })
    }

    /// The notification socket, for `poll(2)` (`POLLIN`).
    pub fn event_fd(&self) -> RawFd {
        self.events.as_raw_fd()
    }

    /// The request socket (replies, dump parts, ACKs), for `poll(2)` (`POLLIN`).
    pub fn request_fd(&self) -> RawFd {
        self.requests.as_raw_fd()
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Queues a dump; the kernel runs one dump per socket at a time, so dumps are sent one
    /// after the other. A dump of a kind already running is repeated after it (it may have
    /// walked past the change that prompted the request); one already queued is not doubled.
    pub fn dump(&mut self, kind: DumpKind) -> Result<(), Error> {
        if !self.dumps.contains(&kind) {
            let _ = self.dumps.push(kind); // room: one per kind
        }
        self.start_next_dump()
    }

    /// Links, addresses and routes (start-up, and after an [`Event::Overrun`]).
    pub fn dump_all(&mut self) -> Result<(), Error> {
        self.dump(DumpKind::Links)?;
        self.dump(DumpKind::Addrs)?;
        self.dump(DumpKind::Routes)
    }

    /// Re-dumps the main-table routes of both families. Call after an admin down (the
    /// kernel deletes the IPv4 routes of an admin-downed link without any `RTM_DELROUTE`)
    /// and for a link with a new ifindex.
    pub fn dump_routes(&mut self) -> Result<(), Error> {
        self.dump(DumpKind::Routes)
    }

    /// Whether a dump is running or queued.
    pub fn dump_pending(&self) -> bool {
        self.active.is_some() || !self.dumps.is_empty()
    }

    /// Asks for one link (fresh `IFLA_STATS64` counters); the answer arrives as an
    /// [`Event::Message`] from [`Source::Reply`]. An error answer (the link is gone) is
    /// only logged: the link's own notification tells the rest.
    pub fn get_link(&mut self, ifindex: u32) -> Result<(), Error> {
        let seq = self.seq();
        self.tx.clear();
        emit_get_link(&mut self.tx, ifindex, seq);
        self.send(Op::GetLink)
    }

    /// Adds the route (`NLM_F_CREATE | NLM_F_EXCL`) as request `seq` (the engine's
    /// operation id, below [`OP_ID_LIMIT`]); the kernel's answer arrives as [`Event::Ack`]
    /// with that sequence number.
    pub fn add_route(&mut self, route: &Route, seq: Seq) -> Result<(), Error> {
        self.route_request(RouteOp::Add, route, seq, Op::AddRoute)
    }

    /// Adds the route beside any that share its key (`NLM_F_CREATE | NLM_F_APPEND`, see
    /// [`RouteOp::Append`]); answered like [`Netlink::add_route`].
    pub fn append_route(&mut self, route: &Route, seq: Seq) -> Result<(), Error> {
        self.route_request(RouteOp::Append, route, seq, Op::AddRoute)
    }

    /// Deletes exactly this route; answered by [`Event::Ack`] (`NotFound` means already gone).
    pub fn del_route(&mut self, route: &Route, seq: Seq) -> Result<(), Error> {
        self.route_request(RouteOp::Del, route, seq, Op::DelRoute)
    }

    fn route_request(
        &mut self,
        op: RouteOp,
        route: &Route,
        seq: Seq,
        what: Op,
    ) -> Result<(), Error> {
        debug_assert!(
            seq != 0 && seq < OP_ID_LIMIT,
            "route requests use engine op ids"
        );
        self.tx.clear();
        emit_route(&mut self.tx, op, route, seq);
        self.send(what)
    }

    /// The next parsed event, if any. Call [`Netlink::receive`] when a socket is readable.
    pub fn next_event(&mut self) -> Option<Event> {
        self.queue.pop_front()
    }

    /// Reads both sockets until `EWOULDBLOCK` or a bounded batch, parsing into the event
    /// queue. Returns whether a batch limit was hit (more is waiting; poll will say so).
    pub fn receive(&mut self) -> Result<bool, Error> {
        let more_events = self.read_socket(Source::Notify)?;
        let more_replies = self.read_socket(Source::Reply)?;
        Ok(more_events || more_replies)
    }

    /// Start-up convenience: dumps everything and applies it to `view`, blocking until the
    /// dumps complete or `timeout` passes. Route ACKs arriving meanwhile are dropped, so call
    /// it before issuing route operations.
    pub fn sync(&mut self, view: &mut View, timeout: Duration) -> Result<Vec<Change>, Error> {
        let until = Instant::now() + timeout;
        let mut changes = Vec::new();
        self.dump_all()?;
        loop {
            self.receive()?;
            while let Some(event) = self.next_event() {
                view.apply(&event, &mut changes);
            }
            if !self.dump_pending() {
                return Ok(changes);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::new(Op::Sync, io::ErrorKind::TimedOut.into()));
            }
            self.wait(left)?;
        }
    }

    /// Blocks until either socket is readable or `timeout` passes.
    pub fn wait(&self, timeout: Duration) -> Result<(), Error> {
        let mut poller = Poller::default();
        poller.add(self.event_fd(), false);
        poller.add(self.request_fd(), false);
        poller
            .wait(Some(timeout))
            .map(drop)
            .map_err(|e| Error::new(Op::Poll, e))
    }

    /// A sequence number for a request of our own (dump, link read): the top bit set, so
    /// it never meets a route request's (the engine's operation ids stay below it).
    fn seq(&mut self) -> Seq {
        let seq = OP_ID_LIMIT | self.next_seq;
        self.next_seq = (self.next_seq + 1) % OP_ID_LIMIT;
        seq
    }

    fn send(&mut self, op: Op) -> Result<(), Error> {
        let fd = self.request_fd();
        loop {
            match nix::sys::socket::send(fd, &self.tx, MsgFlags::empty()) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::new(op, e.into())),
            }
        }
    }

    fn start_next_dump(&mut self) -> Result<(), Error> {
        if self.active.is_some() {
            return Ok(());
        }
        if self.dumps.is_empty() {
            return Ok(());
        }
        let kind = self.dumps.remove(0);
        let seq = self.seq();
        self.tx.clear();
        emit_dump(&mut self.tx, kind, seq);
        if let Err(e) = self.send(Op::Dump) {
            // Keep it queued: the next dump request or receive retries.
            let _ = self.dumps.insert(0, kind); // room: it was just taken out
            return Err(e);
        }
        if kind == DumpKind::Routes {
            self.stats.route_dumps += 1;
        }
        self.active = Some(ActiveDump {
            kind,
            seq,
            interrupted: false,
        });
        self.queue.push_back(Event::DumpStarted { kind, seq });
        Ok(())
    }

    fn read_socket(&mut self, source: Source) -> Result<bool, Error> {
        let fd = match source {
            Source::Notify => self.event_fd(),
            _ => self.request_fd(),
        };
        for _ in 0..MAX_BATCH {
            match nix::sys::socket::recv(fd, &mut self.rx, MsgFlags::MSG_TRUNC) {
                Ok(n) if n > self.rx.len() => self.truncated(source),
                Ok(n) => self.handle_datagram(source, n)?,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Ok(false),
                Err(Errno::ENOBUFS) => {
                    self.stats.overruns += 1;
                    self.queue.push_back(Event::Overrun);
                }
                Err(e) => return Err(Error::new(Op::Recv, e.into())),
            }
        }
        Ok(true)
    }

    /// A datagram larger than the buffer was cut: what it carried is lost, as with
    /// `ENOBUFS`. A lost notification or reply asks for a re-dump; a cut dump part makes the
    /// running dump incomplete, so it is repeated.
    fn truncated(&mut self, source: Source) {
        self.stats.overruns += 1;
        match (source, self.active.as_mut()) {
            (Source::Notify, _) | (_, None) => self.queue.push_back(Event::Overrun),
            (_, Some(dump)) => dump.interrupted = true,
        }
    }

    fn handle_datagram(&mut self, source: Source, len: usize) -> Result<(), Error> {
        // Parse from a moved-out buffer so `self` stays borrowable while handling.
        let rx = std::mem::take(&mut self.rx);
        let mut result = Ok(());
        for parsed in parse_messages(&rx[..len]) {
            match parsed {
                Ok(msg) if source == Source::Notify => self.notification(msg),
                Ok(msg) => {
                    if let Err(e) = self.reply(msg) {
                        result = Err(e);
                    }
                }
                Err(e) => {
                    self.stats.parse_errors += 1;
                    log::debug!("netlink: skipping message: {e}");
                }
            }
        }
        self.rx = rx;
        result
    }

    fn notification(&mut self, msg: Message) {
        match msg.body {
            Body::Link { .. } | Body::Addr { .. } | Body::Route { .. } => {
                let source = Source::Notify;
                self.queue.push_back(Event::Message { source, msg });
            }
            _ => {}
        }
    }

    fn reply(&mut self, msg: Message) -> Result<(), Error> {
        if msg.pid != self.pid {
            return Ok(());
        }
        let dump = self.active.filter(|a| a.seq == msg.seq);
        match (&msg.body, dump) {
            (Body::Done { errno }, Some(d)) => self.dump_done(d, *errno),
            (Body::Error { errno, .. }, Some(d)) => self.dump_done(d, (*errno).max(1)),
            // a link read that failed (the link went away): its counters simply stay
            (Body::Error { errno, .. }, None) if msg.seq & OP_ID_LIMIT != 0 => {
                log::debug!("netlink: request {} failed: errno {errno}", msg.seq);
                Ok(())
            }
            (Body::Error { errno, .. }, None) => {
                let result = if *errno == 0 {
                    Ok(())
                } else {
                    Err(route_error(*errno))
                };
                self.queue.push_back(Event::Ack {
                    seq: msg.seq,
                    result,
                });
                Ok(())
            }
            (Body::Link { .. } | Body::Addr { .. } | Body::Route { .. }, d) => {
                if let Some(mut d) = d {
                    d.interrupted |= msg.flags & NLM_F_DUMP_INTR != 0;
                    self.active = Some(d);
                }
                let source = d.map_or(Source::Reply, |d| Source::Dump(d.kind));
                self.queue.push_back(Event::Message { source, msg });
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn dump_done(&mut self, dump: ActiveDump, errno: i32) -> Result<(), Error> {
        let complete = errno == 0 && !dump.interrupted;
        self.active = None;
        self.queue.push_back(Event::DumpDone {
            kind: dump.kind,
            seq: dump.seq,
            complete,
        });
        if complete {
            self.retries = 0;
        } else if self.retries < MAX_DUMP_RETRIES {
            log::debug!(
                "netlink: {:?} dump incomplete (errno {errno}), again",
                dump.kind
            );
            self.retries += 1;
            if !self.dumps.contains(&dump.kind) {
                let _ = self.dumps.insert(0, dump.kind); // room: one per kind
            }
        } else {
            log::warn!(
                "netlink: {:?} dump keeps failing (errno {errno})",
                dump.kind
            );
            self.retries = 0;
        }
        self.start_next_dump()
    }
}

fn connect(groups: Groups) -> Result<NlSocketHandle, Error> {
    let handle = NlSocketHandle::connect(NlFamily::Route, None, groups)
        .map_err(|e| Error::new(Op::Open, socket_error(e)))?;
    let fd = handle.as_raw_fd();
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(|e| Error::new(Op::Open, e.into()))?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(fd, FcntlArg::F_SETFL(flags)).map_err(|e| Error::new(Op::Open, e.into()))?;
    Ok(handle)
}

/// A larger receive buffer on the event socket, beyond `rmem_max` when we have
/// `CAP_NET_ADMIN`: losing notifications costs a full re-dump.
// neli's handle has no `AsFd`, which nix's `setsockopt` wants.
#[allow(unsafe_code)]
fn grow_rcvbuf(events: &NlSocketHandle) -> Result<(), Error> {
    // SAFETY: the descriptor is owned by `events`, which outlives this call.
    let fd = unsafe { BorrowedFd::borrow_raw(events.as_raw_fd()) };
    if setsockopt(&fd, sockopt::RcvBufForce, &EVENT_RCVBUF).is_ok() {
        return Ok(());
    }
    events
        .set_recv_buffer_size(EVENT_RCVBUF)
        .map_err(|e| Error::new(Op::Open, socket_error(e)))
}

fn socket_error(e: SocketError) -> io::Error {
    match e {
        SocketError::Io(io) => match io.raw_os_error() {
            Some(errno) => io::Error::from_raw_os_error(errno),
            None => io::Error::new(io.kind(), io.to_string()),
        },
        other => io::Error::other(other.to_string()),
    }
}

//! The routing part (DESIGN.md §10): the FIB rules, WAN tables and multipath default the
//! engine decides, the conntrack flush, and balance mode's hash sysctls.
//!
//! It owns a `NETLINK_ROUTE` request socket of its own (so its sequence numbers, the
//! engine's op ids, never meet the kernel part's dumps), the ctnetlink socket and the
//! sysctls. At start a rule dump and a route dump of every table, filtered to protocol 87,
//! tell the engine what a killed run left (`Input::RoutingState`); the engine's diff
//! deletes what is no longer wanted.
//!
//! A second socket hears rule and route notifications: one of ours someone else deleted
//! goes to the engine (`Input::RoutingGone`) and comes back. When notifications were lost
//! (`ENOBUFS`, a datagram cut short) the same two dumps run again, without blocking, and
//! their result goes to the engine as `Input::RoutingState`: its diff adds again what is
//! missing. One resync at a time; a loss while one runs queues one more after it. The
//! engine's changes wait while the dumps run, so that no answer overtakes what they saw.
//!
//! A flush reads the conntrack table a bounded batch per turn, keeping only the entries
//! to delete, then deletes them 128 to a datagram, one datagram in flight: the loop never
//! waits on the kernel.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{recv, send, MsgFlags, SockProtocol};

use super::part::{Ctx, Interests, Part, Readiness};
use super::state::SavedSysctl;
use crate::config::{Policy, Routing as Config};
use crate::engine::route::{RTPROT_WANFAILOVER, RT_TABLE_MAIN};
use crate::engine::routing::{Change, Object, RuleSpec};
use crate::engine::{Family, Input, Instant, OpId, OP_ID_LIMIT};
use crate::sys::netlink::conntrack::{
    in_seq_range, open_netlink, open_netlink_groups, parse_ct_messages, Conntrack, CtBody, Entry,
    Flush as Select,
};
use crate::sys::netlink::message::rule::FR_ACT_TO_TBL;
use crate::sys::netlink::message::{
    emit_dump, emit_route, emit_rule, emit_rule_dump, parse_messages, Body, DumpKind, IfName,
    Message, RouteMsg, RouteOp, Rule, RuleOp, NLM_F_DUMP_INTR,
};
use crate::sys::netlink::route_error;
use crate::sys::poll::Poller;

#[cfg(feature = "balance")]
mod balance;

/// Without the `balance` feature: no kill switch, no multipath, no pinned flows, and the
/// sysctl originals of a previous run with it kept as they are.
#[cfg(not(feature = "balance"))]
mod balance {
    use super::super::state::SavedSysctl;
    use crate::config::{Policy, Routing as Config};
    use crate::engine::routing::Object;
    use crate::engine::Family;
    use crate::sys::netlink::conntrack::Entry;
    use crate::sys::netlink::message::RouteMsg;

    pub(super) struct HashSettings(Vec<SavedSysctl>);

    impl HashSettings {
        pub(super) fn new(saved: &[SavedSysctl]) -> HashSettings {
            HashSettings(saved.to_vec())
        }
        pub(super) fn apply(&mut self, _: &Config) {}
        pub(super) fn saved(&self) -> Vec<SavedSysctl> {
            self.0.clone()
        }
        pub(super) fn restore(&mut self) {}
    }

    pub(super) fn pinned(_: &Config, _: &[u8]) -> Vec<Policy> {
        Vec::new()
    }
    pub(super) fn pinned_flow(_: &[Policy], _: &Entry) -> bool {
        false
    }
    pub(super) fn from_route(_: &RouteMsg, _: Family) -> Option<Object> {
        None
    }
}

const RECV_BUF_LEN: usize = 64 * 1024;
/// Datagrams read per turn from either socket.
const BATCH: usize = 16;
/// A flush whose kernel answers stop for this long ends with what it did.
const FLUSH_SILENCE: Duration = Duration::from_secs(5);
/// A resync whose dump goes silent this long is given up (and the held changes sent).
const RESYNC_SILENCE: Duration = Duration::from_secs(1);
/// A resync that lost data of its dump runs again at once, this many times in a row.
const RESYNC_TRIES: u8 = 3;
/// The dumps that read what of ours the kernel holds, in order: every rule, then every
/// route (not strict: the kernel sends every table).
const DUMPS: [fn(&mut Vec<u8>, u32); 2] = [
    |buf, seq| emit_rule_dump(buf, None, seq),
    |buf, seq| emit_dump(buf, DumpKind::Routes, seq),
];
/// What the notification socket hears: every rule and route added or deleted.
const GROUPS: [u32; 4] = [
    libc::RTNLGRP_IPV4_RULE,
    libc::RTNLGRP_IPV6_RULE,
    libc::RTNLGRP_IPV4_ROUTE,
    libc::RTNLGRP_IPV6_ROUTE,
];

/// A `NETLINK_ROUTE` socket for requests only.
struct RouteSocket {
    fd: OwnedFd,
    pid: u32,
    rx: Vec<u8>,
    tx: Vec<u8>,
}

impl RouteSocket {
    fn open() -> io::Result<RouteSocket> {
        RouteSocket::with(open_netlink(SockProtocol::NetlinkRoute)?)
    }

    /// A socket that hears the rule and route notifications ([`GROUPS`]).
    fn notifications() -> io::Result<RouteSocket> {
        let mask = GROUPS.iter().fold(0, |m, g| m | 1 << (g - 1));
        RouteSocket::with(open_netlink_groups(SockProtocol::NetlinkRoute, mask)?)
    }

    fn with((fd, pid): (OwnedFd, u32)) -> io::Result<RouteSocket> {
        Ok(RouteSocket {
            fd,
            pid,
            rx: vec![0; RECV_BUF_LEN],
            tx: Vec::with_capacity(512),
        })
    }

    fn send(&self) -> io::Result<()> {
        loop {
            match send(self.fd.as_raw_fd(), &self.tx, MsgFlags::empty()) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// One datagram if one is waiting.
    fn try_recv(&mut self) -> io::Result<Option<usize>> {
        loop {
            match recv(self.fd.as_raw_fd(), &mut self.rx, MsgFlags::MSG_TRUNC) {
                Ok(n) if n > self.rx.len() => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "datagram cut"));
                }
                Ok(n) => return Ok(Some(n)),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A dump (already in `tx`), every message of ours to `each`, waiting up to `timeout`.
    fn dump(&mut self, seq: u32, timeout: Duration, mut each: impl FnMut(Body)) -> io::Result<()> {
        let until = std::time::Instant::now() + timeout;
        self.send()?;
        loop {
            let Some(n) = self.try_recv()? else {
                let left = until.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                let mut poller = Poller::default();
                poller.add(self.fd.as_raw_fd(), false);
                poller.wait(Some(left))?;
                continue;
            };
            for msg in parse_messages(&self.rx[..n]).flatten() {
                if msg.seq != seq || msg.pid != self.pid {
                    continue;
                }
                match msg.body {
                    Body::Done { errno: 0 } => return Ok(()),
                    Body::Done { errno } | Body::Error { errno, .. } if errno != 0 => {
                        return Err(io::Error::from_raw_os_error(errno));
                    }
                    body => each(body),
                }
            }
        }
    }
}

/// Where a flush is.
enum Flush {
    Idle,
    /// Reading the table; `selected` keeps only what goes.
    Dumping {
        seq: u32,
        moved: Vec<IpAddr>,
        keep: Vec<Policy>,
        selected: Vec<Entry>,
    },
    /// Deleting `left`, one datagram in flight (`first..=last`, `sent` entries).
    Deleting {
        left: Vec<Entry>,
        in_flight: Option<(u32, u32, usize, usize)>,
    },
}

/// A re-read of what of ours the kernel holds, after lost notifications.
struct Resync {
    /// The index in [`DUMPS`] running, under sequence number `seq`.
    step: usize,
    seq: u32,
    found: Vec<Object>,
    /// Data of the dump was lost: its result is not used, another one runs.
    spoiled: bool,
    /// Resyncs in a row that lost data, this one included.
    tries: u8,
    /// Notifications were lost again while it ran: another one after it.
    again: bool,
    /// The kernel said something by then, or the resync is given up.
    until: Instant,
    /// The engine's changes meanwhile, sent when it ends.
    held: Vec<(OpId, Change)>,
}

/// What a flush did so far.
#[derive(Debug, Default, Clone, Copy)]
struct Report {
    deleted: u64,
    gone: u64,
    failed: u64,
}

/// The routing part.
pub struct Routing {
    nl: RouteSocket,
    /// Rule and route deletions, so one of ours someone else deleted comes back at once.
    events: Option<RouteSocket>,
    ct: Option<Conntrack>,
    flush: Flush,
    report: Report,
    /// The kernel said something about the flush by then, or it ends.
    flush_until: Option<Instant>,
    config: Config,
    sysctls: balance::HashSettings,
    resync: Option<Resync>,
    /// Sequence numbers of our dumps: the top bit set, never an op id.
    next_seq: u32,
}

impl Routing {
    /// Opens the sockets and reads what of ours the kernel holds; `saved` are the sysctl
    /// originals of a previous run. Only a socket that cannot be opened is an error.
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    pub fn open(
        config: Config,
        saved: &[SavedSysctl],
        timeout: Duration,
    ) -> io::Result<(Routing, Vec<Object>)> {
        let mut nl = RouteSocket::open()?;
        // subscribed before the dump: nothing deleted in between goes unheard
        let events = RouteSocket::notifications()
            .map_err(|e| log::warn!("routing: no rule and route notifications ({e})"))
            .ok();
        // a kernel without policy routing still runs the failover half
        let objects = dump_ours(&mut nl, timeout).unwrap_or_else(|e| {
            log::warn!("routing: cannot read rules and routes ({e}); leftovers stay");
            Vec::new()
        });
        let ct = Conntrack::open()
            .map_err(|e| log::warn!("conntrack: cannot open ctnetlink ({e}); no flushes"))
            .ok();
        let mut part = Routing {
            nl,
            events,
            ct,
            flush: Flush::Idle,
            report: Report::default(),
            flush_until: None,
            config,
            sysctls: balance::HashSettings::new(saved),
            resync: None,
            next_seq: 0,
        };
        part.apply_sysctls();
        Ok((part, objects))
    }

    /// A reload's routing half.
    pub fn reconfigure(&mut self, config: Config) {
        self.config = config;
        self.apply_sysctls();
    }

    /// Balance mode's hash settings, or the originals back in failover mode.
    fn apply_sysctls(&mut self) {
        self.sysctls.apply(&self.config);
    }

    /// The originals to keep in the state file.
    pub fn saved_sysctls(&self) -> Vec<SavedSysctl> {
        self.sysctls.saved()
    }

    /// On exit: the settings as they were before the first start.
    pub fn restore_sysctls(&mut self) {
        self.sysctls.restore();
    }

    /// Sends one change (held while a resync runs); a send that failed at once is its
    /// answer.
    pub fn send(&mut self, op: OpId, change: &Change) -> Option<Input> {
        if let Some(r) = self.resync.as_mut() {
            r.held.push((op, change.clone()));
            return None;
        }
        self.nl.tx.clear();
        emit_change(&mut self.nl.tx, change, op);
        match self.nl.send() {
            Ok(()) => None,
            Err(e) => {
                log::warn!("routing: send failed: {e}");
                let errno = e.raw_os_error().unwrap_or(libc::EIO);
                Some(Input::RoutingDone {
                    op,
                    result: Err(route_error(errno)),
                })
            }
        }
    }

    /// Starts a flush; a failure to start is answered at once.
    pub fn flush(&mut self, now: Instant, moved: Vec<IpAddr>, keep: &[u8]) -> Option<Input> {
        let Some(ct) = self.ct.as_mut() else {
            return Some(done(Report::default()));
        };
        let keep = balance::pinned(&self.config, keep);
        match ct.start_dump(None) {
            Ok(seq) => {
                self.flush = Flush::Dumping {
                    seq,
                    moved,
                    keep,
                    selected: Vec::new(),
                };
                self.report = Report::default();
                self.flush_until = Some(now + FLUSH_SILENCE);
                None
            }
            Err(e) => {
                log::warn!("conntrack: dump failed: {e}");
                Some(done(Report::default()))
            }
        }
    }

    /// Answers on the request socket.
    fn read_acks(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        for _ in 0..BATCH {
            let n = match self.nl.try_recv() {
                Ok(Some(n)) => n,
                Ok(None) => return,
                Err(e) => {
                    // a lost ACK times out in the engine and is retried; a resync lost
                    // part of its dump
                    log::warn!("routing: {e}");
                    if let Some(r) = self.resync.as_mut() {
                        r.spoiled = true;
                    }
                    return;
                }
            };
            // out of the socket while a dump's messages are handled (which may send)
            let rx = core::mem::take(&mut self.nl.rx);
            for msg in parse_messages(&rx[..n]).flatten() {
                if self.resync.as_ref().is_some_and(|r| r.seq == msg.seq) {
                    self.on_dump(now, msg, ctx);
                    continue;
                }
                if let Body::Error { errno, request_seq } = msg.body {
                    let result = if errno == 0 {
                        Ok(())
                    } else {
                        Err(route_error(errno))
                    };
                    let op = request_seq;
                    ctx.engine.handle(now, Input::RoutingDone { op, result });
                }
            }
            self.nl.rx = rx;
        }
    }

    /// Deletions of rules and routes: those of protocol 87 another process made go to the
    /// engine (the echoes of our own requests carry our port id and are skipped).
    fn read_events(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        let Some(events) = self.events.as_mut() else {
            return;
        };
        for _ in 0..BATCH {
            let n = match events.try_recv() {
                Ok(Some(n)) => n,
                Ok(None) => return,
                Err(e) => {
                    // ENOBUFS or a datagram cut short: what they deleted, a dump tells
                    log::warn!(
                        "routing: rule and route notifications lost ({e}); reading ours again"
                    );
                    self.start_resync(now, ctx);
                    return;
                }
            };
            for obj in gone(&events.rx[..n], self.nl.pid) {
                ctx.engine.handle(now, Input::RoutingGone(obj));
            }
        }
    }

    /// A resync, or one more after the one running.
    fn start_resync(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        self.resync_try(now, 1, ctx);
    }

    fn resync_try(&mut self, now: Instant, tries: u8, ctx: &mut Ctx<'_>) {
        if let Some(r) = self.resync.as_mut() {
            r.again = true;
            return;
        }
        self.resync = Some(Resync {
            step: 0,
            seq: 0,
            found: Vec::new(),
            spoiled: false,
            tries,
            again: false,
            until: now,
            held: Vec::new(),
        });
        self.next_dump(now, 0, ctx);
    }

    /// Sends dump `step` of the resync, or ends it when the dump cannot be sent.
    fn next_dump(&mut self, now: Instant, step: usize, ctx: &mut Ctx<'_>) {
        let seq = OP_ID_LIMIT | self.next_seq;
        self.next_seq = (self.next_seq + 1) % OP_ID_LIMIT;
        self.nl.tx.clear();
        DUMPS[step](&mut self.nl.tx, seq);
        let sent = self.nl.send();
        let Some(r) = self.resync.as_mut() else {
            return;
        };
        (r.step, r.seq, r.until) = (step, seq, now + RESYNC_SILENCE);
        if let Err(e) = sent {
            log::warn!("routing: cannot read rules and routes ({e})");
            r.tries = RESYNC_TRIES; // no use asking again at once
            r.spoiled = true;
            self.end_resync(now, ctx);
        }
    }

    /// One message of the resync's dump.
    fn on_dump(&mut self, now: Instant, msg: Message, ctx: &mut Ctx<'_>) {
        let Some(r) = self.resync.as_mut() else {
            return;
        };
        if msg.pid != self.nl.pid {
            return;
        }
        r.until = now + RESYNC_SILENCE;
        // the kernel's objects changed under the dump: it may have missed some
        r.spoiled |= msg.flags & NLM_F_DUMP_INTR != 0;
        match msg.body {
            Body::Done { errno: 0 } if r.step + 1 < DUMPS.len() => {
                let step = r.step + 1;
                self.next_dump(now, step, ctx);
            }
            Body::Done { errno: 0 } => self.end_resync(now, ctx),
            Body::Done { errno } | Body::Error { errno, .. } if errno != 0 => {
                log::warn!("routing: cannot read rules and routes (errno {errno})");
                r.tries = RESYNC_TRIES;
                r.spoiled = true;
                self.end_resync(now, ctx);
            }
            body => ours(body, &mut r.found),
        }
    }

    /// The engine learns what the dumps found (unless data was lost), the held changes go
    /// out, and another resync starts if one was asked for meanwhile.
    fn end_resync(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        let Some(r) = self.resync.take() else {
            return;
        };
        if r.spoiled {
            log::warn!("routing: rules and routes not read whole");
        } else {
            log::info!(
                "routing: resynced, {} rule(s) and route(s) of ours",
                r.found.len()
            );
            ctx.engine.handle(now, Input::RoutingState(r.found));
        }
        for (op, change) in &r.held {
            if let Some(answer) = self.send(*op, change) {
                ctx.engine.handle(now, answer);
            }
        }
        if r.spoiled && r.tries < RESYNC_TRIES {
            self.resync_try(now, r.tries + 1, ctx);
        } else if r.again {
            self.start_resync(now, ctx);
        }
    }

    /// One bounded step of the flush.
    fn step_flush(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        for _ in 0..BATCH {
            let Some(ct) = self.ct.as_mut() else { return };
            let data = match ct.try_recv() {
                Ok(Some(d)) => d.to_vec(),
                Ok(None) => break,
                Err(e) => {
                    log::warn!("conntrack: {e}");
                    self.report.failed += 1;
                    self.end_flush(now, ctx);
                    return;
                }
            };
            self.flush_until = Some(now + FLUSH_SILENCE);
            if self.on_ct_datagram(&data) {
                break;
            }
        }
        self.next_deletes(now, ctx);
    }

    /// One datagram of a dump or of delete answers; true when the dump ended.
    fn on_ct_datagram(&mut self, data: &[u8]) -> bool {
        let pid = self.ct.as_ref().map_or(0, Conntrack::pid);
        let report = &mut self.report;
        match &mut self.flush {
            Flush::Idle => false,
            Flush::Dumping {
                seq,
                moved,
                keep,
                selected,
            } => {
                let select = Select::new(moved);
                for msg in parse_ct_messages(data).flatten() {
                    if msg.pid != pid || msg.seq != *seq {
                        continue;
                    }
                    match msg.body {
                        CtBody::Entry(Some(e))
                            if select.selects(&e) && !balance::pinned_flow(keep, &e) =>
                        {
                            selected.push(e);
                        }
                        CtBody::Done { .. } | CtBody::Error { .. } => {
                            let left = core::mem::take(selected);
                            self.flush = Flush::Deleting {
                                left,
                                in_flight: None,
                            };
                            return true;
                        }
                        _ => {}
                    }
                }
                false
            }
            Flush::Deleting { in_flight, .. } => {
                let Some((first, last, sent, failed)) = in_flight.as_mut() else {
                    return false;
                };
                for msg in parse_ct_messages(data).flatten() {
                    let CtBody::Error { errno, request_seq } = msg.body else {
                        continue;
                    };
                    if msg.pid != pid || !in_seq_range(request_seq, *first, *last) {
                        continue;
                    }
                    match errno {
                        0 => {}
                        libc::ENOENT => report.gone += 1,
                        _ => report.failed += 1,
                    }
                    *failed += usize::from(errno != 0);
                    if request_seq == *last {
                        report.deleted += (*sent - *failed) as u64;
                        *in_flight = None;
                        break;
                    }
                }
                false
            }
        }
    }

    /// The next datagram of deletes, or the end of the flush.
    fn next_deletes(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        let Flush::Deleting { left, in_flight } = &mut self.flush else {
            return;
        };
        if in_flight.is_some() {
            return;
        }
        if left.is_empty() {
            return self.end_flush(now, ctx);
        }
        let Some(ct) = self.ct.as_mut() else { return };
        match ct.send_deletes(left) {
            Ok((sent, first, last)) => {
                left.drain(..sent);
                *in_flight = Some((first, last, sent, 0));
                self.flush_until = Some(now + FLUSH_SILENCE);
            }
            Err(e) => {
                log::warn!("conntrack: delete failed: {e}");
                self.report.failed += left.len() as u64;
                self.end_flush(now, ctx);
            }
        }
    }

    fn end_flush(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        self.flush = Flush::Idle;
        self.flush_until = None;
        let r = core::mem::take(&mut self.report);
        log::info!(
            "flush_conntrack: {} entries deleted ({} already gone, {} refused)",
            r.deleted,
            r.gone,
            r.failed
        );
        ctx.engine.handle(now, done(r));
    }
}

fn done(r: Report) -> Input {
    Input::FlushDone {
        deleted: r.deleted,
        gone: r.gone,
        failed: r.failed,
    }
}

impl Part for Routing {
    fn prepare(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        // the kernel went silent in the middle of a flush: end it with what it did
        if self.flush_until.is_some_and(|t| now >= t) {
            log::warn!("conntrack: no answer for {FLUSH_SILENCE:?}; flush ended");
            self.report.failed += 1;
            self.end_flush(now, ctx);
        }
        if matches!(self.flush, Flush::Deleting { .. }) {
            self.next_deletes(now, ctx);
        }
        if self.resync.as_ref().is_some_and(|r| now >= r.until) {
            log::warn!("routing: no answer to a dump for {RESYNC_SILENCE:?}; resync given up");
            if let Some(r) = self.resync.as_mut() {
                r.tries = RESYNC_TRIES;
                r.spoiled = true;
            }
            self.end_resync(now, ctx);
        }
    }

    fn register(&mut self, interests: &mut Interests<'_>) {
        interests.add(self.nl.fd.as_raw_fd(), false);
        if let Some(events) = &self.events {
            interests.add(events.fd.as_raw_fd(), false);
        }
        if let (Some(ct), false) = (&self.ct, matches!(self.flush, Flush::Idle)) {
            interests.add(ct.fd(), false);
        }
    }

    fn poll_at(&self) -> Option<Instant> {
        let resync = self.resync.as_ref().map(|r| r.until);
        self.flush_until.into_iter().chain(resync).min()
    }

    fn on_ready(&mut self, now: Instant, ready: &Readiness<'_>, ctx: &mut Ctx<'_>) {
        let nl = self.nl.fd.as_raw_fd();
        let events = self.events.as_ref().map(|e| e.fd.as_raw_fd());
        for (fd, r) in ready.all() {
            if !r.any() {
                continue;
            }
            if fd == nl {
                self.read_acks(now, ctx);
            } else if Some(fd) == events {
                self.read_events(now, ctx);
            } else {
                self.step_flush(now, ctx);
            }
        }
    }
}

// ----- between the engine's objects and the kernel's messages ----------------------------

fn emit_change(buf: &mut Vec<u8>, change: &Change, seq: u32) {
    let (obj, add) = match change {
        Change::Add(o) => (o, Some(false)),
        Change::Replace(o) => (o, Some(true)),
        Change::Del(o) => (o, None),
    };
    match obj {
        Object::Rule(spec) => {
            let op = if add.is_some() {
                RuleOp::Add
            } else {
                RuleOp::Del
            };
            emit_rule(buf, op, &to_rule(spec), seq);
        }
        Object::Table(route) => {
            let op = add.map_or(RouteOp::Del, |_| RouteOp::Add);
            emit_route(buf, op, route, seq);
        }
        #[cfg(feature = "balance")]
        other => balance::emit(buf, other, add, seq),
    }
}

/// The rules and routes of ours a notification datagram says the kernel deleted, except
/// those deleted by a request from `own_pid` (our own deletes). Anything else, and bytes
/// that do not parse, are nothing.
fn gone(data: &[u8], own_pid: u32) -> Vec<Object> {
    let deleted = parse_messages(data).flatten().filter(|m| m.pid != own_pid);
    deleted
        .filter_map(|msg| match msg.body {
            Body::Rule { new: false, rule } => from_rule(rule).map(Object::Rule),
            Body::Route { new: false, route } => from_route(route),
            _ => None,
        })
        .collect()
}

fn to_rule(s: &RuleSpec) -> Rule {
    let mut rule = Rule::lookup(s.family, s.table, s.priority, RTPROT_WANFAILOVER);
    rule.src = s.src;
    rule.dst = s.dst;
    rule.ip_proto = s.ip_proto;
    rule.sport = s.sport;
    rule.dport = s.dport;
    rule.fwmark = s.fwmark;
    rule.iif = s.iif.as_deref().and_then(|n| IfName::try_from(n).ok());
    rule
}

fn from_rule(r: Rule) -> Option<RuleSpec> {
    (r.protocol == RTPROT_WANFAILOVER && r.action == FR_ACT_TO_TBL).then(|| RuleSpec {
        family: r.family,
        priority: r.priority,
        table: r.table,
        src: r.src,
        dst: r.dst,
        ip_proto: r.ip_proto,
        sport: r.sport,
        dport: r.dport,
        fwmark: r.fwmark,
        iif: r.iif.map(|n| n.as_str().to_string()),
    })
}

/// A protocol-87 route of ours as the engine keys it; the main table's single-path
/// defaults are the kernel part's.
fn from_route(r: RouteMsg) -> Option<Object> {
    if r.protocol != RTPROT_WANFAILOVER || r.dst_len != 0 {
        return None;
    }
    let family = match i32::from(r.family) {
        libc::AF_INET => Family::V4,
        libc::AF_INET6 => Family::V6,
        _ => return None,
    };
    if let Some(obj) = balance::from_route(&r, family) {
        return Some(obj);
    }
    if r.table == RT_TABLE_MAIN {
        return None;
    }
    r.default_route().map(Object::Table)
}

/// A rule or route of protocol 87 in a dump, as the engine keys it.
fn ours(body: Body, out: &mut Vec<Object>) {
    match body {
        Body::Rule { rule, .. } => out.extend(from_rule(rule).map(Object::Rule)),
        Body::Route { route, .. } => out.extend(from_route(route)),
        _ => {}
    }
}

/// The start-up dumps: every rule and route of protocol 87.
fn dump_ours(nl: &mut RouteSocket, timeout: Duration) -> io::Result<Vec<Object>> {
    let mut out = Vec::new();
    for (seq, emit) in (1..).zip(DUMPS) {
        nl.tx.clear();
        emit(&mut nl.tx, seq);
        nl.dump(seq, timeout, |body| ours(body, &mut out))?;
    }
    if !out.is_empty() {
        log::info!(
            "routing: {} rule(s) and route(s) of a previous run found",
            out.len()
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::route::Route;
    use crate::engine::routing::rule;

    fn reply_rule() -> RuleSpec {
        let mut r = rule(Family::V4, 10_001, 102);
        r.src = crate::config::Cidr::new("192.0.2.18".parse().unwrap(), 32);
        r
    }

    fn table_route() -> Route {
        Route {
            family: Family::V4,
            table: 101,
            ifindex: 2,
            gateway: Some("192.0.2.9".parse().unwrap()),
            metric: 0,
            protocol: RTPROT_WANFAILOVER,
            prefsrc: None,
        }
    }

    /// A deletion notification as the kernel sends it: the whole object (as in an add,
    /// with its action) under `RTM_DELRULE`/`RTM_DELROUTE`, from port `pid`.
    fn deleted(obj: &Object, pid: u32) -> Vec<u8> {
        let mut buf = Vec::new();
        emit_change(&mut buf, &Change::Add(obj.clone()), 7);
        as_deletion(buf, pid)
    }

    fn as_deletion(mut buf: Vec<u8>, pid: u32) -> Vec<u8> {
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        assert!(kind == libc::RTM_NEWRULE || kind == libc::RTM_NEWROUTE);
        buf[4..6].copy_from_slice(&(kind + 1).to_ne_bytes()); // the DEL of each
        buf[12..16].copy_from_slice(&pid.to_ne_bytes()); // nlmsg_pid
        buf
    }

    #[test]
    fn deletions_of_ours_by_others_are_gone_our_own_and_foreign_ones_not() {
        let rule = Object::Rule(reply_rule());
        let table = Object::Table(table_route());
        let mut two = deleted(&rule, 4242);
        two.extend(deleted(&table, 4242));
        assert_eq!(gone(&two, 99), [rule.clone(), table.clone()]);
        assert!(gone(&two, 4242).is_empty(), "our own deletes");
        // another protocol's rule and route, and an addition, are not ours to restore
        let mut foreign = reply_rule();
        foreign.priority = 5;
        let mut r = to_rule(&foreign);
        r.protocol = 4;
        let mut one = Vec::new();
        emit_rule(&mut one, RuleOp::Add, &r, 1);
        let mut buf = as_deletion(one, 1);
        let mut boot = table_route();
        boot.protocol = 3;
        let mut one = Vec::new();
        emit_route(&mut one, RouteOp::Add, &boot, 2);
        buf.extend(as_deletion(one, 1));
        emit_change(&mut buf, &Change::Add(rule.clone()), 3);
        assert!(gone(&buf, 99).is_empty());
        // the same with protocol 87 is ours
        let mut one = Vec::new();
        emit_rule(&mut one, RuleOp::Add, &to_rule(&foreign), 1);
        assert_eq!(gone(&as_deletion(one, 1), 99), [Object::Rule(foreign)]);
        // the main table's single-path defaults are the kernel part's
        let mut main = table_route();
        main.table = RT_TABLE_MAIN;
        assert!(gone(&deleted(&Object::Table(main), 1), 99).is_empty());
    }

    #[test]
    fn hostile_notifications_are_nothing_and_never_panic() {
        let rule = Object::Rule(reply_rule());
        let whole = deleted(&rule, 1);
        // every truncation, every single-byte corruption, a length field lying both ways
        for n in 0..whole.len() {
            assert!(gone(&whole[..n], 99).len() <= 1);
        }
        for i in 0..whole.len() {
            for b in [0u8, 0x7f, 0xff] {
                let mut bad = whole.clone();
                bad[i] = b;
                let _ = gone(&bad, 99);
            }
        }
        for len in [0u32, 1, 15, 16, u32::MAX] {
            let mut bad = whole.clone();
            bad[..4].copy_from_slice(&len.to_ne_bytes());
            assert!(gone(&bad, 99).is_empty(), "length {len}");
        }
        let mut x = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let _ = gone(&noise, 99);
        assert!(gone(&[], 99).is_empty());
    }
}

//! Desired default route vs the kernel's → one route operation at a time, make-before-break.
//!
//! One [`Reconciler`] per WAN and family. It holds the kernel's complete set of default routes on
//! the WAN's interface (replaced by every `Input::Routes`, updated optimistically by our own
//! ACKs), the most recent foreign route (to give back on exit) and the learned gateway.
//!
//! Rules:
//! - **Adopt and rewrite**: our route (protocol `RTPROT_WANFAILOVER`, the foreign route's
//!   gateway, the desired metric) is added first (`CREATE|EXCL`); only after its ACK are the
//!   other routes on the interface deleted exactly (adopted foreign routes, our old metric).
//!   A metric change is the same add-then-delete. Never `NLM_F_REPLACE`.
//! - One operation in flight per slot.
//! - **`EEXIST`** on our add at metric M: some route holds M (another WAN's route mid-swap
//!   after `prefer`/`order`, a foreign route on this WAN that we are about to remove, our own
//!   route with an old gateway, or a route we cannot see). We *park* at the next metric above
//!   M that no known route holds and no WAN wants, finish the make-before-break there (so the
//!   holder on our side goes away), and retry M as soon as our views show M free — or after a
//!   backoff (1 s doubling to 30 s) when the holder is invisible to us. Swaps converge, and a
//!   foreign holder elsewhere never makes us spin.
//! - `ESRCH` on delete means done. Any other error: retry with backoff (100 ms doubling to
//!   10 s) through `poll_at`, never a spin.
//! - An operation the kernel has not answered within [`OP_TIMEOUT`] failed with
//!   [`RouteError::Timeout`] (an ACK can be lost when the request socket overflows) and is
//!   retried like any other error; a late answer is then ignored.
//! - **Restore** (shutdown, or the WAN removed by a reload): add the remembered foreign route
//!   back exactly first, then delete ours. It is added with `NLM_F_APPEND`, not `NLM_F_EXCL`:
//!   two WANs' foreign routes may share a key (busybox udhcpc and ISC dhclient both install
//!   their default at metric 0, and the kernel keeps both on different devices), so the
//!   second one back must not be refused because the first one is. If the foreign route
//!   cannot be added, ours stays (a tagged route beats none); if ours holds its key
//!   (`EEXIST`: IPv6 refuses a second route with the same device and gateway at one metric),
//!   ours goes first once.

use std::net::IpAddr;
use std::time::Duration;

use heapless::Vec as HVec;

use super::route::{Family, Route, RTPROT_WANFAILOVER, RT_TABLE_MAIN};
use super::time::{sooner, Instant};
use super::{Action, OpId, RouteError, OP_ID_LIMIT};
use crate::config::MAX_WANS;

/// Default routes per interface and family the engine tracks; more are ignored (logged).
pub const MAX_ROUTES: usize = 8;
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(10);
const EXISTS_MIN: Duration = Duration::from_secs(1);
/// After another actor deleted our route, wait this long before adding it again. busybox
/// udhcpc's default script renews with `while route del default dev X; do :; done`: put
/// back at once, our route would be deleted again and again and the script never end.
/// A foreign route appearing meanwhile is adopted at once, without this wait.
pub const VANISHED_HOLDOFF: Duration = Duration::from_millis(100);
/// While giving routes back, a foreign route whose metric another WAN's route still holds
/// (that WAN is giving its route back too) is tried again after this long…
const RESTORE_RETRY: Duration = Duration::from_millis(10);
/// …this many times (a second in all) before ours is kept instead.
const RESTORE_ATTEMPTS: u8 = 100;
const EXISTS_MAX: Duration = Duration::from_secs(30);
/// How long the kernel may take to answer a route operation.
pub const OP_TIMEOUT: Duration = Duration::from_secs(3);

/// Metrics in use for one family, across every WAN (built by the engine before reconciling).
#[derive(Debug, Default)]
pub struct Taken {
    /// Metrics of routes in any WAN's kernel view.
    pub held: HVec<u32, { MAX_WANS * MAX_ROUTES * 2 }>,
    /// Desired metrics of all WANs.
    pub desired: HVec<u32, MAX_WANS>,
    /// Metrics of adds in flight (one operation per reconciler at most).
    pub adding: HVec<u32, { MAX_WANS * 2 }>,
}

impl Taken {
    pub fn clear(&mut self) {
        self.held.clear();
        self.desired.clear();
        self.adding.clear();
    }

    fn held(&self, metric: u32) -> bool {
        self.held.contains(&metric)
    }

    /// Whether a WAN parking after `EEXIST` must avoid `metric`: held, wanted, or being
    /// added by another WAN right now (WANs parking at the same moment must not all pick
    /// the same free metric and collide again).
    fn any(&self, metric: u32) -> bool {
        self.held(metric) || self.desired.contains(&metric) || self.adding.contains(&metric)
    }
}

/// What the engine wants for this reconciler now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Want {
    pub metric: u32,
    /// The WAN's current ifindex, if known.
    pub ifindex: Option<u32>,
    /// Admin down: the kernel dropped the routes and refuses new ones.
    pub admin_up: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Add,
    Del,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InFlight {
    id: OpId,
    kind: OpKind,
    route: Route,
    /// Taken as lost when no answer came by then.
    deadline_at: Instant,
}

/// Parked after `EEXIST` at `metric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Blocked {
    metric: u32,
    fallback: u32,
    holder_seen: bool,
    until: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restore {
    /// Foreign route not put back yet.
    Pending,
    /// Our route held its key: delete that one, then add again.
    Collision,
    /// Put back, or given up after a second `EEXIST`.
    Done,
    /// Could not be put back: keep ours.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Manage,
    Restore(Restore),
}

/// One WAN and family.
#[derive(Debug, Clone)]
pub struct Reconciler {
    pub family: Family,
    config_gateway: Option<IpAddr>,
    kernel: HVec<Route, MAX_ROUTES>,
    seen: bool,
    foreign: Option<Route>,
    /// Gateway learned from the kernel; `Some(None)` is a device-only route.
    learned: Option<Option<IpAddr>>,
    op: Option<InFlight>,
    retry_at: Option<Instant>,
    /// Our route was deleted by someone else: not before this time again (see
    /// [`VANISHED_HOLDOFF`]).
    readd_at: Option<Instant>,
    /// Failed attempts to give the foreign route back (see [`RESTORE_ATTEMPTS`]).
    restore_attempts: u8,
    backoff: Duration,
    blocked: Option<Blocked>,
    exists_backoff: Duration,
    mode: Mode,
}

impl Reconciler {
    /// `config_gateway`: the configured gateway if it is of this family.
    pub fn new(family: Family, config_gateway: Option<IpAddr>) -> Reconciler {
        Reconciler {
            family,
            config_gateway,
            kernel: HVec::new(),
            seen: false,
            foreign: None,
            learned: None,
            op: None,
            retry_at: None,
            readd_at: None,
            restore_attempts: 0,
            backoff: RETRY_MIN,
            blocked: None,
            exists_backoff: EXISTS_MIN,
            mode: Mode::Manage,
        }
    }

    pub fn set_config_gateway(&mut self, gateway: Option<IpAddr>) {
        self.config_gateway = gateway;
    }

    /// The kernel's complete set of default routes on the interface for this family.
    pub fn set_kernel(&mut self, now: Instant, routes: &[Route]) {
        self.seen = true;
        let deleting = self.op.filter(|o| o.kind == OpKind::Del).map(|o| o.route);
        let vanished = self
            .kernel
            .iter()
            .any(|r| r.is_ours() && Some(*r) != deleting && !routes.contains(r));
        let foreign_now = routes
            .iter()
            .any(|r| r.family == self.family && !r.is_ours());
        if vanished && !foreign_now {
            self.readd_at = Some(now + VANISHED_HOLDOFF);
        } else if foreign_now {
            self.readd_at = None;
        }
        self.kernel.clear();
        for r in routes.iter().filter(|r| r.family == self.family) {
            if self.kernel.push(*r).is_err() {
                log::warn!("more than {MAX_ROUTES} default routes on one interface; rest ignored");
                break;
            }
        }
        let foreign = self
            .kernel
            .iter()
            .filter(|r| !r.is_ours())
            .min_by_key(|r| r.metric);
        if let Some(f) = foreign.copied() {
            if self.foreign != Some(f) {
                log::info!("foreign default route {f}: adopting");
            }
            self.foreign = Some(f);
            self.learned = Some(f.gateway);
        } else if self.learned.is_none() {
            // our own route left from an earlier run tells the gateway too
            self.learned = self.kernel.first().map(|r| r.gateway);
        }
    }

    /// The foreign route that goes back on exit, if any.
    pub fn foreign(&self) -> Option<Route> {
        self.foreign
    }

    /// A foreign route a previous run replaced and never gave back (it was killed). Used
    /// only while nothing newer is known: a foreign route seen in the kernel wins.
    pub fn remember_foreign(&mut self, route: Route) {
        if self.foreign.is_none() && route.family == self.family && !route.is_ours() {
            self.foreign = Some(route);
            if self.learned.is_none() {
                self.learned = Some(route.gateway);
            }
        }
    }

    /// The interface was re-created with a new ifindex: its routes went with the old one.
    pub fn rebind(&mut self, ifindex: u32) {
        self.kernel.clear();
        if let Some(f) = self.foreign.as_mut() {
            f.ifindex = ifindex;
        }
    }

    /// The interface is gone, and its routes with it.
    pub fn clear_kernel(&mut self) {
        self.kernel.clear();
    }

    /// False only when a dump showed no route and no gateway was ever known (`noroute`).
    /// The gateway our route uses: the configured one, else the learned one (`Some(None)`:
    /// device-only); `None` while neither is known.
    pub fn gateway(&self) -> Option<Option<IpAddr>> {
        self.config_gateway.map(Some).or(self.learned)
    }

    pub fn routable(&self) -> bool {
        !self.seen || self.config_gateway.is_some() || self.learned.is_some()
    }

    /// Metrics of the routes in this reconciler.s kernel view.
    pub fn held_metrics(&self) -> impl Iterator<Item = u32> + '_ {
        self.kernel.iter().map(|r| r.metric)
    }

    /// The metric of the route this reconciler is adding, if an add is in flight.
    pub fn adding_metric(&self) -> Option<u32> {
        self.op
            .filter(|o| o.kind == OpKind::Add)
            .map(|o| o.route.metric)
    }

    /// Whether this reconciler waits for the answer to `id`.
    pub fn has_op(&self, id: OpId) -> bool {
        self.op.is_some_and(|o| o.id == id)
    }

    /// Whether an operation waits for the kernel's answer.
    pub fn in_flight(&self) -> bool {
        self.op.is_some()
    }

    /// An operation unanswered past its deadline failed with [`RouteError::Timeout`].
    pub fn expire(&mut self, now: Instant) {
        let Some(op) = self.op.filter(|o| now >= o.deadline_at) else {
            return;
        };
        log::warn!(
            "no answer from the kernel to {:?} {}; retrying",
            op.kind,
            op.route
        );
        self.op = None;
        self.on_error(now, op.kind, op.route, RouteError::Timeout);
    }

    /// Give the routes back (shutdown, or the WAN left the config).
    pub fn begin_restore(&mut self) {
        if self.mode == Mode::Manage {
            self.mode = Mode::Restore(Restore::Pending);
        }
    }

    /// Restoring and nothing left to do.
    pub fn is_done(&self) -> bool {
        matches!(self.mode, Mode::Restore(_)) && self.op.is_none() && self.next_restore().is_none()
    }

    /// The deadline of the operation in flight, else a pending retry timer.
    pub fn poll_at(&self) -> Option<Instant> {
        if let Some(op) = self.op {
            return Some(op.deadline_at);
        }
        if let Mode::Restore(_) = self.mode {
            return self.retry_at; // a foreign route waiting for its metric to be freed
        }
        let blocked_until = self.blocked.map(|b| b.until);
        sooner(sooner(self.retry_at, blocked_until), self.readd_at)
    }

    /// The next route operation, if one is due. `want` is `None` when the engine wants no
    /// route management for the WAN and family right now.
    pub fn next(
        &mut self,
        now: Instant,
        want: Option<&Want>,
        taken: &Taken,
        ids: &mut OpId,
    ) -> Option<Action> {
        if self.op.is_some() {
            return None; // one operation in flight per reconciler
        }
        let (kind, route) = match self.mode {
            Mode::Manage => self.next_manage(now, want, taken)?,
            Mode::Restore(_) => {
                match self.retry_at {
                    Some(t) if now < t => return None,
                    _ => self.retry_at = None,
                }
                self.next_restore()?
            }
        };
        let id = *ids;
        // 1 ..= OP_ID_LIMIT - 1, round and round (see `OpId`)
        *ids = if id + 1 >= OP_ID_LIMIT { 1 } else { id + 1 };
        self.op = Some(InFlight {
            id,
            kind,
            route,
            deadline_at: now + OP_TIMEOUT,
        });
        Some(match kind {
            OpKind::Add => Action::AddRoute {
                op: id,
                route,
                // a foreign route goes back beside whatever shares its key, as it was found
                append: matches!(self.mode, Mode::Restore(_)),
            },
            OpKind::Del => Action::DelRoute { op: id, route },
        })
    }

    fn next_manage(
        &mut self,
        now: Instant,
        want: Option<&Want>,
        taken: &Taken,
    ) -> Option<(OpKind, Route)> {
        match self.retry_at {
            Some(t) if now < t => return None, // backing off after an error
            _ => self.retry_at = None,
        }
        let Some(wanted) = self.wanted(now, want, taken) else {
            // nothing to park for; a stale timer must not spin the loop (a holdoff still
            // running goes on: the route may be wanted again before it ends)
            self.blocked = None;
            self.readd_at = self.readd_at.filter(|&t| now < t);
            return None;
        };
        if !self.kernel.contains(&wanted) {
            match self.readd_at {
                Some(t) if now < t => return None, // someone deleted ours: let them finish
                _ => self.readd_at = None,
            }
            return Some((OpKind::Add, wanted)); // make…
        }
        // …before break: ours is in place, everything else on the interface goes
        self.kernel
            .iter()
            .find(|r| **r != wanted)
            .map(|r| (OpKind::Del, *r))
    }

    fn wanted(&mut self, now: Instant, want: Option<&Want>, taken: &Taken) -> Option<Route> {
        let Some(want) = want.filter(|w| w.admin_up) else {
            self.blocked = None;
            return None;
        };
        let gateway = match self.config_gateway {
            Some(gw) => Some(gw),
            None => self.learned?,
        };
        let known = self
            .kernel
            .first()
            .or(self.foreign.as_ref())
            .map(|r| r.ifindex);
        let ifindex = want.ifindex.or(known)?;
        let metric = self.metric_for(now, want.metric, taken);
        Some(Route {
            family: self.family,
            table: RT_TABLE_MAIN,
            ifindex,
            gateway,
            metric,
            protocol: RTPROT_WANFAILOVER,
            prefsrc: None,
        })
    }

    /// The desired metric, or the parking metric while it is blocked by `EEXIST`.
    fn metric_for(&mut self, now: Instant, desired: u32, taken: &Taken) -> u32 {
        match self.blocked {
            Some(b) if b.metric == desired => {
                let released = now >= b.until || (b.holder_seen && !taken.held(desired));
                if !released {
                    return b.fallback;
                }
                self.blocked = None;
                desired
            }
            _ => {
                self.blocked = None;
                desired
            }
        }
    }

    fn next_restore(&self) -> Option<(OpKind, Route)> {
        let Mode::Restore(step) = self.mode else {
            return None;
        };
        let ours_at = |m: u32| {
            self.kernel
                .iter()
                .find(|r| r.is_ours() && r.metric == m)
                .copied()
        };
        match (self.foreign, step) {
            // the foreign route goes back first: never a moment without a route on the WAN
            (Some(f), Restore::Pending) if !self.kernel.contains(&f) => {
                return Some((OpKind::Add, f))
            }
            // ours holds its key: ours at that metric first, then the foreign one again
            (Some(f), Restore::Collision) => match ours_at(f.metric) {
                Some(r) => return Some((OpKind::Del, r)),
                None if !self.kernel.contains(&f) => return Some((OpKind::Add, f)),
                None => {}
            },
            // could not put it back: keep ours rather than leave the WAN without a route
            (_, Restore::Failed) => return None,
            _ => {}
        }
        self.kernel
            .iter()
            .find(|r| r.is_ours())
            .map(|r| (OpKind::Del, *r))
    }

    /// `Input::RouteDone`; false if the op is not this reconciler's.
    pub fn on_done(
        &mut self,
        now: Instant,
        id: OpId,
        result: Result<(), RouteError>,
        taken: &Taken,
    ) -> bool {
        let Some(op) = self.op.filter(|o| o.id == id) else {
            return false;
        };
        self.op = None;
        match (op.kind, result) {
            // the kernel has it: our view catches up before the next dump does
            (OpKind::Add, Ok(())) => self.added(op.route),
            // deleted, or already gone (ESRCH): the same for us
            (OpKind::Del, Ok(()) | Err(RouteError::NotFound)) => {
                self.kernel.retain(|r| *r != op.route)
            }
            (OpKind::Add, Err(RouteError::Exists)) => self.on_exists(now, op.route, taken),
            (kind, Err(e)) => self.on_error(now, kind, op.route, e),
        }
        true
    }

    fn added(&mut self, route: Route) {
        if !self.kernel.contains(&route) && self.kernel.push(route).is_err() {
            log::warn!("route view full; {route} not tracked");
        }
        self.backoff = RETRY_MIN;
        if self.blocked.is_none() {
            self.exists_backoff = EXISTS_MIN;
        }
        if let Mode::Restore(_) = self.mode {
            self.mode = Mode::Restore(Restore::Done);
        }
    }

    fn on_exists(&mut self, now: Instant, route: Route, taken: &Taken) {
        if let Mode::Restore(step) = self.mode {
            return self.on_restore_exists(now, step, route);
        }
        let desired = match self.blocked {
            Some(b) if b.fallback == route.metric => b.metric,
            _ => route.metric,
        };
        let fallback = (route.metric.saturating_add(1)..route.metric.saturating_add(1024))
            .find(|&m| !taken.any(m) && !self.kernel.iter().any(|r| r.metric == m));
        let Some(fallback) = fallback else {
            return self.on_error(now, OpKind::Add, route, RouteError::Exists);
        };
        log::info!("{route}: metric taken; parking at metric {fallback}");
        // Once the holder of the wanted metric was seen, its leaving releases us at once,
        // even when it left before this `EEXIST` (on the parking metric) came back.
        let seen_before = self
            .blocked
            .is_some_and(|b| b.metric == desired && b.holder_seen);
        self.blocked = Some(Blocked {
            metric: desired,
            fallback,
            holder_seen: seen_before || taken.held(desired),
            until: now + self.exists_backoff,
        });
        self.exists_backoff = (self.exists_backoff * 2).min(EXISTS_MAX);
    }

    /// The foreign route could not go back: its key is taken.
    fn on_restore_exists(&mut self, now: Instant, step: Restore, route: Route) {
        let ours_holds = self
            .kernel
            .iter()
            .any(|r| r.is_ours() && r.metric == route.metric);
        if step == Restore::Pending && ours_holds {
            // our own route holds the key: delete it first, then add the foreign one again
            self.mode = Mode::Restore(Restore::Collision);
        } else if self.restore_attempts < RESTORE_ATTEMPTS {
            // another WAN's route holds it, and that WAN is giving its route back too:
            // try again shortly; never delete ours before the foreign route is back
            self.restore_attempts += 1;
            self.retry_at = Some(now + RESTORE_RETRY);
        } else {
            log::warn!("cannot restore {route}: its metric stays taken; keeping ours");
            self.mode = Mode::Restore(Restore::Failed);
        }
    }

    fn on_error(&mut self, now: Instant, kind: OpKind, route: Route, e: RouteError) {
        match self.mode {
            // restore: give up on this route and move on
            Mode::Restore(_) if kind == OpKind::Add => {
                log::warn!("cannot restore {route}: {e:?}; keeping ours");
                self.mode = Mode::Restore(Restore::Failed);
            }
            Mode::Restore(_) => {
                log::warn!("cannot delete {route}: {e:?}; giving up");
                self.kernel.retain(|r| *r != route);
            }
            // manage: try again later, never spin
            Mode::Manage => {
                log::warn!("{kind:?} {route}: {e:?}; retry in {:?}", self.backoff);
                self.retry_at = Some(now + self.backoff);
                self.backoff = (self.backoff * 2).min(RETRY_MAX);
            }
        }
    }
}

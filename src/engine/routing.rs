//! The routing half of DESIGN.md §10, decided once per pass like the routes of the main
//! table: per-WAN tables with their `from ADDRESS` reply rules, `[[policy]]` rules with
//! their kill switch, balance mode's multipath default (those two in `balance.rs`, feature
//! `balance`), and the conntrack flush when the WANs carrying the default traffic change.
//!
//! Each pass computes the objects the kernel should hold ([`Object`]) from the WANs'
//! usability (what the ranking uses: not down, routed), the active WAN or the usable set,
//! the WANs' addresses and the config, and diffs them against what the kernel has (the
//! start-up dump of protocol-87 objects, then every acknowledged operation and every
//! deletion of ours another process made, `State::on_gone`; after lost notifications a
//! fresh dump again, `State::set_kernel`):
//!
//! - one operation in flight per object (per kernel key: a table's default, a family's
//!   multipath route);
//! - `EEXIST` on an add and `ENOENT`/`ESRCH` on a delete are done;
//! - a stale object in a key another one wants is deleted first (a table's default that
//!   changed its gateway), except the multipath route, replaced whole in one step;
//! - a failed or unanswered operation is tried again after [`RETRY`].
//!
//! On shutdown nothing is wanted: everything is deleted.

use std::net::IpAddr;
use std::time::Duration;

use heapless::Vec as HVec;

use super::history::{self, Event, Record};
use super::reconcile::OP_TIMEOUT;
use super::report::RoutingStatus;
use super::route::RTPROT_WANFAILOVER;
use super::wan::Link;
use super::{Action, Engine, Family, Instant, OpId, Route, RouteError, WanId, OP_ID_LIMIT};
use crate::config::{Cidr, Fwmark, PortRange, Routing, MAX_WANS};

#[cfg(feature = "balance")]
mod balance;
#[cfg(feature = "balance")]
pub use balance::Hop;

/// Without the `balance` feature: no policy, no kill switch, no multipath.
#[cfg(not(feature = "balance"))]
mod balance {
    use super::{Object, WanView, MAX_WANS};
    use crate::engine::report::RoutingStatus;
    use crate::engine::{Engine, Family, WanId};

    impl Object {
        pub(crate) fn is_multipath(&self) -> bool {
            false
        }
    }

    impl Engine {
        pub(super) fn balance_objects(&self, _: &[[WanView; 2]], _: &mut Vec<Object>) {}

        pub(super) fn multipath(&self, _: &[[WanView; 2]], _: Family) -> Option<()> {
            None
        }

        pub(super) fn pinned(
            &self,
            _: &[[WanView; 2]],
            _: &heapless::Vec<WanId, MAX_WANS>,
        ) -> Vec<u8> {
            Vec::new()
        }

        pub(super) fn balance_status(&self, _: &[[WanView; 2]], _: &mut RoutingStatus) {}
    }
}

/// Reply rules: `from ADDRESS lookup TABLE` at this priority + the WAN's index, before the
/// policies, so a reply leaves by the WAN it came in on whatever a policy says.
pub const REPLY_PRIORITY: u32 = 10_000;
/// Policy rules: this priority + the policy's index.
pub const POLICY_PRIORITY: u32 = 11_000;
/// Policy rules of a `fallback = false` policy (a kill switch): this priority + the
/// policy's index, before the reply rules. The kernel answers an IPv6 lookup that ends at
/// an `unreachable` route for a socket with no source address by choosing one (the active
/// WAN's) and looking up again: behind that address's reply rule, the policy would never be
/// reached the second time, and the gateway's own traffic would leak through the active WAN.
pub const KILL_POLICY_PRIORITY: u32 = 9_000;
// the kill-switch policies' range ends before the reply rules', the policies' after them
const _: () = assert!(
    KILL_POLICY_PRIORITY + crate::config::MAX_POLICIES as u32 <= REPLY_PRIORITY
        && REPLY_PRIORITY + crate::engine::MAX_WANS as u32 <= POLICY_PRIORITY
);
/// The kill switch's `unreachable` default sits below the WAN's own default in its table.
pub const KILL_METRIC: u32 = u32::MAX;
/// The multipath default's metric per family (`[v4, v6]`): IPv6 turns 0 into 1024.
pub const MULTIPATH_METRIC: [u32; 2] = [0, 1];
/// A WAN's default in its table, per family: IPv6 stores 0 as 1024, and a dump after a
/// restart must find it under the metric it was added with.
pub const TABLE_METRIC: [u32; 2] = [0, 1024];
/// How long a failed operation waits before it is tried again the first time.
pub const RETRY: Duration = Duration::from_secs(1);
/// The longest wait after failures in a row.
pub const RETRY_MAX: Duration = Duration::from_secs(32);
/// Most objects kept (rules per address and policy, table routes, multipath).
const MAX_OBJECTS: usize = 1024;

/// A FIB rule as the daemon writes it (looked up in `table`, tagged protocol 87).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub family: Family,
    pub priority: u32,
    pub table: u32,
    pub src: Option<Cidr>,
    pub dst: Option<Cidr>,
    /// `IPPROTO_*`.
    pub ip_proto: Option<u8>,
    pub sport: Option<PortRange>,
    pub dport: Option<PortRange>,
    pub fwmark: Option<Fwmark>,
    pub iif: Option<String>,
}

/// Something the daemon owns in the kernel, all of it protocol 87.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Rule(RuleSpec),
    /// A WAN's default in its table, at [`TABLE_METRIC`].
    Table(Route),
    /// The kill switch: `unreachable default` in a WAN's table at [`KILL_METRIC`].
    #[cfg(feature = "balance")]
    Unreachable {
        family: Family,
        table: u32,
    },
    /// Balance mode's weighted default in the main table at [`MULTIPATH_METRIC`].
    #[cfg(feature = "balance")]
    Multipath {
        family: Family,
        hops: Vec<Hop>,
    },
}

/// What the kernel keys an object by: two objects of one key cannot both be there.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key<'a> {
    Rule(&'a RuleSpec),
    Route {
        family: Family,
        table: u32,
        metric: u32,
    },
}

impl Object {
    fn key(&self) -> Key<'_> {
        match self {
            Object::Rule(r) => Key::Rule(r),
            Object::Table(r) => Key::Route {
                family: r.family,
                table: r.table,
                metric: r.metric,
            },
            #[cfg(feature = "balance")]
            Object::Unreachable { family, table } => Key::Route {
                family: *family,
                table: *table,
                metric: KILL_METRIC,
            },
            #[cfg(feature = "balance")]
            Object::Multipath { family, .. } => Key::Route {
                family: *family,
                table: super::route::RT_TABLE_MAIN,
                metric: MULTIPATH_METRIC[family.index()],
            },
        }
    }
}

/// For the log, as `ip rule` and `ip route` would write it (a derived `Debug` of every
/// field would cost several times the code).
impl core::fmt::Display for Object {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Object::Rule(r) => {
                write!(f, "{} rule {}", r.family, r.priority)?;
                if let Some(c) = &r.src {
                    write!(f, " from {c}")?;
                }
                if let Some(c) = &r.dst {
                    write!(f, " to {c}")?;
                }
                if let Some(p) = r.ip_proto {
                    write!(f, " ipproto {p}")?;
                }
                if let Some(p) = &r.sport {
                    write!(f, " sport {p}")?;
                }
                if let Some(p) = &r.dport {
                    write!(f, " dport {p}")?;
                }
                if let Some(m) = &r.fwmark {
                    write!(f, " fwmark {m}")?;
                }
                if let Some(i) = &r.iif {
                    write!(f, " iif {i}")?;
                }
                write!(f, " lookup {}", r.table)
            }
            Object::Table(r) => write!(f, "{} route {r}", r.family),
            #[cfg(feature = "balance")]
            Object::Unreachable { family, table } => {
                write!(f, "{family} route unreachable default table {table}")
            }
            #[cfg(feature = "balance")]
            Object::Multipath { family, hops } => {
                write!(f, "{family} multipath default of {} hops", hops.len())
            }
        }
    }
}

/// A change of one object, answered with `Input::RoutingDone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `NLM_F_CREATE | NLM_F_EXCL`.
    Add(Object),
    /// The multipath route swapped whole (`NLM_F_REPLACE`), make-before-break.
    Replace(Object),
    Del(Object),
}

impl core::fmt::Display for Change {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (verb, object) = match self {
            Change::Add(o) => ("add", o),
            Change::Replace(o) => ("replace", o),
            Change::Del(o) => ("delete", o),
        };
        write!(f, "{verb} {object}")
    }
}

impl Change {
    pub fn object(&self) -> &Object {
        match self {
            Change::Add(o) | Change::Replace(o) | Change::Del(o) => o,
        }
    }
}

#[derive(Debug, Clone)]
struct InFlight {
    op: OpId,
    change: Change,
    deadline_at: Instant,
}

/// A flush the shell is carrying out: the WANs it moves flows away from.
#[derive(Debug, Clone)]
struct Flushing {
    from: history::Name,
}

/// The routing state of the engine.
#[derive(Debug, Default)]
pub struct State {
    config: Routing,
    /// Per WAN and family (`[v4, v6]`), its addresses as the kernel reports them.
    addrs: Vec<[Vec<IpAddr>; 2]>,
    /// What the kernel holds of ours.
    have: Vec<Object>,
    ops: Vec<InFlight>,
    /// Objects whose last operation failed, and when to try again.
    retry: Vec<(Object, Instant)>,
    /// Failures in a row per object: each doubles the wait, up to [`RETRY_MAX`].
    failures: Vec<(Object, u32)>,
    /// The WANs carrying each family's default traffic after the last pass; `None`
    /// before the first.
    carriers: Option<[HVec<WanId, MAX_WANS>; 2]>,
    flushing: Option<Flushing>,
    /// Addresses of a flush asked for while another runs, with the WANs' names.
    queued: Option<(Vec<IpAddr>, Vec<u8>, history::Name)>,
    flushes: u64,
    flushed: u64,
}

impl State {
    pub(super) fn set_config(&mut self, config: Routing) {
        self.config = config;
    }

    #[cfg(feature = "balance")]
    pub(super) fn mode(&self) -> crate::config::Mode {
        self.config.mode
    }

    /// A reload renumbered the WANs: `new_id` gives a WAN's id after it, by its id
    /// before (none for a removed WAN). The addresses and the carrying set follow their
    /// WANs, so a switch the reload causes flushes like any other; the shell sends the
    /// addresses again.
    pub(super) fn renumber(&mut self, new_id: impl Fn(WanId) -> Option<WanId>) {
        let mut addrs: Vec<[Vec<IpAddr>; 2]> = Vec::new();
        for (old, a) in core::mem::take(&mut self.addrs).into_iter().enumerate() {
            let Some(new) = u8::try_from(old).ok().and_then(&new_id) else {
                continue;
            };
            let i = usize::from(new);
            if addrs.len() <= i {
                addrs.resize_with(i + 1, Default::default);
            }
            addrs[i] = a;
        }
        self.addrs = addrs;
        if let Some(carriers) = &mut self.carriers {
            for set in carriers {
                *set = set.iter().filter_map(|&w| new_id(w)).collect();
            }
        }
    }

    pub(super) fn set_addresses(&mut self, wan: WanId, family: Family, addrs: Vec<IpAddr>) {
        let i = usize::from(wan);
        if i >= MAX_WANS {
            return;
        }
        if self.addrs.len() <= i {
            self.addrs.resize_with(i + 1, Default::default);
        }
        self.addrs[i][family.index()] = addrs;
    }

    /// A dump of what of ours the kernel holds: at start-up what a previous run left, ours
    /// to keep or delete; after lost notifications the kernel's actual state, so that what
    /// someone else deleted meanwhile is added again by the next pass. A key with an
    /// operation on the way keeps what we knew: the answer settles it.
    pub(super) fn set_kernel(&mut self, objects: Vec<Object>) {
        let ops = &self.ops;
        let busy = |o: &Object| ops.iter().any(|op| op.change.object().key() == o.key());
        let mut have: Vec<Object> = objects.into_iter().filter(|o| !busy(o)).collect();
        have.extend(self.have.iter().filter(|h| busy(h)).cloned());
        for gone in self.have.iter().filter(|h| !have.contains(h)) {
            log::warn!("routing: {gone} is not in the kernel any more; adding it again");
        }
        self.have = have;
        self.have.truncate(MAX_OBJECTS);
    }

    /// The kernel deleted `obj`. Ours and no operation of its key on the way: someone
    /// else deleted it (an `ip rule del`, a firewall reload) and the next pass adds it again,
    /// with the usual backoff if the kernel refuses. Else it is the echo of our own delete
    /// (or of a replace), which the answer settles.
    pub(super) fn on_gone(&mut self, obj: &Object) {
        let key = obj.key();
        let ours_on_the_way = self.ops.iter().any(|o| o.change.object().key() == key);
        if ours_on_the_way || !self.have.contains(obj) {
            return;
        }
        log::warn!("routing: {obj} was deleted by someone else; adding it again");
        self.have.retain(|h| h != obj);
    }

    pub(super) fn in_flight(&self) -> bool {
        !self.ops.is_empty()
    }

    /// Nothing of ours left in the kernel and nothing on the way.
    pub(super) fn is_clean(&self) -> bool {
        self.have.is_empty() && self.ops.is_empty()
    }

    pub(super) fn poll_at(&self) -> Option<Instant> {
        let deadlines = self.ops.iter().map(|o| o.deadline_at);
        let retries = self.retry.iter().map(|(_, at)| *at);
        deadlines.chain(retries).min()
    }

    /// The kernel's answer to an operation.
    pub(super) fn on_done(
        &mut self,
        now: Instant,
        op: OpId,
        result: Result<(), RouteError>,
        stopping: bool,
    ) {
        let Some(pos) = self.ops.iter().position(|o| o.op == op) else {
            return;
        };
        let change = self.ops.swap_remove(pos).change;
        if result.is_ok() {
            self.failures.retain(|(o, _)| o != change.object());
        }
        match (change, result) {
            // an identical rule or route is there already: ours from before
            (Change::Add(obj), Ok(()) | Err(RouteError::Exists)) if !obj.is_multipath() => {
                self.have_insert(obj);
            }
            (Change::Add(obj) | Change::Replace(obj), Ok(())) => self.have_insert(obj),
            (Change::Del(obj), Ok(()) | Err(RouteError::NotFound)) => {
                self.have.retain(|h| *h != obj);
            }
            (Change::Del(obj), Err(e)) if stopping => {
                log::warn!("routing: cannot delete {obj} on exit: {e:?}; left behind");
                self.have.retain(|h| *h != obj);
            }
            (change, Err(e)) => self.failed(now, &change, &format!("{e:?}")),
        }
    }

    /// `change` failed: tried again after [`RETRY`], doubled for each failure in a row (a
    /// kernel that refuses it for good is asked seldom and logged once).
    fn failed(&mut self, now: Instant, change: &Change, why: &str) {
        let obj = change.object();
        let n = match self.failures.iter_mut().find(|(o, _)| o == obj) {
            Some((_, n)) => {
                *n = n.saturating_add(1);
                *n
            }
            None => {
                self.failures.push((obj.clone(), 1));
                1
            }
        };
        let wait = RETRY.saturating_mul(1 << (n - 1).min(5)).min(RETRY_MAX);
        if n == 1 {
            log::warn!("routing: {change} failed: {why}; again in {wait:?}");
        } else {
            log::debug!("routing: {change} failed {n} times: {why}; again in {wait:?}");
        }
        self.retry.push((obj.clone(), now + wait));
    }

    /// Puts `obj` where the kernel has it now: what held its key before is gone.
    fn have_insert(&mut self, obj: Object) {
        let key = obj.key();
        if obj.is_multipath() {
            self.have.retain(|h| h.key() != key);
        }
        if !self.have.contains(&obj) && self.have.len() < MAX_OBJECTS {
            self.have.push(obj);
        }
    }

    /// Operations past their deadline fail; retries whose time came are forgotten.
    fn expire(&mut self, now: Instant) {
        let (late, ops): (Vec<_>, Vec<_>) = core::mem::take(&mut self.ops)
            .into_iter()
            .partition(|o| o.deadline_at <= now);
        self.ops = ops;
        for o in late {
            self.failed(now, &o.change, "no answer");
        }
        self.retry.retain(|(_, at)| *at > now);
    }

    /// The operations that bring the kernel to `want`, one per key.
    fn diff(&mut self, now: Instant, want: &[Object], ids: &mut OpId, out: &mut Vec<Action>) {
        self.expire(now);
        let mut changes = Vec::new();
        for h in &self.have {
            let key = h.key();
            let replaced = h.is_multipath() && want.iter().any(|w| w.key() == key);
            if !want.contains(h) && !replaced && self.free(&key) {
                changes.push(Change::Del(h.clone()));
            }
        }
        for w in want {
            let key = w.key();
            if self.have.contains(w) || !self.free(&key) {
                continue;
            }
            let held = self.have.iter().find(|h| h.key() == key);
            match (held, w) {
                (None, _) => changes.push(Change::Add(w.clone())),
                (Some(h), w) if h.is_multipath() && w.is_multipath() => {
                    changes.push(Change::Replace(w.clone()));
                }
                (Some(_), _) => {} // deleted first (above), then added
            }
        }
        for change in changes {
            // a second change of one key in the same pass waits for the first
            if !self.free(&change.object().key()) {
                continue;
            }
            let op = next_id(ids);
            self.ops.push(InFlight {
                op,
                change: change.clone(),
                deadline_at: now + OP_TIMEOUT,
            });
            out.push(Action::Routing { op, change });
        }
    }

    /// No operation on `key` in flight and none waiting to be tried again.
    fn free(&self, key: &Key<'_>) -> bool {
        let busy = self.ops.iter().any(|o| o.change.object().key() == *key);
        let waiting = self.retry.iter().any(|(o, _)| o.key() == *key);
        !busy && !waiting
    }

    /// The shell finished a flush.
    pub(super) fn on_flush_done(&mut self, deleted: u64) -> Option<(history::Name, u64)> {
        let f = self.flushing.take()?;
        self.flushes = self.flushes.saturating_add(1);
        self.flushed = self.flushed.saturating_add(deleted);
        Some((f.from, deleted))
    }
}

/// The next operation id: shared with the main table's reconcilers, so every op is unique.
fn next_id(ids: &mut OpId) -> OpId {
    let id = *ids;
    *ids = if id + 1 >= OP_ID_LIMIT { 1 } else { id + 1 };
    id
}

/// What one WAN brings to the routing decision, per family.
#[derive(Debug, Clone, Copy, Default)]
struct WanView {
    /// Its default in its table could be installed: interface up, gateway known.
    basis: Option<(u32, Option<IpAddr>)>,
    /// Usable for traffic: not down, routed.
    usable: bool,
}

impl Engine {
    /// Per WAN and family what routing needs of it.
    fn wan_views(&self) -> Vec<[WanView; 2]> {
        self.entries
            .iter()
            .map(|e| {
                let mut views = [WanView::default(); 2];
                let ifindex = match e.link() {
                    Link::Present {
                        ifindex,
                        admin_up: true,
                        ..
                    } => Some(ifindex),
                    _ => None,
                };
                for family in [Family::V4, Family::V6] {
                    let (Some(machine), Some(slot)) =
                        (e.family(family), e.reconcilers[family.index()].as_ref())
                    else {
                        continue;
                    };
                    let basis = ifindex.zip(slot.gateway());
                    views[family.index()] = WanView {
                        basis,
                        usable: basis.is_some() && !machine.state().is_down(),
                    };
                }
                views
            })
            .collect()
    }

    /// The objects the kernel should hold now.
    fn desired(&self, views: &[[WanView; 2]]) -> Vec<Object> {
        let mut out = Vec::new();
        for (i, (view, wr)) in views.iter().zip(&self.routing.config.wans).enumerate() {
            for family in [Family::V4, Family::V6] {
                let v = view[family.index()];
                if let Some((ifindex, gateway)) = v.basis {
                    out.push(Object::Table(Route {
                        family,
                        table: wr.table,
                        ifindex,
                        gateway,
                        metric: TABLE_METRIC[family.index()],
                        protocol: RTPROT_WANFAILOVER,
                        prefsrc: None,
                    }));
                }
                let addrs = self
                    .routing
                    .addrs
                    .get(i)
                    .map_or(&[][..], |a| &a[family.index()]);
                for &addr in addrs {
                    let len = if addr.is_ipv4() { 32 } else { 128 };
                    let mut rule = rule(family, REPLY_PRIORITY + i as u32, wr.table);
                    rule.src = Cidr::new(addr, len);
                    out.push(Object::Rule(rule));
                }
            }
        }
        self.balance_objects(views, &mut out);
        out
    }

    /// The routing part of a decision pass: the objects, then the flush.
    pub(super) fn route_objects(&mut self, now: Instant) {
        let views = self.wan_views();
        let want = if self.stopping {
            Vec::new()
        } else {
            self.desired(&views)
        };
        let mut out = Vec::new();
        self.routing.diff(now, &want, &mut self.next_op, &mut out);
        self.actions.extend(out);
        if !self.stopping {
            self.carriers_changed(&views);
        }
    }

    /// The WANs carrying each family's default traffic: the multipath route's, else the
    /// active WAN.
    fn carriers(&self, views: &[[WanView; 2]]) -> [HVec<WanId, MAX_WANS>; 2] {
        let mut out: [HVec<WanId, MAX_WANS>; 2] = Default::default();
        for family in [Family::V4, Family::V6] {
            let set = &mut out[family.index()];
            if self.multipath(views, family).is_some() {
                for (i, v) in views.iter().enumerate().take(MAX_WANS) {
                    if v[family.index()].usable && i < self.routing.config.wans.len() {
                        let _ = set.push(super::wan_id(i)); // at most MAX_WANS
                    }
                }
            } else if let Some(a) = self.active[family.index()] {
                let _ = set.push(a);
            }
        }
        out
    }

    /// A flush when a WAN stopped carrying a family's default traffic.
    fn carriers_changed(&mut self, views: &[[WanView; 2]]) {
        let now_carrying = self.carriers(views);
        let Some(before) = self.routing.carriers.replace(now_carrying.clone()) else {
            return; // the first choice moves no flow
        };
        if !self.routing.config.flush_conntrack {
            return;
        }
        let mut moved_addrs = Vec::new();
        let mut moved_wans: HVec<WanId, MAX_WANS> = HVec::new();
        for family in [Family::V4, Family::V6] {
            let fi = family.index();
            for &w in before[fi].iter().filter(|w| !now_carrying[fi].contains(w)) {
                if let Some(a) = self.routing.addrs.get(usize::from(w)) {
                    moved_addrs.extend_from_slice(&a[fi]);
                }
                if !moved_wans.contains(&w) {
                    let _ = moved_wans.push(w); // at most MAX_WANS
                }
            }
        }
        if moved_wans.is_empty() {
            return;
        }
        // a policy still pins its flows to its WAN while its rule is in force
        let keep = self.pinned(views, &moved_wans);
        let mut names = history::Name::new();
        for (n, &w) in moved_wans.iter().enumerate() {
            let name = self.history_name_of(w);
            let sep = if n == 0 { "" } else { "," };
            if names.push_str(sep).is_err() || names.push_str(&name).is_err() {
                break;
            }
        }
        log::info!(
            "flush_conntrack: flows NATed to {names} ({} address(es)) are re-routed",
            moved_addrs.len()
        );
        self.start_flush(moved_addrs, keep, names);
    }

    fn start_flush(&mut self, moved: Vec<IpAddr>, keep: Vec<u8>, from: history::Name) {
        if self.routing.flushing.is_some() {
            // one flush at a time; the next takes the union
            let q = self.routing.queued.get_or_insert_with(Default::default);
            q.0.extend(moved);
            q.1.extend(keep);
            q.2 = from;
            return;
        }
        self.routing.flushing = Some(Flushing { from });
        self.actions
            .push_back(Action::FlushConntrack { moved, keep });
    }

    /// `Input::FlushDone`: the history records it; a queued flush starts.
    pub(super) fn flush_done(&mut self, now: Instant, deleted: u64) {
        let Some((from, deleted)) = self.routing.on_flush_done(deleted) else {
            log::debug!("flush answer without a flush ignored");
            return;
        };
        self.history.push(Record {
            at: now,
            wan: from.clone(),
            family: None,
            event: Event::Flush { from, deleted },
            cause: "flush_conntrack",
        });
        if let Some((moved, keep, from)) = self.routing.queued.take() {
            if !self.stopping {
                self.start_flush(moved, keep, from);
            }
        }
    }

    fn history_name_of(&self, id: WanId) -> history::Name {
        self.entries
            .get(usize::from(id))
            .map(|e| history::name(&e.name))
            .unwrap_or_default()
    }

    /// `status`'s routing object.
    pub fn routing_status(&self) -> RoutingStatus {
        let mut s = RoutingStatus {
            mode: "failover".into(),
            flushes: self.routing.flushes,
            flushed: self.routing.flushed,
            ..RoutingStatus::default()
        };
        self.balance_status(&self.wan_views(), &mut s);
        s
    }
}

/// A rule without matches that looks up `table`; set the matches on the result.
pub fn rule(family: Family, priority: u32, table: u32) -> RuleSpec {
    RuleSpec {
        family,
        priority,
        table,
        src: None,
        dst: None,
        ip_proto: None,
        sport: None,
        dport: None,
        fwmark: None,
        iif: None,
    }
}

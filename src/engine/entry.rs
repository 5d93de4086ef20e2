//! One managed WAN as the engine holds it: a state machine per managed family, the
//! reconcilers of those families, and the WAN's own state, derived from its families'.
//!
//! An ISP's IPv6 can break while its IPv4 works, so a WAN with `family = "both"` has one
//! [`Wan`] machine per family, each probing only that family's targets: its own rounds,
//! counters, hold, statistics and state. Each family's default route is ranked by its own
//! machine's state (`decide.rs`). Layer facts (carrier, admin state, interface gone,
//! `enabled`) go to every family; address and route facts to their own. A WAN with one
//! family has one machine, configured exactly as the WAN.
//!
//! The WAN's state, what `status` shows first and what a hook without `WAN_FAMILY` reports,
//! is the best of its families' states, in the order `up`, `init`, `degraded`, `down`,
//! `noroute`, `linkdown`, `disabled`: a WAN whose IPv6 is broken still carries IPv4, so it
//! is `up`, and `status` adds `(ipv6 down)`.
//!
//! Transitions are told for the WAN when its families moved together and for a family
//! when it moved alone (see [`Entry::collect`]).

use heapless::{Deque, Vec as HVec};

use super::device::Kind;
use super::reconcile::{Reconciler, Want};
use super::round::family_of;
use super::stats::Throughput;
use super::time::sooner;
use super::wan::{Link, State, Transition, Wan};
use super::{Action, Family, Instant, ProbeError, WanId};
use crate::config::{self, FamilySet, Gateway, Priority, MAX_TARGETS};

/// A target as a family's machine numbers it: the family and the number among its targets.
type Local = (Family, u8);

/// A transition to report: of the WAN (`None`) or of one family of a dual-stack WAN.
pub(super) type Told = (Option<Family>, Transition);

/// How long after the deadline of the last probe sent before a reload that renumbered the
/// targets a round may send under a number that changed.
const MOMENT: std::time::Duration = std::time::Duration::from_micros(1);

/// Transitions kept until the next decision pass reports them.
const TOLD_CAPACITY: usize = 16;

/// One managed WAN: a state machine and a reconciler per managed family (`[v4, v6]`).
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) name: String,
    pub(super) interface: String,
    /// As configured: fixed, or `auto` (resolved by the engine with every WAN's, before
    /// ranking: see [`super::device::resolve`]).
    pub(super) priority: Priority,
    /// The kind of device the interface is, as the shell last reported it (`Input::Device`,
    /// for a WAN with `priority = "auto"`); kept while the interface is gone.
    pub(super) device: Option<Kind>,
    pub(super) throughput: Throughput,
    families: [Option<Wan>; 2],
    pub(super) reconcilers: [Option<Reconciler>; 2],
    /// The family of each target, in config order (an address's, or the WAN's for an http
    /// target that names a host). The shell numbers targets as the config lists them; a
    /// family's machine numbers its own targets (that family's, in order).
    target_families: HVec<Family, MAX_TARGETS>,
    /// Per target number, what it meant before a reload that gave it another meaning, until
    /// a probe or check is sent under it again: answers under it are matched by that (see
    /// [`Entry::configure`]).
    renumbered: HVec<Option<Local>, MAX_TARGETS>,
    /// The WAN's state as last told, and since when.
    state: State,
    since: Instant,
    told: Deque<Told, TOLD_CAPACITY>,
}

impl Entry {
    pub(super) fn new(cfg: &config::Wan, now: Instant) -> Entry {
        let mut entry = Entry {
            name: cfg.name.clone(),
            interface: cfg.interface.clone(),
            priority: cfg.priority,
            device: None,
            throughput: Throughput::default(),
            families: [None, None],
            reconcilers: [None, None],
            target_families: HVec::new(),
            renumbered: HVec::new(),
            state: State::Init,
            since: now,
            told: Deque::new(),
        };
        entry.configure(now, cfg, &mut Vec::new());
        entry
    }

    /// New parameters after a reload: machines of families still managed keep their state,
    /// a family newly managed gets a new machine, one no longer managed is dropped (its
    /// reconciler gives its routes back through `retiring`).
    ///
    /// Targets added or removed renumber the WAN's targets after them, also those of the
    /// other family, whose machine keeps its rounds: the answers of probes and checks sent
    /// before arrive with their old numbers. A family that would send under a number that
    /// meant another target starts no round before every one of them has timed out, and
    /// answers under such a number are matched by what it meant until something is sent
    /// under it again.
    pub(super) fn configure(
        &mut self,
        now: Instant,
        cfg: &config::Wan,
        retiring: &mut Vec<Reconciler>,
    ) {
        self.priority = cfg.priority;
        let before: HVec<Local, MAX_TARGETS> = (0..=u8::MAX)
            .map_while(|i| self.meaning(i))
            .take(MAX_TARGETS)
            .collect();
        let timeout = self.machines().map(Wan::timeout).max();
        // a moment after the last deadline: what comes at it is still for what was sent
        let until = now + timeout.unwrap_or_default().max(cfg.probe.timeout) + MOMENT;
        let families = cfg.probe.targets.iter().map(|t| family_of(t, cfg.family));
        self.target_families = families.take(MAX_TARGETS).collect();
        let link = self.link();
        for family in [Family::V4, Family::V6] {
            let managed = Family::managed_by(cfg.family).contains(&family);
            let slot = &mut self.families[family.index()];
            *slot = match (managed, slot.take()) {
                (true, Some(mut w)) => {
                    let own = family_config(cfg, family);
                    w.name = own.name.clone();
                    w.reconfigure(now, &own);
                    Some(w)
                }
                (true, None) => Some(machine(now, cfg, family, link)),
                (false, _) => None,
            };
        }
        self.configure_reconcilers(cfg, retiring);
        self.quiet_renumbered(before, until);
        self.collect(now);
    }

    /// After a reload: a number that meant another target before it (`before`) keeps that
    /// meaning for answers, and the family that would send under it starts no round until
    /// `until`.
    fn quiet_renumbered(&mut self, before: HVec<Local, MAX_TARGETS>, until: Instant) {
        let mut quiet = [false; 2];
        self.renumbered.clear();
        for (i, was) in (0u8..).zip(before) {
            let now = local_in(&self.target_families, i);
            if let Some((family, _)) = now.filter(|&now| now != was) {
                quiet[family.index()] = true;
            }
            let _ = self.renumbered.push((now != Some(was)).then_some(was)); // room: MAX_TARGETS
        }
        for (w, quiet) in self.families.iter_mut().zip(quiet) {
            if let (Some(w), true) = (w, quiet) {
                w.quiet_until(until);
            }
        }
    }

    /// Create, update or retire the reconcilers after (re)configuration.
    fn configure_reconcilers(&mut self, cfg: &config::Wan, retiring: &mut Vec<Reconciler>) {
        for family in [Family::V4, Family::V6] {
            let managed = Family::managed_by(cfg.family).contains(&family);
            let gateway = match cfg.gateway {
                Gateway::Addr(a) if (a.is_ipv4()) == (family == Family::V4) => Some(a),
                _ => None,
            };
            let slot = &mut self.reconcilers[(family).index()];
            match (managed, slot.take()) {
                (true, Some(mut s)) => {
                    s.set_config_gateway(gateway);
                    *slot = Some(s);
                }
                (true, None) => *slot = Some(Reconciler::new(family, gateway)),
                (false, Some(mut s)) => {
                    s.begin_restore();
                    retiring.push(s);
                }
                (false, None) => {}
            }
        }
    }

    pub(super) fn want(&self, metric: u32) -> Want {
        let (ifindex, admin_up) = match self.link() {
            Link::Unknown => (None, true),
            Link::Gone => (None, false),
            Link::Present {
                ifindex, admin_up, ..
            } => (Some(ifindex), admin_up),
        };
        Want {
            metric,
            ifindex,
            admin_up,
        }
    }

    // ----- what the WAN is --------------------------------------------------------------

    /// The WAN's state: the best of its families' (see the module documentation).
    pub(super) fn state(&self) -> State {
        self.state
    }

    pub(super) fn since(&self) -> Instant {
        self.since
    }

    /// The state machine of `family`, if the WAN manages it.
    pub(super) fn family(&self, family: Family) -> Option<&Wan> {
        self.families[family.index()].as_ref()
    }

    pub(super) fn manages(&self, family: Family) -> bool {
        self.families[family.index()].is_some()
    }

    /// What the kernel said about the interface (the same in every family's machine).
    pub(super) fn link(&self) -> Link {
        self.machines().next().map_or(Link::Unknown, Wan::link)
    }

    pub(super) fn late_rounds(&self) -> u64 {
        self.machines().map(|w| w.late_rounds).sum()
    }

    /// Queued transitions, oldest first.
    pub(super) fn take_told(&mut self) -> Option<Told> {
        self.told.pop_front()
    }

    fn machines(&self) -> impl Iterator<Item = &Wan> {
        self.families.iter().flatten()
    }

    // ----- facts, probes and timers: to the machines, then collected ---------------------

    /// `Input::Link`. Returns true when this is a replug (new ifindex for the WAN).
    pub(super) fn set_link(
        &mut self,
        now: Instant,
        ifindex: u32,
        admin_up: bool,
        carrier: bool,
    ) -> bool {
        let mut replug = false;
        for w in self.families.iter_mut().flatten() {
            replug |= w.set_link(now, ifindex, admin_up, carrier);
        }
        self.collect(now);
        replug
    }

    /// `Input::LinkGone`.
    pub(super) fn link_gone(&mut self, now: Instant) {
        self.families
            .iter_mut()
            .flatten()
            .for_each(|w| w.link_gone(now));
        self.collect(now);
    }

    /// `Input::Addresses`; an address of a family the WAN does not manage changes nothing.
    pub(super) fn set_address(&mut self, now: Instant, family: Family, present: bool) {
        if let Some(w) = self.families[family.index()].as_mut() {
            w.set_address(now, family, present);
            self.collect(now);
        }
    }

    /// Whether a default route or gateway of `family` is known (from its reconciler).
    pub(super) fn set_routable(&mut self, now: Instant, family: Family, routable: bool) {
        if let Some(w) = self.families[family.index()].as_mut() {
            w.set_routable(now, routable);
            self.collect(now);
        }
    }

    /// `Input::Reply`, for the WAN's target number `target`.
    pub(super) fn on_reply(&mut self, now: Instant, target: u8, seq: u16, received_at: Instant) {
        if let Some((w, local)) = self.answered_by(target) {
            w.on_reply(now, local, seq, received_at);
            self.collect(now);
        }
    }

    /// `Input::ProbeFailed`, for the WAN's target number `target`.
    pub(super) fn on_probe_failed(
        &mut self,
        now: Instant,
        target: u8,
        seq: u16,
        error: ProbeError,
    ) {
        if let Some((w, local)) = self.answered_by(target) {
            w.on_probe_failed(now, local, seq, error);
            self.collect(now);
        }
    }

    /// `Input::CheckDone`, for the WAN's target number `target`.
    #[cfg(feature = "checks")]
    pub(super) fn on_check_done(
        &mut self,
        now: Instant,
        target: u8,
        seq: u16,
        at: Instant,
        result: Result<std::time::Duration, crate::check::Failed>,
    ) {
        if let Some((w, local)) = self.answered_by(target) {
            w.on_check_done(now, local, seq, at, result);
            self.collect(now);
        }
    }

    /// Every family's timers; their probes and checks go out under the WAN's target
    /// numbers.
    pub(super) fn tick(
        &mut self,
        now: Instant,
        id: WanId,
        out: &mut std::collections::VecDeque<Action>,
    ) {
        for family in [Family::V4, Family::V6] {
            let Some(w) = self.families[family.index()].as_mut() else {
                continue;
            };
            let first = out.len();
            w.tick(now, id, out);
            for action in out.range_mut(first..) {
                let target = match action {
                    Action::SendProbe { target, .. } => target,
                    #[cfg(feature = "checks")]
                    Action::StartCheck { target, .. } => target,
                    _ => continue,
                };
                *target = global_target(&self.target_families, family, *target);
                if let Some(was) = self.renumbered.get_mut(usize::from(*target)) {
                    *was = None; // from now on answers under it are for what it means
                }
            }
        }
        self.collect(now);
    }

    /// When [`Entry::tick`] has something to do.
    pub(super) fn poll_at(&self) -> Option<Instant> {
        self.machines().fold(None, |at, w| sooner(at, w.poll_at()))
    }

    /// Stop probing for good (shutdown).
    pub(super) fn stop(&mut self) {
        self.families.iter_mut().flatten().for_each(Wan::stop);
    }

    /// How many targets the WAN has (its target numbers are below).
    pub(super) fn target_count(&self) -> usize {
        self.target_families.len()
    }

    /// The family of the WAN's target `target`.
    pub(super) fn target_family(&self, target: u8) -> Option<Family> {
        self.target_families.get(usize::from(target)).copied()
    }

    /// The machine probing the WAN's target `target`, and its own number for it.
    pub(super) fn target(&self, target: u8) -> Option<(&Wan, u8)> {
        let (family, local) = local_in(&self.target_families, target)?;
        Some((self.families[family.index()].as_ref()?, local))
    }

    /// The machine an answer for the WAN's target number `target` goes to, and its own
    /// number for the target.
    fn answered_by(&mut self, target: u8) -> Option<(&mut Wan, u8)> {
        let (family, local) = self.meaning(target)?;
        Some((self.families[family.index()].as_mut()?, local))
    }

    /// What an answer under the WAN's target number `target` is for: what the number meant
    /// before a reload that gave it another meaning, until something is sent under it again
    /// (no round does before what was sent earlier has timed out), else what it means.
    fn meaning(&self, target: u8) -> Option<Local> {
        let before = self.renumbered.get(usize::from(target)).copied().flatten();
        before.or_else(|| local_in(&self.target_families, target))
    }

    // ----- the WAN's state and what is told ---------------------------------------------

    /// Moves what the families' machines changed into the WAN's state and its queue of
    /// transitions to tell, after every input or tick:
    /// - a WAN with one family, or whose families made the same changes together (carrier,
    ///   admin state, interface gone; both judged down in one tick): the WAN made them;
    /// - every family changed and all ended in the same state (carrier lost while IPv6 was
    ///   already down): the WAN went from its state to that one;
    /// - otherwise each family's changes are told with its family, and then the WAN's
    ///   own change if its state (the best of its families') moved.
    fn collect(&mut self, now: Instant) {
        let changes = self.drain_machines();
        let managed: HVec<usize, 2> = (0..2).filter(|&i| self.families[i].is_some()).collect();
        let all_moved = !managed.is_empty() && managed.iter().all(|&i| !changes[i].is_empty());
        let first = managed.first().map_or(&[][..], |&i| &changes[i][..]);
        if all_moved && managed.iter().all(|&i| same_changes(&changes[i], first)) {
            for t in first.iter().copied() {
                self.tell(None, t);
            }
            return;
        }
        let to = self.best_state();
        let state_of = |i: usize| self.families[i].as_ref().map(Wan::state);
        let one_end = managed.iter().all(|&i| state_of(i) == Some(to));
        if !(all_moved && one_end && to != self.state) {
            for (i, family) in [Family::V4, Family::V6].into_iter().enumerate() {
                for t in changes[i].iter().copied() {
                    self.tell(Some(family), t);
                }
            }
        }
        if to != self.state {
            let (from, cause) = (self.state, cause_of(&changes, to));
            self.tell(
                None,
                Transition {
                    at: now,
                    from,
                    to,
                    cause,
                },
            );
        }
    }

    /// Every family machine's queued transitions, `[v4, v6]`.
    fn drain_machines(&mut self) -> [HVec<Transition, 8>; 2] {
        let mut changes = [HVec::new(), HVec::new()];
        for (w, out) in self.families.iter_mut().zip(changes.iter_mut()) {
            while let Some(t) = w.as_mut().and_then(Wan::take_transition) {
                let _ = out.push(t); // capacity: a machine queues at most 8
            }
        }
        changes
    }

    /// Queues a transition; one of the WAN (`None`) also moves the WAN's state.
    fn tell(&mut self, family: Option<Family>, t: Transition) {
        if family.is_none() {
            self.state = t.to;
            self.since = t.at;
        }
        if self.told.is_full() {
            self.told.pop_front();
        }
        let _ = self.told.push_back((family, t)); // room: made above
    }

    /// The best of the families' states (see the module documentation).
    fn best_state(&self) -> State {
        let rank = |s: &State| match s {
            State::Up => 0,
            State::Init => 1,
            State::Degraded => 2,
            State::Down => 3,
            State::Noroute => 4,
            State::Linkdown => 5,
            State::Disabled => 6,
        };
        self.machines()
            .map(Wan::state)
            .min_by_key(rank)
            .unwrap_or(State::Disabled)
    }
}

/// The configuration of one family's machine: the WAN's, with that family's targets only
/// (and named `NAME/ipv4` or `NAME/ipv6` when the WAN has both).
fn family_config(cfg: &config::Wan, family: Family) -> config::Wan {
    if cfg.family != FamilySet::Both {
        return cfg.clone();
    }
    let mut own = cfg.clone();
    own.name = format!("{}/{family}", cfg.name);
    own.family = match family {
        Family::V4 => FamilySet::Ipv4,
        Family::V6 => FamilySet::Ipv6,
    };
    own.probe
        .targets
        .retain(|t| family_of(t, cfg.family) == family);
    own
}

/// A new machine for `family`, told the link facts the WAN already knows.
fn machine(now: Instant, cfg: &config::Wan, family: Family, link: Link) -> Wan {
    let mut w = Wan::new(&family_config(cfg, family), now);
    match link {
        Link::Unknown => {}
        Link::Gone => w.link_gone(now),
        Link::Present {
            ifindex,
            admin_up,
            carrier,
        } => {
            w.set_link(now, ifindex, admin_up, carrier);
        }
    }
    w
}

/// The family of target number `target` of a WAN whose targets have `families`, and that
/// family's number for it.
fn local_in(families: &[Family], target: u8) -> Option<Local> {
    let family = *families.get(usize::from(target))?;
    let before = families.get(..usize::from(target))?;
    let local = before.iter().filter(|&&f| f == family).count();
    Some((family, u8::try_from(local).ok()?))
}

/// The WAN's number for the `local`-th target of `family`.
fn global_target(families: &[Family], family: Family, local: u8) -> u8 {
    let mut of_family = families.iter().enumerate().filter(|(_, &f)| f == family);
    of_family
        .nth(usize::from(local))
        .and_then(|(i, _)| u8::try_from(i).ok())
        .unwrap_or(u8::MAX)
}

/// Why the WAN's state became `to`: the cause of the family change that made it, else of
/// the latest change (a reload that dropped a family changes the WAN without one).
fn cause_of(changes: &[HVec<Transition, 8>; 2], to: State) -> &'static str {
    let lasts = changes.iter().rev().filter_map(|c| c.last());
    let made = lasts.clone().find(|t| t.to == to);
    made.or(changes.iter().rev().find_map(|c| c.last()))
        .map_or("families changed by reload", |t| t.cause)
}

/// Whether two families went through the same states.
fn same_changes(a: &[Transition], b: &[Transition]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x.from, x.to) == (y.from, y.to))
}

//! Per-WAN state machine: probe rounds, verdicts, link facts and quality hysteresis. A WAN
//! managed for both IPv4 and IPv6 has one machine per family, each probing its own family's
//! targets (see `entry.rs`); every machine here serves one family.
//!
//! Every state change goes through `Wan::set_state`, which logs `name: a => b (cause)` and
//! queues a [`Transition`] the engine turns into history and a hook.
//!
//! Layer facts come first: a WAN whose interface is gone, admin down or without carrier is
//! `linkdown`; one with a link but no address of any managed family, or no default route
//! and no gateway known, is `noroute` (layer 3 is not configured yet: DHCP/PPP still
//! negotiating). Only otherwise are probes sent and rounds judged.
//!
//! A round probes every target at once, whatever its kind: an echo request
//! ([`Action::SendProbe`]) or, with the `checks` feature, an HTTP, DNS or TCP check
//! (`Action::StartCheck`), with the round's deadline; both answer the same way, and
//! `reliability` counts passes across kinds. Each target's last result and the cause of its
//! last failure are kept for `health` (`wan/targets.rs`).
//!
//! Rounds start on their pace (`interval`; `failure_interval` after a failed round;
//! `recovery_interval` while down) whether or not the earlier ones are judged yet, so on a
//! link slower than the pace they overlap (DESIGN.md §3: a 200 ms profile on an LTE link
//! whose RTT reaches 500 ms). At most `ceil(timeout / interval)` rounds are outstanding, never
//! more than [`MAX_ROUNDS`]; a round due while that many are out waits for the oldest. With
//! `timeout <= interval` that is one: rounds never overlap. A reply is matched to its round by
//! sequence number and judged against that round's deadline. Verdicts are applied in round
//! start order (a later round decided first waits for the earlier ones), so `down`
//! consecutive failed rounds are consecutive in time. With total loss a WAN is therefore
//! `down` at most `down × interval + timeout` after its last answered round was sent.

use std::collections::VecDeque;
use std::time::Duration;

use heapless::{Deque, Vec as HVec};

use super::health::{Failure, Record};
use super::round::{family_of, Outcome, Round, Sent};
use super::stats::{Summary, Window, MIN_SAMPLES, WINDOW};
use super::time::{sooner, Instant};
use super::{as_micros, Action, Family, ProbeError, WanId};
use crate::config::{self, FamilySet, Probe, Quality, MAX_ROUNDS, MAX_TARGETS};
use targets::{probe_action, records};

mod targets;

// A probe in flight must keep its statistics slot until its timeout has passed.
const _: () = assert!(MAX_ROUNDS * MAX_TARGETS <= WINDOW / 2);

/// Observable WAN states, spelled exactly so in the CLI, JSON and hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Init,
    Up,
    Degraded,
    Down,
    Linkdown,
    Noroute,
    Disabled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Init => "init",
            State::Up => "up",
            State::Degraded => "degraded",
            State::Down => "down",
            State::Linkdown => "linkdown",
            State::Noroute => "noroute",
            State::Disabled => "disabled",
        }
    }

    /// Not usable for traffic: ranked with the down penalty, never active, never preferred.
    pub fn is_down(self) -> bool {
        matches!(
            self,
            State::Down | State::Linkdown | State::Noroute | State::Disabled
        )
    }
}

impl core::fmt::Display for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state change, queued for the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub at: Instant,
    pub from: State,
    pub to: State,
    pub cause: &'static str,
}

/// What the kernel said about the WAN's interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// No `Link`/`LinkGone` input yet: assumed usable, so a shell that reports late does not
    /// hold probing back (probes through a missing interface simply fail).
    Unknown,
    Gone,
    Present {
        ifindex: u32,
        admin_up: bool,
        carrier: bool,
    },
}

/// One WAN (or one family of a dual-stack WAN): its configuration, link facts, round
/// counters and statistics.
#[derive(Debug)]
pub struct Wan {
    /// What its log lines start with: the WAN's name, and for a family of a dual-stack WAN
    /// `NAME/ipv4` or `NAME/ipv6`.
    pub name: String,
    pub interface: String,
    pub family: FamilySet,
    pub enabled: bool,
    probe: Probe,
    quality: Quality,
    state: State,
    since: Instant,
    link: Link,
    /// Address present per family (`[v4, v6]`); `None` until reported: assumed present.
    addr: [Option<bool>; 2],
    routable: bool,
    passed: u8,
    failed: u8,
    last_fail_at: Option<Instant>,
    /// A round has been judged since start-up: from then on `init` is not trusted again.
    judged: bool,
    /// Outstanding rounds, oldest first, until their verdict is applied.
    rounds: Deque<Round, MAX_ROUNDS>,
    /// When the newest round started: the pace counts from it.
    last_round_at: Option<Instant>,
    /// When the next round is due; it may wait for room (see [`Wan::depth`]).
    next_round_at: Option<Instant>,
    seq: u16,
    pub stats: Window,
    /// Replies that decided nothing: for unknown or already answered probes, after their
    /// round's deadline, or to a round already judged.
    pub ignored_replies: u64,
    /// Rounds started more than a tenth of their interval after they were due (a round
    /// waiting for room among the outstanding ones is due when the room appears).
    pub late_rounds: u64,
    transitions: Deque<Transition, 8>,
    /// What each target did last (`health`), indexed like the targets.
    records: Vec<Record>,
    /// Probes that timed out by then are in `records`.
    timeouts_noted_until: Instant,
    /// Rounds were cleared: the shell's running checks count for nothing any more.
    cancel_checks: bool,
    /// No round starts before (a reload renumbered the targets: see `Entry::configure`).
    quiet_until: Instant,
}

impl Wan {
    pub fn new(cfg: &config::Wan, now: Instant) -> Wan {
        let mut wan = Wan {
            name: cfg.name.clone(),
            interface: cfg.interface.clone(),
            family: cfg.family,
            enabled: cfg.enabled,
            probe: cfg.probe.clone(),
            quality: cfg.quality,
            state: State::Init,
            since: now,
            link: Link::Unknown,
            addr: [None; 2],
            routable: true,
            passed: 0,
            failed: 0,
            last_fail_at: None,
            judged: false,
            rounds: Deque::new(),
            last_round_at: None,
            next_round_at: Some(now),
            seq: 0,
            stats: Window::default(),
            ignored_replies: 0,
            late_rounds: 0,
            transitions: Deque::new(),
            records: records(&cfg.probe),
            timeouts_noted_until: now,
            cancel_checks: false,
            quiet_until: Instant::ZERO,
        };
        wan.reevaluate(now);
        wan
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn since(&self) -> Instant {
        self.since
    }

    pub fn link(&self) -> Link {
        self.link
    }

    pub fn summary(&self, now: Instant) -> Summary {
        self.stats.summary(now, self.probe.timeout)
    }

    /// New parameters after a reload; state, counters and statistics stay.
    pub fn reconfigure(&mut self, now: Instant, cfg: &config::Wan) {
        let new_targets = cfg.probe.targets != self.probe.targets;
        self.family = cfg.family;
        self.enabled = cfg.enabled;
        self.probe = cfg.probe.clone();
        self.quality = cfg.quality;
        if new_targets {
            // their target indexes mean something else now; a blocked WAN stays unprobed
            self.clear_rounds(self.next_round_at.map(|_| now));
            self.stats.clear();
            self.records = records(&self.probe);
        } else {
            self.reschedule(now); // the new pace counts from the newest round
        }
        self.reevaluate(now);
    }

    /// Starts no round before `at`.
    pub(super) fn quiet_until(&mut self, at: Instant) {
        self.quiet_until = self.quiet_until.max(at);
    }

    pub(super) fn timeout(&self) -> Duration {
        self.probe.timeout
    }

    /// When the next round may start, if one is due: by its pace, and not while quiet.
    fn due(&self) -> Option<Instant> {
        self.next_round_at.map(|at| at.max(self.quiet_until))
    }

    /// Queued state changes, oldest first.
    pub fn take_transition(&mut self) -> Option<Transition> {
        self.transitions.pop_front()
    }

    // ----- link facts -------------------------------------------------------------------

    /// `Input::Link`. Returns true when this is a replug (new ifindex for the WAN).
    pub fn set_link(&mut self, now: Instant, ifindex: u32, admin_up: bool, carrier: bool) -> bool {
        let replug = matches!(self.link, Link::Present { ifindex: old, .. } if old != ifindex);
        if replug {
            // a re-created interface is a new link: pass through linkdown, fresh counters
            self.link = Link::Gone;
            self.enter_blocked(now, State::Linkdown, "interface replaced");
        }
        self.link = Link::Present {
            ifindex,
            admin_up,
            carrier,
        };
        self.reevaluate(now);
        replug
    }

    /// `Input::LinkGone`.
    pub fn link_gone(&mut self, now: Instant) {
        self.link = Link::Gone;
        self.reevaluate(now);
    }

    /// `Input::Addresses`.
    pub fn set_address(&mut self, now: Instant, family: Family, present: bool) {
        self.addr[(family).index()] = Some(present);
        self.reevaluate(now);
    }

    /// Whether a default route or gateway is known for the WAN (from the reconciler).
    pub fn set_routable(&mut self, now: Instant, routable: bool) {
        self.routable = routable;
        self.reevaluate(now);
    }

    /// The state layer facts force, if any (`disabled`, `linkdown`, `noroute`).
    fn blocked(&self) -> Option<(State, &'static str)> {
        if !self.enabled {
            return Some((State::Disabled, "disabled in config"));
        }
        match self.link {
            Link::Gone => return Some((State::Linkdown, "interface gone")),
            Link::Present {
                admin_up: false, ..
            } => return Some((State::Linkdown, "admin down")),
            Link::Present { carrier: false, .. } => return Some((State::Linkdown, "carrier lost")),
            _ => {}
        }
        if !self.managed_families().any(|f| self.has_address(f)) {
            return Some((State::Noroute, "no address"));
        }
        if !self.routable {
            return Some((State::Noroute, "no default route"));
        }
        None
    }

    /// Apply layer facts at once (no waiting for a round).
    fn reevaluate(&mut self, now: Instant) {
        match (self.blocked(), self.state) {
            // a layer fact stops probing and moves the WAN immediately
            (Some((to, cause)), from) if to != from => self.enter_blocked(now, to, cause),
            // still blocked, same state
            (Some(_), _) => {}
            // usable again: fresh counters and a new window; before any verdict that is
            // `init` (trusted on its first passed round), after one the link must earn its
            // rank like any recovering WAN — `up` rounds and `hold` from now — so a flapping
            // cable cannot flap the traffic with it
            (None, State::Linkdown | State::Noroute | State::Disabled) => {
                self.reset_counters(now);
                self.stats.clear();
                if self.judged {
                    self.last_fail_at = Some(now);
                    self.set_state(now, State::Down, "link back; probing");
                } else {
                    self.set_state(now, State::Init, "link usable");
                }
            }
            // usable and probing: nothing changes
            (None, _) => {}
        }
    }

    fn enter_blocked(&mut self, now: Instant, to: State, cause: &'static str) {
        self.clear_rounds(None);
        self.set_state(now, to, cause);
    }

    fn reset_counters(&mut self, now: Instant) {
        self.passed = 0;
        self.failed = 0;
        self.last_fail_at = None;
        self.clear_rounds(Some(now));
    }

    /// Forget every outstanding round; the next one is due at `next` (`None`: not probing).
    /// Checks still running for them are cancelled.
    fn clear_rounds(&mut self, next: Option<Instant>) {
        self.cancel_checks |= self.probe.targets.iter().any(|t| t.icmp().is_none());
        self.rounds.clear();
        self.last_round_at = None;
        self.next_round_at = next;
    }

    fn managed_families(&self) -> impl Iterator<Item = Family> {
        Family::managed_by(self.family).iter().copied()
    }

    fn has_address(&self, family: Family) -> bool {
        self.addr[(family).index()] != Some(false)
    }

    // ----- probes and rounds ------------------------------------------------------------

    /// Timers: expire rounds at their deadline, apply verdicts, start the next round,
    /// release the hold.
    pub fn tick(&mut self, now: Instant, id: WanId, out: &mut VecDeque<Action>) {
        self.stats.expire(now, self.probe.timeout);
        #[cfg(feature = "checks")]
        if core::mem::take(&mut self.cancel_checks) {
            let family = self.managed_families().next().unwrap_or(Family::V4);
            out.push_back(Action::CancelChecks { wan: id, family });
        }
        let reliability = self.probe.reliability;
        for r in self.rounds.iter_mut() {
            if r.verdict.is_none() && now >= r.deadline {
                r.expire(reliability);
            }
        }
        self.settle(now);
        self.note_timeouts(now);
        if let Some(due) = self.due().filter(|&at| self.has_room() && now >= at) {
            if now.saturating_since(due) > self.probe.interval / 10 {
                self.late_rounds = self.late_rounds.saturating_add(1);
            }
            self.start_round(now, id, out);
        }
        self.try_recover(now);
    }

    /// Stop probing for good (shutdown).
    pub fn stop(&mut self) {
        self.clear_rounds(None);
    }

    /// When [`Wan::tick`] has something to do.
    pub fn poll_at(&self) -> Option<Instant> {
        let undecided = self.rounds.iter().filter(|r| r.verdict.is_none());
        let deadline = undecided.map(|r| r.deadline).min();
        // a round due without room starts when a verdict makes room, not on a timer
        let next = self.due().filter(|_| self.has_room());
        let hold = self.hold_until();
        sooner(sooner(deadline, next), hold)
    }

    /// Rounds that may be outstanding at once: as many as the `interval` schedule keeps in
    /// flight, `ceil(timeout / interval)`, at least one and at most [`MAX_ROUNDS`]. A faster
    /// pace (confirming a failure, recovering) waits for room instead of piling up rounds.
    fn depth(&self) -> usize {
        let timeout_us = as_micros(self.probe.timeout);
        let interval_us = as_micros(self.probe.interval).max(1);
        let rounds = timeout_us.div_ceil(interval_us);
        usize::try_from(rounds)
            .unwrap_or(MAX_ROUNDS)
            .clamp(1, MAX_ROUNDS)
    }

    fn has_room(&self) -> bool {
        self.rounds.len() < self.depth()
    }

    /// Time between round starts for the verdicts applied so far.
    fn pace(&self) -> Duration {
        match self.state {
            // while down: probe at the recovery pace
            State::Down => self.probe.recovery_interval,
            // after a failure: confirm fast
            _ if self.failed > 0 => self.probe.failure_interval,
            _ => self.probe.interval,
        }
    }

    /// The next round one pace after the newest, but not before `earliest`.
    fn reschedule(&mut self, earliest: Instant) {
        if let (Some(_), Some(last)) = (self.next_round_at, self.last_round_at) {
            self.next_round_at = Some((last + self.pace()).max(earliest));
        }
    }

    fn start_round(&mut self, now: Instant, id: WanId, out: &mut VecDeque<Action>) {
        let mut round = Round {
            deadline: now + self.probe.timeout,
            probes: HVec::new(),
            verdict: None,
        };
        // every kind of target alike: an echo request or a check, numbered by position
        for (i, t) in self.probe.targets.iter().take(MAX_TARGETS).enumerate() {
            let target = u8::try_from(i).unwrap_or(u8::MAX);
            let seq = self.seq;
            self.seq = self.seq.wrapping_add(1);
            let family = family_of(t, self.family);
            // a target of a family without an address cannot answer: lost without sending
            let outcome = if self.has_address(family) {
                self.stats.sent(now, seq, target);
                out.push_back(probe_action(id, target, t, seq, round.deadline));
                Outcome::Pending
            } else {
                if let Some(r) = self.records.get_mut(i) {
                    r.failed(now, Failure::NoAddress);
                }
                Outcome::Lost
            };
            let _ = round.probes.push(Sent { seq, outcome }); // capacity: take(MAX_TARGETS)
        }
        round.decide(self.probe.reliability, now);
        let _ = self.rounds.push_back(round); // room: checked by `tick`
        self.last_round_at = Some(now);
        self.next_round_at = Some(now + self.pace());
        self.settle(now);
    }

    /// `Input::Reply` (source, identifier and cookie already verified by the shell).
    pub fn on_reply(&mut self, now: Instant, target: u8, seq: u16, received_at: Instant) {
        let in_window = self.stats.received(seq, received_at);
        self.on_answer(now, target, seq, received_at, in_window);
    }

    /// An answer (echo reply or passed check) that arrived `at`, already in the statistics
    /// if `in_window`: it counts for its round if it came by the round's deadline.
    fn on_answer(&mut self, now: Instant, target: u8, seq: u16, at: Instant, in_window: bool) {
        if let (true, Some(rtt_us)) = (in_window, self.stats.rtt_us(seq)) {
            if let Some(r) = self.records.get_mut(usize::from(target)) {
                r.passed(rtt_us);
            }
        }
        let counted = self.mark(
            now,
            target,
            seq,
            |deadline| at <= deadline,
            Outcome::Answered,
        );
        if !counted {
            self.ignored_replies = self.ignored_replies.saturating_add(1);
            if !in_window {
                log::debug!("{}: ignored reply seq {seq} target {target}", self.name);
            }
            return;
        }
        self.settle(now);
    }

    /// `Input::ProbeFailed`: the probe is lost now.
    pub fn on_probe_failed(&mut self, now: Instant, target: u8, seq: u16, error: ProbeError) {
        self.on_failure(now, target, seq, Failure::Probe(error));
    }

    /// Set the outcome of a pending probe of the round that sent `seq`, and decide that
    /// round if it can be; false if no undecided round waits for this probe.
    fn mark(
        &mut self,
        now: Instant,
        target: u8,
        seq: u16,
        ok: impl Fn(Instant) -> bool,
        to: Outcome,
    ) -> bool {
        let reliability = self.probe.reliability;
        let sent_it =
            |r: &&mut Round| matches!(r.probes.get(usize::from(target)), Some(p) if p.seq == seq);
        let Some(round) = self.rounds.iter_mut().find(sent_it) else {
            return false;
        };
        if !ok(round.deadline) {
            return false;
        }
        let Some(probe) = round.pending(target, seq) else {
            return false;
        };
        probe.outcome = to;
        round.decide(reliability, now);
        true
    }

    /// Apply decided verdicts in round start order: a later round decided first waits for
    /// the earlier ones, so "consecutive failed rounds" means consecutive in time.
    fn settle(&mut self, now: Instant) {
        let mut settled_at = Instant::ZERO;
        while let Some(v) = self.rounds.front().and_then(|r| r.verdict) {
            let (full, pace) = (!self.has_room(), self.pace());
            self.rounds.pop_front();
            settled_at = settled_at.max(v.at);
            self.on_verdict(now, v.passed);
            // a new pace counts from the newest round; a round that waited for room is due
            // now that there is some
            if full || pace != self.pace() {
                self.reschedule(settled_at);
            }
        }
    }

    /// The verdict rules, one arm per state.
    fn on_verdict(&mut self, now: Instant, passed: bool) {
        self.judged = true;
        if passed {
            self.passed = self.passed.saturating_add(1);
            self.failed = 0;
        } else {
            self.failed = self.failed.saturating_add(1);
            self.passed = 0;
            self.last_fail_at = Some(now);
        }
        let down = self.probe.down.max(1);
        match self.state {
            // init: the first passed round is enough to trust the link
            State::Init if passed => self.set_state(now, State::Up, "round passed"),
            // init/up/degraded: `down` consecutive failed rounds make the WAN down
            State::Init | State::Up | State::Degraded if self.failed >= down => {
                self.set_state(now, State::Down, "probe rounds failed")
            }
            // down: `up` passed rounds and `hold` since the last failure bring it back
            State::Down => self.try_recover(now),
            // a single failed or passed round changes nothing else
            State::Init | State::Up | State::Degraded => {}
            // no rounds run in these states; a verdict cannot reach here
            State::Linkdown | State::Noroute | State::Disabled => {}
        }
        self.check_quality(now);
    }

    /// When a down WAN with enough passed rounds may come back (hold expiry).
    fn hold_until(&self) -> Option<Instant> {
        let enough = self.passed >= self.probe.up.max(1);
        match (self.state, enough) {
            (State::Down, true) => Some(
                self.last_fail_at
                    .map_or(self.since, |t| t + self.probe.hold),
            ),
            _ => None,
        }
    }

    fn try_recover(&mut self, now: Instant) {
        if matches!(self.hold_until(), Some(at) if now >= at) {
            self.set_state(now, State::Up, "probe rounds passed");
            self.check_quality(now);
        }
    }

    // ----- quality ----------------------------------------------------------------------

    /// `up` ⇄ `degraded`: over a threshold goes degraded, back only when every value is at or
    /// under its recovery value.
    fn check_quality(&mut self, now: Instant) {
        let s = self.summary(now);
        match self.state {
            // reachable but over a threshold
            State::Up => {
                if let Some(cause) = exceeds(&self.quality, &s) {
                    self.set_state(now, State::Degraded, cause);
                }
            }
            // hysteresis: all values under their recovery values
            State::Degraded if recovered(&self.quality, &s) => {
                self.set_state(now, State::Up, "quality recovered")
            }
            _ => {}
        }
    }

    /// The one door for state changes: log and queue the transition.
    fn set_state(&mut self, now: Instant, to: State, cause: &'static str) {
        let from = self.state;
        if from == to {
            return;
        }
        log::info!("{}: {} => {} ({})", self.name, from, to, cause);
        self.state = to;
        self.since = now;
        if self.transitions.is_full() {
            self.transitions.pop_front();
        }
        let _ = self.transitions.push_back(Transition {
            at: now,
            from,
            to,
            cause,
        });
    }
}

fn exceeds(q: &Quality, s: &Summary) -> Option<&'static str> {
    if s.samples < MIN_SAMPLES {
        return None;
    }
    let over_us = |v: Option<u64>, max: Option<Duration>| matches!((v, max), (Some(v), Some(m)) if v > super::as_micros(m));
    if over_us(s.latency_us, q.max_latency) {
        return Some("latency over threshold");
    }
    if matches!((s.loss_centi_pct, q.max_loss), (Some(l), Some(m)) if l > m.0) {
        return Some("loss over threshold");
    }
    if over_us(s.jitter_us, q.max_jitter) {
        return Some("jitter over threshold");
    }
    None
}

fn recovered(q: &Quality, s: &Summary) -> bool {
    // an unset recovery value equals its threshold; an unknown value is not "under"
    let under_us = |v: Option<u64>, max: Option<Duration>, rec: Option<Duration>| match rec.or(max)
    {
        None => true,
        Some(r) => matches!(v, Some(v) if v <= super::as_micros(r)),
    };
    let loss_ok = match q.recovery_loss.or(q.max_loss) {
        None => true,
        Some(r) => matches!(s.loss_centi_pct, Some(l) if l <= r.0),
    };
    under_us(s.latency_us, q.max_latency, q.recovery_latency)
        && loss_ok
        && under_us(s.jitter_us, q.max_jitter, q.recovery_jitter)
}

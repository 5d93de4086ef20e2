//! The checks part: runs the HTTP, DNS and TCP checks the engine asks for
//! ([`Action::StartCheck`](crate::engine::Action::StartCheck)) through each WAN, with the
//! runners of `sys::check`, and turns their ends into `Input::CheckDone`.
//!
//! Per WAN it keeps the way out, a [`Via`] per family (the interface and that family's
//! source address, rebuilt when the kernel part reports new addresses or a new interface),
//! the host names its `http` targets resolved through its own `dns` servers (a
//! [`Cache`]), and its running checks, at most [`MAX_RUNNING`]. A check ends when its
//! descriptor says so or at its deadline (the round's), whichever comes first; the engine's
//! [`CancelChecks`](crate::engine::Action::CancelChecks) ends them early, unreported, when
//! the WAN's rounds of a family were cleared (link lost, interface replaced, targets changed
//! by a reload) and drops the WAN's cached names with them; a dual-stack WAN's checks of
//! the other family go on.
//!
//! Nothing here blocks or allocates per check beyond the runner itself (an `http` or `dns`
//! check is one boxed value with its bounded buffers): a WAN's list of running checks
//! grows to what its rounds need, at most [`MAX_RUNNING`], and keeps that room.

use std::time::Duration;

use crate::check::cache::Cache;
use crate::check::url::Host;
use crate::check::{Failed, Outcome};
use crate::config::{Target, MAX_ROUNDS, MAX_TARGETS, MAX_WANS};
use crate::engine::{Engine, Family, Input, Instant, WanId};
use crate::sys::check::{Check, Interest, Via};

use super::part::{Ctx, Interests, Part, Readiness};
use super::wans::{Wan, Wans};

/// Checks one WAN may run at once: every target of as many rounds as can be outstanding.
/// Rounds decided early leave their checks running to their deadline (the statistics want
/// them), so more could be asked for in odd profiles; the oldest then makes room.
pub const MAX_RUNNING: usize = MAX_ROUNDS * MAX_TARGETS;

/// One running check and what it was started for.
#[derive(Debug)]
struct Running {
    target: u8,
    /// The family the check goes by (its target's, when it started).
    family: Family,
    seq: u16,
    started_at: Instant,
    check: Check,
}

/// One WAN's way out, name cache and running checks.
struct WanChecks {
    /// The WAN as its `via` was built for (interface, ifindex, address epoch).
    built_for: Wan,
    /// `[IPv4, IPv6]`; `None` while the interface name is not usable.
    via: [Option<Via>; 2],
    cache: Cache,
    /// At most [`MAX_RUNNING`].
    running: Vec<Running>,
}

/// Every WAN's checks, indexed like the WAN table.
#[derive(Default)]
pub struct Checks {
    wans: Vec<WanChecks>,
    /// The WAN table generation the list follows.
    generation: Option<u32>,
}

impl Checks {
    /// Starts the check of `target` of `wan`; a check that cannot start is returned as its
    /// (failed) end, for the engine.
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    pub fn start(
        &mut self,
        now: Instant,
        engine: &Engine,
        wan: WanId,
        target: u8,
        seq: u16,
        deadline: Instant,
    ) -> Option<Input> {
        let w = self.wans.get_mut(usize::from(wan))?;
        let Some(t) = engine.target(wan, target) else {
            log::warn!("check of unknown target {target} of WAN {wan} not started");
            return None;
        };
        let family = engine.target_family(wan, target)?;
        let Some(via) = w.via[family.index()].as_ref() else {
            return Some(done(wan, target, seq, now, Err(no_interface())));
        };
        let cached = host_name(t).and_then(|name| w.cache.get(now, name));
        let check = match Check::start(now, deadline, via, t, cached) {
            Ok(check) => check,
            Err(e) => {
                log::debug!("{}: check {t} not started: {e}", w.built_for.name);
                return Some(done(wan, target, seq, now, Err(e.failed())));
            }
        };
        if w.running.len() >= MAX_RUNNING {
            log::debug!(
                "{}: {MAX_RUNNING} checks running; the oldest makes room",
                w.built_for.name
            );
            w.running.remove(0);
        }
        let running = Running {
            target,
            family,
            seq,
            started_at: now,
            check,
        };
        w.running.push(running); // at most MAX_RUNNING: room made above
        None
    }

    /// Ends the WAN's running checks of `family` unreported and forgets its cached names.
    pub fn cancel(&mut self, wan: WanId, family: Family) {
        if let Some(w) = self.wans.get_mut(usize::from(wan)) {
            let before = w.running.len();
            w.running.retain(|r| r.family != family);
            if w.running.len() < before {
                log::debug!(
                    "{}: {} {family} check(s) cancelled",
                    w.built_for.name,
                    before - w.running.len()
                );
            }
            w.cache.clear();
        }
    }

    /// After a reload the list follows the new order, keeping the checks of WANs that
    /// stayed; a WAN whose interface or addresses changed gets a new way out.
    fn follow(&mut self, wans: &Wans) {
        let (list, seen) = (&mut self.wans, &mut self.generation);
        wans.remap(list, seen, |w| &w.built_for, WanChecks::new);
        for (checks, (_, wan)) in self.wans.iter_mut().zip(wans.iter()) {
            checks.follow(wan);
        }
    }

    /// The running checks with their WAN, in a fixed order (registration and readiness are
    /// matched by it).
    fn running(&self) -> impl Iterator<Item = (WanId, &Running)> {
        self.wans.iter().enumerate().flat_map(|(i, w)| {
            // the WAN table never holds more than MAX_WANS (32)
            let id = i as WanId;
            w.running.iter().map(move |r| (id, r))
        })
    }

    /// Hands every running check of every WAN to `step`; the ones it finishes are reported
    /// and removed.
    fn step_all(
        &mut self,
        now: Instant,
        engine: &mut Engine,
        mut step: impl FnMut(&mut Check) -> Option<Outcome>,
    ) {
        for (i, w) in self.wans.iter_mut().enumerate() {
            let id = i as WanId; // at most MAX_WANS
            let mut j = 0;
            while j < w.running.len() {
                let Some(outcome) = step(&mut w.running[j].check) else {
                    j += 1;
                    continue;
                };
                let r = w.running.remove(j);
                w.learn(now, engine, id, r.target, &outcome);
                let result = result(now, &r, outcome);
                engine.handle(now, done(id, r.target, r.seq, now, result));
            }
        }
    }
}

impl Part for Checks {
    /// Follows the WAN table, and ends the checks whose deadline has come.
    fn prepare(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        self.follow(ctx.wans);
        let due = self.running().any(|(_, r)| r.check.poll_at() <= now);
        if due {
            self.step_all(now, ctx.engine, |check| {
                if check.poll_at() <= now {
                    check.on_timeout(now)
                } else {
                    None
                }
            });
        }
    }

    fn register(&mut self, interests: &mut Interests<'_>) {
        for (_, r) in self.running() {
            let write = r.check.interest() == Interest::Write;
            interests.add_rw(r.check.fd(), !write, write);
        }
    }

    fn poll_at(&self) -> Option<Instant> {
        self.running().map(|(_, r)| r.check.poll_at()).min()
    }

    /// The running checks are the ones registered (none starts or ends in between), so
    /// their readiness comes in the same order.
    fn on_ready(&mut self, now: Instant, ready: &Readiness<'_>, ctx: &mut Ctx<'_>) {
        let mut all = ready.all();
        self.step_all(now, ctx.engine, |check| {
            let (fd, r) = all.next()?;
            (fd == check.fd() && r.any())
                .then(|| check.on_ready(now, r))
                .flatten()
        });
    }
}

impl WanChecks {
    fn new(wan: &Wan) -> WanChecks {
        let mut w = WanChecks {
            built_for: wan.clone(),
            via: [None, None],
            cache: Cache::new(),
            running: Vec::new(),
        };
        w.build_via();
        w
    }

    /// A new way out when the interface or its addresses changed.
    fn follow(&mut self, wan: &Wan) {
        let same = self.built_for.ifindex == wan.ifindex && self.built_for.sources == wan.sources;
        if !same {
            self.built_for = wan.clone();
            self.build_via();
        }
    }

    fn build_via(&mut self) {
        let wan = &self.built_for;
        for family in [Family::V4, Family::V6] {
            let source = wan.sources[family.index()];
            self.via[family.index()] = match Via::new(&wan.interface, source) {
                Ok(via) => Some(via),
                Err(e) => {
                    log::warn!("{}: no checks: {e}", wan.name);
                    None
                }
            };
        }
    }

    /// Keeps the address an http check looked its host name up to.
    fn learn(&mut self, now: Instant, engine: &Engine, wan: WanId, target: u8, outcome: &Outcome) {
        let name = engine.target(wan, target).and_then(host_name);
        if let (Some(name), Some(resolved)) = (name, outcome.resolved) {
            self.cache.put(now, name, resolved);
        }
    }
}

/// The host name an http target looks up, if it names one.
fn host_name(target: &Target) -> Option<&crate::check::dns::Name> {
    match target {
        Target::Http(h) => match &h.url.host {
            Host::Name(name) => Some(name),
            Host::Addr(_) => None,
        },
        _ => None,
    }
}

/// What the engine hears of a finished check: a pass with the round trip it measured (the
/// whole check's time if it measured none), or the failure.
fn result(now: Instant, r: &Running, outcome: Outcome) -> Result<Duration, Failed> {
    outcome
        .result
        .map(|()| outcome.rtt.round_trip().unwrap_or(now - r.started_at))
}

fn done(wan: WanId, target: u8, seq: u16, at: Instant, result: Result<Duration, Failed>) -> Input {
    Input::CheckDone {
        wan,
        target,
        seq,
        at,
        result,
    }
}

/// The interface name cannot be used for a socket (the config checks names; a WAN table
/// without one is an invariant gone wrong, reported rather than trusted).
fn no_interface() -> Failed {
    Failed {
        step: crate::check::Step::Connect,
        cause: crate::check::Cause::Os(libc::ENODEV),
    }
}

// A WAN table of MAX_WANS fits the ids.
const _: () = assert!(MAX_WANS <= u8::MAX as usize);

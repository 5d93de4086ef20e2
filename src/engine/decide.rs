//! The decision pass, run once per poll after inputs or a due timer: the WANs' timers,
//! ranking and the switch of the active WAN, route reconciliation, and the hooks that
//! report transitions, switches and connectivity.
//!
//! Each family is ranked on its own: a WAN's IPv4 route by its IPv4 state, its IPv6 route
//! by its IPv6 state, each among the other WANs' routes of that family, and each family has
//! its own active WAN.

use heapless::Vec as HVec;

use super::device::{self, Kind};
use super::entry::{Entry, Told};
use super::history::{self, Event, Record};
use super::reconcile::Taken;
use super::report::or_none;
use super::{policy, wan_id, Action, Engine, Family, HookKind, Instant, SwitchCause, WanId};
use crate::config::MAX_WANS;

/// Both families, in the order of the per-family arrays.
const FAMILIES: [Family; 2] = [Family::V4, Family::V6];

impl Engine {
    /// Timers, policy, reconciliation and hooks, in that order: route operations go out
    /// before hooks, so a re-rank never waits behind a hook.
    pub(super) fn update(&mut self, now: Instant) {
        self.passes += 1;
        self.recorded = false;
        if !self.stopping {
            for (i, e) in self.entries.iter_mut().enumerate() {
                e.tick(now, wan_id(i), &mut self.actions);
            }
        }
        let transitions = self.take_transitions();
        let was_active = self.active_of(None);
        let switches = if self.stopping {
            HVec::new()
        } else {
            self.rank(now)
        };
        let connectivity = if self.stopping {
            None
        } else {
            self.connectivity(now, was_active, &transitions)
        };
        self.reconcile(now);
        #[cfg(feature = "routing")]
        self.route_objects(now);
        self.retiring.retain(|s| !s.is_done());
        for (id, (family, t)) in transitions {
            self.actions.push_back(Action::Hook {
                wan: id,
                kind: HookKind::Transition,
                family,
                state: t.to,
                previous: t.from,
                active: self.active_of(family),
            });
        }
        self.actions.extend(switches);
        self.actions.extend(connectivity);
    }

    /// The active WAN of `family`; for `None`, of the first family any WAN manages.
    pub(super) fn active_of(&self, family: Option<Family>) -> Option<WanId> {
        let family = family.or_else(|| self.primary_family())?;
        self.active[family.index()]
    }

    /// IPv4, unless no WAN manages it: the family whose active WAN is "the" active WAN.
    pub(super) fn primary_family(&self) -> Option<Family> {
        FAMILIES.into_iter().find(|&f| self.anyone_manages(f))
    }

    fn anyone_manages(&self, family: Family) -> bool {
        self.entries.iter().any(|e| e.manages(family))
    }

    fn take_transitions(&mut self) -> HVec<(WanId, Told), 64> {
        let mut out = HVec::new();
        for (i, e) in self.entries.iter_mut().enumerate() {
            while let Some((family, t)) = e.take_told() {
                let event = Event::Transition {
                    from: t.from,
                    to: t.to,
                };
                self.history.push(Record {
                    at: t.at,
                    wan: history::name(&e.name),
                    family,
                    event,
                    cause: t.cause,
                });
                if out.push((wan_id(i), (family, t))).is_err() {
                    log::warn!("too many transitions at once; hook for {} dropped", e.name);
                }
            }
        }
        out
    }

    /// Desired metrics and the active WAN of each family; switch hooks for those that
    /// changed.
    fn rank(&mut self, now: Instant) -> HVec<Action, 2> {
        let order = self.order.as_ref().map(|names| {
            names
                .iter()
                .filter_map(|n| self.wan_id(n))
                .collect::<HVec<WanId, MAX_WANS>>()
        });
        let prefer = self.prefer.as_deref().and_then(|n| self.wan_id(n));
        let priorities = self.priorities();
        let before = self.active;
        for family in FAMILIES {
            let inputs = policy_inputs(&self.entries, &priorities, family);
            #[allow(unused_mut)]
            let mut metrics = policy::metrics(&inputs, order.as_deref(), prefer, self.penalties);
            // balance: every WAN's route behind the multipath default (metric 0 or 1)
            #[cfg(feature = "balance")]
            if self.routing.mode() == crate::config::Mode::Balance {
                metrics.iter_mut().for_each(|m| *m = m.saturating_add(1));
            }
            let routed = |i: usize| self.entries.get(i).is_some_and(|e| e.manages(family));
            self.active[family.index()] = policy::active(&inputs, &metrics, routed);
            self.metrics[family.index()] = metrics;
        }
        let cause = core::mem::replace(&mut self.switch_cause, SwitchCause::StateChange);
        let mut out = HVec::new();
        for (family, from, to) in self.family_switches(before) {
            if let Some(hook) = self.switch(now, family, from, to, cause) {
                let _ = out.push(hook); // room: at most one switch per family
            }
        }
        out
    }

    /// Which families' active WAN changed: one switch for the whole when both changed
    /// alike, or when the other family has no WAN at all; otherwise one per family.
    fn family_switches(
        &self,
        before: [Option<WanId>; 2],
    ) -> HVec<(Option<Family>, Option<WanId>, Option<WanId>), 2> {
        let after = self.active;
        let changed = |f: Family| before[f.index()] != after[f.index()];
        let mut out = HVec::new();
        if changed(Family::V4)
            && changed(Family::V6)
            && before[0] == before[1]
            && after[0] == after[1]
        {
            let _ = out.push((None, before[0], after[0]));
            return out;
        }
        for family in FAMILIES.into_iter().filter(|&f| changed(f)) {
            let other = FAMILIES[1 - family.index()];
            let named = self.anyone_manages(other).then_some(family);
            let _ = out.push((named, before[family.index()], after[family.index()]));
        }
        out
    }

    fn switch(
        &mut self,
        now: Instant,
        family: Option<Family>,
        from: Option<WanId>,
        to: Option<WanId>,
        cause: SwitchCause,
    ) -> Option<Action> {
        let (from_name, to_name) = (self.history_name(from), self.history_name(to));
        let what = family.map_or(String::new(), |f| format!("{f} "));
        log::info!(
            "active {what}WAN: {} => {} ({})",
            or_none(&from_name),
            or_none(&to_name),
            cause.as_str()
        );
        // the first choice after start-up is not a change
        if from.is_some() || self.switches > 0 {
            self.switches = self.switches.saturating_add(1);
        }
        let wan = to.or(from)?;
        let e = self.entries.get(usize::from(wan))?;
        let state = family
            .and_then(|f| e.family(f))
            .map_or(e.state(), |w| w.state());
        let record_wan = if to.is_some() {
            to_name.clone()
        } else {
            from_name.clone()
        };
        let event = Event::Switch {
            from: from_name,
            to: to_name,
        };
        self.history.push(Record {
            at: now,
            wan: record_wan,
            family,
            event,
            cause: cause.as_str(),
        });
        Some(Action::Hook {
            wan,
            kind: HookKind::Switch,
            family,
            state,
            previous: state,
            active: to,
        })
    }

    /// Every WAN's priority in effect, in config order: fixed ones as configured, `auto`
    /// ones from their device kind (an unknown kind until the shell reported one), moved
    /// past every value taken before them.
    pub(super) fn priorities(&self) -> HVec<u32, MAX_WANS> {
        let wants: HVec<(Option<u32>, Kind), MAX_WANS> = self
            .entries
            .iter()
            .map(|e| (e.priority.fixed(), e.device.unwrap_or(Kind::Unknown)))
            .collect();
        let mut out = HVec::new();
        device::resolve(&wants, &mut out); // capacity: one per WAN, at most MAX_WANS
        out
    }

    /// The `connectivity` hook on an edge of "some WAN is active": `none` names the WAN
    /// that was active, `full` the one that is now. The first pass only sets the baseline,
    /// so the state found at start-up is never announced.
    fn connectivity(
        &mut self,
        now: Instant,
        was_active: Option<WanId>,
        transitions: &[(WanId, Told)],
    ) -> Option<Action> {
        let connected = self.active_of(None).is_some();
        let before = self.connected.replace(connected)?;
        if before == connected {
            return None;
        }
        // a reload may have removed the WAN that was active: then the first one
        let wan = self.active_of(None).or(was_active).unwrap_or(0);
        let state = self.entries.get(usize::from(wan))?.state();
        let previous = transitions
            .iter()
            .find(|(id, (family, _))| *id == wan && family.is_none())
            .map_or(state, |(_, (_, t))| t.from);
        let name = self.history_name(Some(wan));
        let word = history::connectivity(connected);
        log::info!("connectivity: {word} ({name})");
        let cause = if connected {
            "a WAN is usable again"
        } else {
            "no WAN is usable"
        };
        self.history.push(Record {
            at: now,
            wan: name,
            family: None,
            event: Event::Connectivity { connected },
            cause,
        });
        Some(Action::Hook {
            wan,
            kind: HookKind::Connectivity,
            family: None,
            state,
            previous,
            active: self.active_of(None),
        })
    }

    /// A WAN's name as the history keeps it; empty for none.
    fn history_name(&self, id: Option<WanId>) -> history::Name {
        id.and_then(|i| self.entries.get(usize::from(i)))
            .map(|e| history::name(&e.name))
            .unwrap_or_default()
    }

    fn reconcile(&mut self, now: Instant) {
        let managed = self
            .entries
            .iter_mut()
            .flat_map(|e| e.reconcilers.iter_mut().flatten());
        for slot in managed.chain(self.retiring.iter_mut()) {
            slot.expire(now);
        }
        let mut taken = core::mem::take(&mut self.taken);
        for family in FAMILIES {
            self.fill_taken(family, &mut taken);
            let fi = (family).index();
            for (i, e) in self.entries.iter_mut().enumerate() {
                let Some(metric) = self.metrics[fi].get(i).copied() else {
                    continue;
                };
                let want = e.want(metric);
                let Some(slot) = e.reconcilers[fi].as_mut() else {
                    continue;
                };
                self.actions
                    .extend(slot.next(now, Some(&want), &taken, &mut self.next_op));
            }
            for slot in self.retiring.iter_mut().filter(|s| s.family == family) {
                self.actions
                    .extend(slot.next(now, None, &taken, &mut self.next_op));
            }
        }
        self.taken = taken;
    }

    pub(super) fn fill_taken(&self, family: Family, taken: &mut Taken) {
        taken.clear();
        for slot in self.reconcilers().filter(|s| s.family == family) {
            for m in slot.held_metrics() {
                let _ = taken.held.push(m); // full: capacity covers every reconciler.s view
            }
            if let Some(m) = slot.adding_metric() {
                let _ = taken.adding.push(m); // capacity: one op per reconciler
            }
        }
        for &m in &self.metrics[family.index()] {
            let _ = taken.desired.push(m);
        }
    }
}

/// What the policy needs of each WAN to rank `family`: the state of the WAN's machine of
/// that family. A WAN without that family has no route of it to rank; it takes its place
/// with its own state all the same, so that the metrics of a setup whose WANs each manage
/// one family are what they were when all WANs were ranked together.
fn policy_inputs(
    entries: &[Entry],
    priorities: &[u32],
    family: Family,
) -> HVec<policy::Input, MAX_WANS> {
    let state = |e: &Entry| e.family(family).map_or(e.state(), |w| w.state());
    entries
        .iter()
        .zip(priorities)
        .map(|(e, &priority)| policy::Input {
            state: state(e),
            priority,
        })
        .collect()
}

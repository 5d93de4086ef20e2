//! The decision pass, run once per poll after inputs or a due timer: the WANs' timers,
//! ranking and the switch of the active WAN, route reconciliation, and the hooks that
//! report transitions, switches and connectivity.

use heapless::Vec as HVec;

use super::history::{self, Event, Record};
use super::reconcile::Taken;
use super::report::or_none;
use super::wan::Transition;
use super::{policy, wan_id, Action, Engine, Family, HookKind, Instant, SwitchCause, WanId};
use crate::config::MAX_WANS;

impl Engine {
    /// Timers, policy, reconciliation and hooks, in that order: route operations go out
    /// before hooks, so a re-rank never waits behind a hook.
    pub(super) fn update(&mut self, now: Instant) {
        self.passes += 1;
        self.recorded = false;
        if !self.stopping {
            for (i, e) in self.entries.iter_mut().enumerate() {
                e.wan.tick(now, wan_id(i), &mut self.actions);
            }
        }
        let transitions = self.take_transitions();
        let was_active = self.active;
        let switch = if self.stopping { None } else { self.rank(now) };
        let connectivity = if self.stopping {
            None
        } else {
            self.connectivity(now, was_active, &transitions)
        };
        self.reconcile(now);
        self.retiring.retain(|s| !s.is_done());
        for (id, t) in transitions {
            let (state, previous, active) = (t.to, t.from, self.active);
            let kind = HookKind::Transition;
            self.actions.push_back(Action::Hook {
                wan: id,
                kind,
                state,
                previous,
                active,
            });
        }
        self.actions.extend(switch);
        self.actions.extend(connectivity);
    }

    fn take_transitions(&mut self) -> HVec<(WanId, Transition), 64> {
        let mut out = HVec::new();
        for (i, e) in self.entries.iter_mut().enumerate() {
            while let Some(t) = e.wan.take_transition() {
                let event = Event::Transition {
                    from: t.from,
                    to: t.to,
                };
                let wan = history::name(&e.wan.name);
                self.history.push(Record {
                    at: t.at,
                    wan,
                    event,
                    cause: t.cause,
                });
                if out.push((wan_id(i), t)).is_err() {
                    log::warn!(
                        "too many transitions at once; hook for {} dropped",
                        e.wan.name
                    );
                }
            }
        }
        out
    }

    /// Desired metrics and the active WAN; a switch hook if the active WAN changed.
    fn rank(&mut self, now: Instant) -> Option<Action> {
        let inputs: HVec<policy::Input, MAX_WANS> = self
            .entries
            .iter()
            .map(|e| policy::Input {
                state: e.wan.state(),
                priority: e.wan.priority,
            })
            .collect();
        let order = self.order.as_ref().map(|names| {
            names
                .iter()
                .filter_map(|n| self.wan_id(n))
                .collect::<HVec<WanId, MAX_WANS>>()
        });
        let prefer = self.prefer.as_deref().and_then(|n| self.wan_id(n));
        self.metrics = policy::metrics(&inputs, order.as_deref(), prefer, self.penalties);
        let active = policy::active(&inputs, &self.metrics);
        let cause = core::mem::replace(&mut self.switch_cause, SwitchCause::StateChange);
        if active == self.active {
            return None;
        }
        let previous = core::mem::replace(&mut self.active, active);
        self.switch(now, previous, active, cause)
    }

    fn switch(
        &mut self,
        now: Instant,
        from: Option<WanId>,
        to: Option<WanId>,
        cause: SwitchCause,
    ) -> Option<Action> {
        let (from_name, to_name) = (self.history_name(from), self.history_name(to));
        log::info!(
            "active WAN: {} => {} ({})",
            or_none(&from_name),
            or_none(&to_name),
            cause.as_str()
        );
        // the first choice after start-up is not a change
        if from.is_some() || self.switches > 0 {
            self.switches = self.switches.saturating_add(1);
        }
        let wan = to.or(from)?;
        let state = self.entries.get(usize::from(wan))?.wan.state();
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
            event,
            cause: cause.as_str(),
        });
        Some(Action::Hook {
            wan,
            kind: HookKind::Switch,
            state,
            previous: state,
            active: to,
        })
    }

    /// The `connectivity` hook on an edge of "some WAN is active": `none` names the WAN
    /// that was active, `full` the one that is now. The first pass only sets the baseline,
    /// so the state found at start-up is never announced.
    fn connectivity(
        &mut self,
        now: Instant,
        was_active: Option<WanId>,
        transitions: &[(WanId, Transition)],
    ) -> Option<Action> {
        let connected = self.active.is_some();
        let before = self.connected.replace(connected)?;
        if before == connected {
            return None;
        }
        // a reload may have removed the WAN that was active: then the first one
        let wan = self.active.or(was_active).unwrap_or(0);
        let state = self.entries.get(usize::from(wan))?.wan.state();
        let previous = transitions
            .iter()
            .find(|(id, _)| *id == wan)
            .map_or(state, |(_, t)| t.from);
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
            event: Event::Connectivity { connected },
            cause,
        });
        Some(Action::Hook {
            wan,
            kind: HookKind::Connectivity,
            state,
            previous,
            active: self.active,
        })
    }

    /// A WAN's name as the history keeps it; empty for none.
    fn history_name(&self, id: Option<WanId>) -> history::Name {
        id.and_then(|i| self.entries.get(usize::from(i)))
            .map(|e| history::name(&e.wan.name))
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
        for family in [Family::V4, Family::V6] {
            self.fill_taken(family, &mut taken);
            let fi = (family).index();
            for (i, e) in self.entries.iter_mut().enumerate() {
                let Some(metric) = self.metrics.get(i).copied() else {
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
        for &m in &self.metrics {
            let _ = taken.desired.push(m);
        }
    }
}

//! Carrying out what the engine decided: each action goes to the part that has the means.

use crate::engine::{wan, Action, Family, HookKind, Instant, WanId};
use crate::hooks::HookEvent;
use crate::sys::netlink::message::RouteOp;

use super::Daemon;

impl Daemon {
    /// One decision pass for everything recorded since the last one, and its actions
    /// carried out. What went wrong carrying them out (a failed send) is recorded
    /// afterwards, for the next pass.
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    pub(super) fn decide(&mut self, now: Instant) {
        while let Some(action) = self.engine.poll_action(now) {
            let failed = match action {
                Action::SendProbe {
                    wan,
                    target,
                    addr,
                    seq,
                } => self.parts.probes.send(now, wan, target, addr, seq),
                #[cfg(feature = "checks")]
                Action::StartCheck {
                    wan,
                    target,
                    seq,
                    deadline,
                } => self
                    .parts
                    .checks
                    .start(now, &self.engine, wan, target, seq, deadline),
                #[cfg(feature = "checks")]
                Action::CancelChecks { wan, family } => {
                    self.parts.checks.cancel(wan, family);
                    None
                }
                Action::AddRoute { op, route, append } => {
                    let kind = if append {
                        RouteOp::Append
                    } else {
                        RouteOp::Add
                    };
                    self.parts.kernel.send_route(op, &route, kind)
                }
                Action::DelRoute { op, route } => {
                    self.parts.kernel.send_route(op, &route, RouteOp::Del)
                }
                #[cfg(feature = "routing")]
                Action::Routing { op, change } => self.parts.routing.send(op, &change),
                #[cfg(feature = "routing")]
                Action::FlushConntrack { moved, keep } => {
                    self.parts.routing.flush(now, moved, &keep)
                }
                Action::Hook {
                    wan,
                    kind,
                    family,
                    state,
                    previous,
                    active,
                } => {
                    let ev = self.hook_event(wan, kind, family, state, previous, active);
                    self.announce(now, ev);
                    None
                }
            };
            self.feedback.extend(failed);
        }
        for input in self.feedback.drain(..) {
            self.engine.handle(now, input);
        }
    }

    /// The event as hooks see it: names instead of ids.
    fn hook_event(
        &self,
        wan: WanId,
        kind: HookKind,
        family: Option<Family>,
        state: wan::State,
        previous: wan::State,
        active: Option<WanId>,
    ) -> HookEvent {
        let w = self.wans.get(wan);
        HookEvent {
            wan: w.map(|w| w.name.clone()).unwrap_or_default(),
            interface: w.map(|w| w.interface.clone()).unwrap_or_default(),
            kind,
            family,
            state,
            previous,
            active: active
                .map(|a| self.wans.name(a))
                .unwrap_or_default()
                .to_string(),
        }
    }

    /// Queues the hooks for an event; a switch of the active WAN (of IPv4, or of the WAN
    /// as a whole) also updates the systemd status line.
    fn announce(&mut self, now: Instant, ev: HookEvent) {
        let primary = matches!(ev.family, None | Some(Family::V4));
        if ev.kind == HookKind::Switch && primary && self.notifier.enabled() {
            let shown = if ev.active.is_empty() {
                "none"
            } else {
                ev.active.as_str()
            };
            self.notifier.send(&format!("STATUS=active WAN: {shown}"));
        }
        self.hooks.queue(now, ev);
    }
}

//! Carrying out what the engine decided: each action goes to the part that has the means.

use crate::engine::{wan, Action, HookKind, Instant, WanId};
use crate::hooks::HookEvent;
use crate::sys::netlink::message::RouteOp;

use super::Daemon;

impl Daemon {
    /// One decision pass for everything recorded since the last one, and its actions
    /// carried out. What went wrong carrying them out (a failed send) is recorded
    /// afterwards, for the next pass.
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
                Action::CancelChecks { wan } => {
                    self.parts.checks.cancel(wan);
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
                Action::Hook {
                    wan,
                    kind,
                    state,
                    previous,
                    active,
                } => {
                    self.announce(now, wan, kind, state, previous, active);
                    None
                }
            };
            self.feedback.extend(failed);
        }
        for input in self.feedback.drain(..) {
            self.engine.handle(now, input);
        }
    }

    /// Queues the hooks for an event; a switch also updates the systemd status line.
    fn announce(
        &mut self,
        now: Instant,
        wan: WanId,
        kind: HookKind,
        state: wan::State,
        previous: wan::State,
        active: Option<WanId>,
    ) {
        let active_name = active.map(|a| self.wans.name(a)).unwrap_or_default();
        if kind == HookKind::Switch && self.notifier.enabled() {
            let shown = if active.is_some() {
                active_name
            } else {
                "none"
            };
            self.notifier.send(&format!("STATUS=active WAN: {shown}"));
        }
        let w = self.wans.get(wan);
        let ev = HookEvent {
            wan: w.map(|w| w.name.clone()).unwrap_or_default(),
            interface: w.map(|w| w.interface.clone()).unwrap_or_default(),
            kind,
            state,
            previous,
            active: active_name.to_string(),
        };
        self.hooks.queue(now, ev);
    }
}

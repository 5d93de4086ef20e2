//! Inputs: what the kernel, the probes, the control socket and the configuration tell the
//! engine, applied to the WAN state machines and the reconcilers.

use super::device::Kind;
use super::entry::Entry;
use super::reconcile::Reconciler;
use super::{
    penalties, Command, Engine, Family, Input, Instant, OpId, ProbeError, Route, RouteError,
    SwitchCause, WanId,
};
use crate::config::{self, Config, MAX_WANS};

impl Engine {
    /// Passes one input to its handler.
    pub(super) fn dispatch(&mut self, now: Instant, input: Input) {
        match input {
            Input::Link {
                wan,
                ifindex,
                admin_up,
                carrier,
            } => self.on_link(now, wan, ifindex, admin_up, carrier),
            Input::LinkGone { wan } => self.on_link_gone(now, wan),
            Input::Device { wan, kind } => self.on_device(wan, kind),
            Input::Addresses {
                wan,
                family,
                present,
            } => self.on_addresses(now, wan, family, present),
            Input::Routes {
                wan,
                family,
                routes,
            } => self.on_routes(now, wan, family, &routes),
            Input::RouteDone { op, result } => self.on_route_done(now, op, result),
            Input::Reply {
                wan,
                target,
                seq,
                received_at,
            } => self.on_reply(now, wan, target, seq, received_at),
            Input::ProbeFailed {
                wan,
                target,
                seq,
                error,
            } => self.on_probe_failed(now, wan, target, seq, error),
            #[cfg(feature = "checks")]
            Input::CheckDone {
                wan,
                target,
                seq,
                at,
                result,
            } => {
                if let Some(e) = self.entry(wan) {
                    e.on_check_done(now, target, seq, at, result);
                }
            }
            Input::Counters {
                wan,
                rx_bytes,
                tx_bytes,
            } => self.on_counters(now, wan, rx_bytes, tx_bytes),
            Input::Command(c) => self.on_command(c),
            Input::ForeignRoute { wan, route } => self.on_foreign_route(wan, route),
            Input::Reload(config) => {
                #[cfg(feature = "routing")]
                let names: Vec<String> = self.entries.iter().map(|e| e.name.clone()).collect();
                self.reload(now, &config);
                #[cfg(feature = "routing")]
                {
                    let ids: Vec<Option<WanId>> = names.iter().map(|n| self.wan_id(n)).collect();
                    let new_id = |old: WanId| ids.get(usize::from(old)).copied().flatten();
                    self.routing.renumber(new_id);
                }
            }
            #[cfg(feature = "routing")]
            Input::Routing(config) => self.routing.set_config(config),
            #[cfg(feature = "routing")]
            Input::WanAddresses { wan, family, addrs } => {
                self.routing.set_addresses(wan, family, addrs);
            }
            #[cfg(feature = "routing")]
            Input::RoutingState(objects) => self.routing.set_kernel(objects),
            #[cfg(feature = "routing")]
            Input::RoutingGone(object) => self.routing.on_gone(&object),
            #[cfg(feature = "routing")]
            Input::RoutingDone { op, result } => {
                let stopping = self.stopping;
                self.routing.on_done(now, op, result, stopping);
            }
            #[cfg(feature = "routing")]
            Input::FlushDone {
                deleted,
                gone,
                failed,
            } => {
                if failed > 0 {
                    log::warn!("flush_conntrack: {failed} deletes refused ({gone} already gone)");
                }
                self.flush_done(now, deleted);
            }
            Input::Shutdown => self.shutdown(),
        }
    }

    fn entry(&mut self, wan: WanId) -> Option<&mut Entry> {
        let e = self.entries.get_mut(usize::from(wan));
        if e.is_none() {
            log::warn!("input for unknown WAN id {wan} ignored");
        }
        e
    }

    fn on_addresses(&mut self, now: Instant, wan: WanId, family: Family, present: bool) {
        if let Some(e) = self.entry(wan) {
            e.set_address(now, family, present);
        }
    }

    fn on_reply(&mut self, now: Instant, wan: WanId, target: u8, seq: u16, received_at: Instant) {
        if let Some(e) = self.entry(wan) {
            e.on_reply(now, target, seq, received_at);
        }
    }

    fn on_probe_failed(
        &mut self,
        now: Instant,
        wan: WanId,
        target: u8,
        seq: u16,
        error: ProbeError,
    ) {
        if let Some(e) = self.entry(wan) {
            // the words `health` uses (ProbeError's Debug is not linked for this line)
            let why = super::Failure::Probe(error);
            log::debug!("{}: probe {seq} to target {target} failed: {why}", e.name);
            e.on_probe_failed(now, target, seq, error);
        }
    }

    fn on_counters(&mut self, now: Instant, wan: WanId, rx_bytes: u64, tx_bytes: u64) {
        if let Some(e) = self.entry(wan) {
            e.throughput.update(now, rx_bytes, tx_bytes);
        }
    }

    fn on_link(&mut self, now: Instant, wan: WanId, ifindex: u32, admin_up: bool, carrier: bool) {
        let Some(e) = self.entry(wan) else { return };
        if e.set_link(now, ifindex, admin_up, carrier) {
            // replug: the old interface's routes are gone; the foreign one moves along
            e.reconcilers
                .iter_mut()
                .flatten()
                .for_each(|s| s.rebind(ifindex));
        }
    }

    fn on_link_gone(&mut self, now: Instant, wan: WanId) {
        let Some(e) = self.entry(wan) else { return };
        e.link_gone(now);
        e.reconcilers
            .iter_mut()
            .flatten()
            .for_each(Reconciler::clear_kernel);
    }

    /// The priority of an `auto` WAN follows its device kind from the next decision pass.
    fn on_device(&mut self, wan: WanId, kind: Kind) {
        let Some(e) = self.entry(wan) else { return };
        if e.device != Some(kind) {
            log::info!(
                "{}: interface {} is {kind} (priority auto)",
                e.name,
                e.interface
            );
            e.device = Some(kind);
        }
    }

    fn on_routes(&mut self, now: Instant, wan: WanId, family: Family, routes: &[Route]) {
        let stopping = self.stopping;
        let Some(e) = self.entry(wan) else { return };
        let Some(slot) = e.reconcilers[(family).index()].as_mut() else {
            log::debug!("{}: {family} not managed; routes ignored", e.name);
            return;
        };
        slot.set_kernel(now, routes);
        // a family without a route or gateway is noroute
        let routable = slot.routable();
        if !stopping {
            e.set_routable(now, family, routable);
        }
    }

    fn on_route_done(&mut self, now: Instant, op: OpId, result: Result<(), RouteError>) {
        let Some(family) = self.reconcilers().find(|s| s.has_op(op)).map(|s| s.family) else {
            log::warn!("answer for unknown route op {op} ignored");
            return;
        };
        let mut taken = core::mem::take(&mut self.taken);
        self.fill_taken(family, &mut taken);
        let managed = self
            .entries
            .iter_mut()
            .flat_map(|e| e.reconcilers.iter_mut().flatten());
        for slot in managed.chain(self.retiring.iter_mut()) {
            if slot.on_done(now, op, result, &taken) {
                break;
            }
        }
        self.taken = taken;
    }

    /// Steering; checked by the caller, and again here (a reload in between may have
    /// renamed the WANs).
    fn on_command(&mut self, command: Command) {
        if let Err(e) = self.check_command(&command) {
            log::warn!("command refused: {e}");
            return;
        }
        match command {
            // rank NAME first while it is usable
            Command::Prefer(name) => {
                self.prefer = Some(name);
                self.switch_cause = SwitchCause::Prefer;
            }
            // back to automatic ranking (a runtime order stays)
            Command::Auto => {
                self.prefer = None;
                self.switch_cause = SwitchCause::Auto;
            }
            // ranks by position
            Command::Order(names) => {
                self.order = Some(names);
                self.switch_cause = SwitchCause::Order;
            }
        }
    }

    fn on_foreign_route(&mut self, wan: WanId, route: Route) {
        let Some(e) = self.entry(wan) else { return };
        if let Some(slot) = e.reconcilers[route.family.index()].as_mut() {
            slot.remember_foreign(route);
        }
    }

    fn reload(&mut self, now: Instant, config: &Config) {
        let name_of = |id: Option<WanId>| {
            let e = id.and_then(|id| self.entries.get(usize::from(id)));
            e.map(|e| e.name.clone())
        };
        let prev_active = self.active.map(name_of);
        let mut old = core::mem::take(&mut self.entries);
        for w in config.wans.iter().take(MAX_WANS) {
            let entry = self.keep_or_add(now, w, &mut old);
            self.entries.push(entry);
        }
        for e in old {
            self.retire(e);
        }
        self.penalties = penalties(config);
        self.active = prev_active.map(|n| n.and_then(|n| self.wan_id(&n)));
        self.switch_cause = SwitchCause::Reload;
    }

    /// The entry for `w` after a reload, taken out of `old` if the WAN is still there.
    fn keep_or_add(&mut self, now: Instant, w: &config::Wan, old: &mut Vec<Entry>) -> Entry {
        let kept = old
            .iter()
            .position(|e| e.name == w.name && e.interface == w.interface);
        match kept {
            // same WAN: state and statistics stay, parameters change
            Some(pos) => {
                let mut e = old.remove(pos);
                e.configure(now, w, &mut self.retiring);
                e
            }
            // new WAN: starts in init
            None => Entry::new(w, now),
        }
    }

    /// A WAN the reload removed: its reconcilers give their routes back.
    fn retire(&mut self, e: Entry) {
        log::info!("{}: removed by reload; giving its routes back", e.name);
        for mut slot in e.reconcilers.into_iter().flatten() {
            slot.begin_restore();
            self.retiring.push(slot);
        }
    }

    fn shutdown(&mut self) {
        log::info!("shutdown: giving routes back");
        self.stopping = true;
        for e in &mut self.entries {
            e.stop();
            e.reconcilers
                .iter_mut()
                .flatten()
                .for_each(Reconciler::begin_restore);
        }
    }
}

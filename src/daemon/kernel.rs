//! The kernel side: what the netlink sockets report, turned into engine inputs.

use crate::engine::{Family, Input, Instant, WanId};
use crate::sys::netlink::{Change, Event};

use super::core::Core;

impl Core {
    /// Tells the engine everything the kernel view knows about one WAN.
    pub fn feed_wan(&mut self, now: Instant, id: WanId) {
        let Some(b) = self.wans.get(id) else { return };
        let link = self.view.link_by_name(&b.interface).cloned();
        let Some(link) = link else {
            b.ifindex = None;
            b.close_probers();
            self.engine.handle(now, Input::LinkGone { wan: id });
            return;
        };
        if b.ifindex != Some(link.ifindex) {
            b.ifindex = Some(link.ifindex);
            b.reopen_probers();
        }
        let families = b.families();
        let (admin_up, carrier) = (link.admin_up, link.carrier);
        self.engine.handle(
            now,
            Input::Link {
                wan: id,
                ifindex: link.ifindex,
                admin_up,
                carrier,
            },
        );
        for &family in families {
            self.feed_family(now, id, link.ifindex, family);
        }
    }

    /// Whether the WAN's interface has an address of this family, and its default routes.
    fn feed_family(&mut self, now: Instant, id: WanId, ifindex: u32, family: Family) {
        self.feed_addresses(now, id, ifindex, family);
        self.feed_routes(now, id, ifindex, family);
    }

    fn feed_addresses(&mut self, now: Instant, wan: WanId, ifindex: u32, family: Family) {
        let present = self.view.has_address(ifindex, family);
        let input = Input::Addresses {
            wan,
            family,
            present,
        };
        self.engine.handle(now, input);
    }

    /// The complete set of default routes the view has for the interface and family.
    fn feed_routes(&mut self, now: Instant, wan: WanId, ifindex: u32, family: Family) {
        let routes = self.view.default_routes(ifindex, family).to_vec();
        let input = Input::Routes {
            wan,
            family,
            routes,
        };
        self.engine.handle(now, input);
    }

    pub fn feed_all(&mut self, now: Instant) {
        for id in self.wans.ids().collect::<Vec<_>>() {
            self.feed_wan(now, id);
        }
        self.save_state();
    }

    /// Drains both netlink sockets and feeds what changed to the engine.
    pub fn on_netlink(&mut self, now: Instant) {
        if let Err(e) = self.nl.receive() {
            log::warn!("netlink: {e}");
        }
        while let Some(ev) = self.nl.next_event() {
            match &ev {
                Event::Ack { seq, result } => self.on_ack(now, *seq, *result),
                Event::Overrun => {
                    log::warn!("netlink notifications were lost; dumping everything again");
                    if let Err(e) = self.nl.dump_all() {
                        log::warn!("netlink: {e}");
                    }
                }
                _ => {}
            }
            self.view.apply(&ev, &mut self.changes);
        }
        let changes = std::mem::take(&mut self.changes);
        for change in &changes {
            self.on_change(now, change);
        }
        self.changes = changes;
        self.changes.clear();
        // Foreign routes are learned only from route facts, so this is where they change.
        self.save_state();
    }

    fn on_change(&mut self, now: Instant, change: &Change) {
        match change {
            // A link appeared, changed or was re-created: re-feed its WANs, and re-dump the
            // routes, because an admin-down flushes IPv4 routes without notifications.
            Change::LinkChanged { name, .. } | Change::LinkGone { name, .. } => {
                self.on_link_change(now, name.as_str())
            }
            // New or lost addresses: probe sockets are rebuilt (a socket keeps the source
            // address it was opened with) and the engine learns whether probing can work.
            Change::AddrChanged { ifindex, family } => self.on_addr_change(now, *ifindex, *family),
            Change::RoutesChanged { ifindex, family } => {
                self.on_routes_change(now, *ifindex, *family)
            }
            Change::Counters { ifindex } => self.on_counters(now, *ifindex),
        }
    }

    fn on_link_change(&mut self, now: Instant, name: &str) {
        let ids: Vec<WanId> = self.wans.by_interface(name).collect();
        if !ids.is_empty() {
            if let Err(e) = self.nl.dump_routes() {
                log::warn!("netlink: {e}");
            }
        }
        for id in ids {
            self.feed_wan(now, id);
        }
    }

    fn on_addr_change(&mut self, now: Instant, ifindex: u32, family: Family) {
        for id in self.wans.by_ifindex(ifindex).collect::<Vec<_>>() {
            if let Some(b) = self.wans.get(id) {
                b.reopen_probers();
            }
            self.feed_addresses(now, id, ifindex, family);
        }
    }

    fn on_routes_change(&mut self, now: Instant, ifindex: u32, family: Family) {
        for id in self.wans.by_ifindex(ifindex).collect::<Vec<_>>() {
            self.feed_routes(now, id, ifindex, family);
        }
    }

    fn on_counters(&mut self, now: Instant, ifindex: u32) {
        let Some(stats) = self.view.link(ifindex).and_then(|l| l.stats) else {
            return;
        };
        for id in self.wans.by_ifindex(ifindex).collect::<Vec<_>>() {
            let (rx_bytes, tx_bytes) = (stats.rx_bytes, stats.tx_bytes);
            self.engine.handle(
                now,
                Input::Counters {
                    wan: id,
                    rx_bytes,
                    tx_bytes,
                },
            );
        }
    }
}

//! The kernel side: what the netlink sockets report, turned into engine inputs.

use crate::engine::{Family, Input, Instant, WanId};
use crate::sys::netlink::{Change, Event, LinkChanges};

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

    /// Drains both netlink sockets and feeds what changed to the engine: one input per
    /// change. Routes are dumped again only where the kernel sends no notification: after
    /// an admin down (IPv4 routes are flushed silently), for a new ifindex, and after lost
    /// notifications.
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
        let mut redump = false;
        for change in &changes {
            redump |= self.on_change(now, change);
        }
        self.changes = changes;
        self.changes.clear();
        if redump {
            if let Err(e) = self.nl.dump_routes() {
                log::warn!("netlink: {e}");
            }
        }
        // Foreign routes are learned only from route facts, so this is where they change.
        self.save_state();
    }

    /// One change, one input. True when the routes must be dumped again.
    fn on_change(&mut self, now: Instant, change: &Change) -> bool {
        match change {
            Change::Link {
                ifindex,
                name,
                changed,
            } => return self.on_link(now, *ifindex, name, *changed),
            Change::LinkGone { ifindex, name } => self.on_link_gone(now, *ifindex, name),
            // New or lost addresses: probe sockets are rebuilt (a socket keeps the source
            // address it was opened with) and the engine learns whether probing can work.
            Change::AddrChanged { ifindex, family } => self.on_addr_change(now, *ifindex, *family),
            Change::RoutesChanged { ifindex, family } => {
                self.on_routes_change(now, *ifindex, *family)
            }
            Change::Counters { ifindex } => self.on_counters(now, *ifindex),
        }
        false
    }

    /// A link appeared under a WAN's interface name, or its admin state or carrier changed.
    fn on_link(&mut self, now: Instant, ifindex: u32, name: &str, changed: LinkChanges) -> bool {
        let Some(link) = self.view.link(ifindex) else {
            return false;
        };
        let (admin_up, carrier) = (link.admin_up, link.carrier);
        let mut redump = false;
        for id in self.wans.by_interface(name).collect::<Vec<_>>() {
            let Some(b) = self.wans.get(id) else { continue };
            if b.ifindex != Some(ifindex) {
                // new or re-created: sockets bound to the old interface report total loss
                b.ifindex = Some(ifindex);
                b.reopen_probers();
            }
            let input = Input::Link {
                wan: id,
                ifindex,
                admin_up,
                carrier,
            };
            self.engine.handle(now, input);
            // the kernel flushes the IPv4 routes of an admin-downed link silently, and a
            // new ifindex has routes no notification told us about yet
            redump |= changed.appeared || (changed.admin && !admin_up);
        }
        redump
    }

    /// The link of a WAN is gone (or renamed away).
    fn on_link_gone(&mut self, now: Instant, ifindex: u32, name: &str) {
        for id in self.wans.by_interface(name).collect::<Vec<_>>() {
            let Some(b) = self.wans.get(id) else { continue };
            if b.ifindex != Some(ifindex) {
                continue; // the re-created link is already bound
            }
            b.ifindex = None;
            b.close_probers();
            self.engine.handle(now, Input::LinkGone { wan: id });
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

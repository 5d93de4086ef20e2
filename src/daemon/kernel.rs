//! The kernel part: the two rtnetlink sockets, the kernel [`View`] and the WANs' place in
//! it. Readiness becomes one engine input per [`Change`]; the engine's route operations go
//! out with their id as the sequence number and come back as `Input::RouteDone`.

use std::time::Duration;

use crate::config::MAX_WANS;
use crate::engine::device::Kind;
use crate::engine::{Family, Input, Instant, OpId, Route, RouteError, WanId};
use crate::sys::netlink::{self, Change, Event, Link, LinkChanges, Netlink, View};

use super::part::{Ctx, Interests, Part, Readiness};

/// How often link counters are read for the throughput figures.
const COUNTERS_EVERY: Duration = Duration::from_secs(1);

/// A few WAN ids, without allocating.
type Ids = heapless::Vec<WanId, MAX_WANS>;

pub struct Kernel {
    nl: Netlink,
    view: View,
    /// What the last batch of events changed (kept to reuse its allocation).
    changes: Vec<Change>,
    next_counters_at: Instant,
}

impl Kernel {
    /// Opens the sockets and dumps links, addresses and routes, blocking up to `timeout`.
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    pub fn open(timeout: Duration, now: Instant) -> Result<Kernel, netlink::Error> {
        let mut nl = Netlink::open()?;
        let mut view = View::new();
        nl.sync(&mut view, timeout)?;
        Ok(Kernel {
            nl,
            view,
            changes: Vec::new(),
            next_counters_at: now,
        })
    }

    /// The ifindex of the interface with this name, if it exists.
    pub fn ifindex_of(&self, interface: &str) -> Option<u32> {
        self.view.link_by_name(interface).map(|l| l.ifindex)
    }

    /// Whether a dump is running or queued.
    pub fn dump_pending(&self) -> bool {
        self.nl.dump_pending()
    }

    /// Netlink's and the view's counters: (route dumps, overruns, parse errors, multipath).
    pub fn count_into(&self, c: &mut crate::control::protocol::Counters) {
        let nl = self.nl.stats();
        c.route_dumps = nl.route_dumps;
        c.netlink_overruns = nl.overruns;
        c.netlink_parse_errors = nl.parse_errors;
        c.multipath_skipped = self.view.stats().multipath_skipped;
    }

    /// Sends a route operation; a failure to send is returned as its answer.
    pub fn send_route(
        &mut self,
        op: OpId,
        route: &Route,
        kind: netlink::message::RouteOp,
    ) -> Option<Input> {
        use netlink::message::RouteOp;
        let sent = match kind {
            RouteOp::Add => self.nl.add_route(route, op),
            RouteOp::Append => self.nl.append_route(route, op),
            RouteOp::Del => self.nl.del_route(route, op),
        };
        let e = sent.err()?;
        log::warn!("{e}");
        let errno = e.source.raw_os_error().unwrap_or(libc::EIO);
        Some(Input::RouteDone {
            op,
            result: Err(RouteError::Other(errno)),
        })
    }

    /// Tells the engine everything the view knows about every WAN: at start-up and after a
    /// reload, when ids and WANs are new.
    pub fn feed_all(&self, now: Instant, ctx: &mut Ctx<'_>) {
        for id in ids(ctx.wans.iter().map(|(id, _)| id)) {
            self.feed_wan(now, id, ctx);
        }
    }

    /// The link, and per managed family the addresses and default routes, of one WAN.
    fn feed_wan(&self, now: Instant, id: WanId, ctx: &mut Ctx<'_>) {
        let Some(wan) = ctx.wans.get_mut(id) else {
            return;
        };
        let Some(link) = self.view.link_by_name(&wan.interface) else {
            wan.ifindex = None;
            wan.sources = [None; 2];
            ctx.engine.handle(now, Input::LinkGone { wan: id });
            return;
        };
        let ifindex = link.ifindex;
        wan.ifindex = Some(ifindex);
        ctx.engine.handle(now, link_input(id, link));
        if let Some(input) = device_input(id, wan) {
            ctx.engine.handle(now, input);
        }
        for &family in Family::managed_by(wan.families) {
            if let Some(wan) = ctx.wans.get_mut(id) {
                wan.sources[family.index()] = self.view.source_address(ifindex, family);
            }
            self.feed_addresses(now, id, ifindex, family, ctx);
            ctx.engine.handle(now, self.routes(id, ifindex, family));
        }
    }

    /// Whether the WAN has an address of `family` and, for the routing half, which.
    fn feed_addresses(
        &self,
        now: Instant,
        wan: WanId,
        ifindex: u32,
        family: Family,
        ctx: &mut Ctx<'_>,
    ) {
        ctx.engine.handle(now, self.addresses(wan, ifindex, family));
        #[cfg(feature = "routing")]
        {
            let addrs = self.view.usable_addresses(ifindex, family).collect();
            let input = Input::WanAddresses { wan, family, addrs };
            ctx.engine.handle(now, input);
        }
    }

    fn addresses(&self, wan: WanId, ifindex: u32, family: Family) -> Input {
        let present = self.view.has_address(ifindex, family);
        Input::Addresses {
            wan,
            family,
            present,
        }
    }

    /// The complete set of default routes the view has for the interface and family.
    fn routes(&self, wan: WanId, ifindex: u32, family: Family) -> Input {
        let routes = self.view.default_routes(ifindex, family).to_vec();
        Input::Routes {
            wan,
            family,
            routes,
        }
    }

    /// Drains both sockets into the view. The kernel answers route operations by their
    /// sequence number, which is the operation id.
    fn receive(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        if let Err(e) = self.nl.receive() {
            log::warn!("{e}");
        }
        while let Some(ev) = self.nl.next_event() {
            match &ev {
                Event::Ack { seq, result } => {
                    let (op, result) = (*seq, *result);
                    ctx.engine.handle(now, Input::RouteDone { op, result });
                }
                Event::Overrun => {
                    log::warn!("netlink notifications were lost; dumping everything again");
                    if let Err(e) = self.nl.dump_all() {
                        log::warn!("{e}");
                    }
                }
                _ => {}
            }
            self.view.apply(&ev, &mut self.changes);
        }
    }

    /// One change, one input. True when the routes must be dumped again.
    fn on_change(&self, now: Instant, change: &Change, ctx: &mut Ctx<'_>) -> bool {
        match change {
            Change::Link {
                ifindex,
                name,
                changed,
            } => return self.on_link(now, *ifindex, name, *changed, ctx),
            Change::LinkGone { ifindex, name } => on_link_gone(now, *ifindex, name, ctx),
            // New or lost addresses: probe sockets are rebuilt (a socket keeps the source
            // address it was opened with) and the engine learns whether probing can work.
            Change::AddrChanged { ifindex, family } => {
                for id in ids(ctx.wans.on_ifindex(*ifindex)) {
                    if let Some(wan) = ctx.wans.get_mut(id) {
                        wan.addresses_epoch = wan.addresses_epoch.wrapping_add(1);
                        wan.sources[family.index()] = self.view.source_address(*ifindex, *family);
                    }
                    self.feed_addresses(now, id, *ifindex, *family, ctx);
                }
            }
            Change::RoutesChanged { ifindex, family } => {
                for id in ids(ctx.wans.on_ifindex(*ifindex)) {
                    ctx.engine.handle(now, self.routes(id, *ifindex, *family));
                }
                ctx.asks.save_routes = true;
            }
            Change::Counters { ifindex } => self.on_counters(now, *ifindex, ctx),
        }
        false
    }

    /// A link appeared under a WAN's interface name, or its admin state or carrier changed.
    fn on_link(
        &self,
        now: Instant,
        ifindex: u32,
        name: &str,
        changed: LinkChanges,
        ctx: &mut Ctx<'_>,
    ) -> bool {
        let Some(link) = self.view.link(ifindex) else {
            return false;
        };
        let mut redump = false;
        for id in ids(ctx.wans.on_interface(name)) {
            if let Some(wan) = ctx.wans.get_mut(id) {
                // new or re-created: the probe sockets follow
                wan.ifindex = Some(ifindex);
            }
            ctx.engine.handle(now, link_input(id, link));
            // a new device under the name may be another kind (a modem in the port of a
            // Wi-Fi stick)
            let device = ctx.wans.get(id).filter(|_| changed.appeared);
            if let Some(input) = device.and_then(|wan| device_input(id, wan)) {
                ctx.engine.handle(now, input);
            }
            // the kernel flushes the IPv4 routes of an admin-downed link silently, and a
            // new ifindex has routes no notification told us about yet
            redump |= changed.appeared || (changed.admin && !link.admin_up);
        }
        redump
    }

    fn on_counters(&self, now: Instant, ifindex: u32, ctx: &mut Ctx<'_>) {
        let Some(stats) = self.view.link(ifindex).and_then(|l| l.stats) else {
            return;
        };
        for id in ids(ctx.wans.on_ifindex(ifindex)) {
            let (rx_bytes, tx_bytes) = (stats.rx_bytes, stats.tx_bytes);
            let input = Input::Counters {
                wan: id,
                rx_bytes,
                tx_bytes,
            };
            ctx.engine.handle(now, input);
        }
    }
}

impl Part for Kernel {
    /// Asks for the WANs' link counters once a second.
    fn prepare(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        if now < self.next_counters_at || ctx.stopping {
            return;
        }
        self.next_counters_at = now + COUNTERS_EVERY;
        for (_, wan) in ctx.wans.iter() {
            if let Some(ifindex) = wan.ifindex {
                if let Err(e) = self.nl.get_link(ifindex) {
                    log::debug!("{e}");
                }
            }
        }
    }

    fn register(&mut self, interests: &mut Interests<'_>) {
        interests.add(self.nl.event_fd(), false);
        interests.add(self.nl.request_fd(), false);
    }

    fn poll_at(&self) -> Option<Instant> {
        Some(self.next_counters_at)
    }

    /// Feeds what changed to the engine: one input per change. Routes are dumped again
    /// only where the kernel sends no notification: after an admin down (IPv4 routes are
    /// flushed silently), for a new ifindex, and after lost notifications.
    fn on_ready(&mut self, now: Instant, _ready: &Readiness<'_>, ctx: &mut Ctx<'_>) {
        self.receive(now, ctx);
        let changes = std::mem::take(&mut self.changes);
        let mut redump = false;
        for change in &changes {
            redump |= self.on_change(now, change, ctx);
        }
        self.changes = changes;
        self.changes.clear();
        if redump {
            if let Err(e) = self.nl.dump_routes() {
                log::warn!("{e}");
            }
        }
    }
}

/// The link of a WAN is gone (or renamed away).
fn on_link_gone(now: Instant, ifindex: u32, name: &str, ctx: &mut Ctx<'_>) {
    for id in ids(ctx.wans.on_interface(name)) {
        let Some(wan) = ctx.wans.get_mut(id) else {
            continue;
        };
        if wan.ifindex != Some(ifindex) {
            continue; // the re-created link is already bound
        }
        wan.ifindex = None;
        wan.sources = [None; 2];
        ctx.engine.handle(now, Input::LinkGone { wan: id });
    }
}

/// What the engine hears of a WAN's link.
fn link_input(wan: WanId, link: &Link) -> Input {
    Input::Link {
        wan,
        ifindex: link.ifindex,
        admin_up: link.admin_up,
        carrier: link.carrier,
    }
}

/// For a WAN with `priority = "auto"`: the kind of device its interface is, from sysfs
/// (unknown when sysfs has no such interface).
fn device_input(wan: WanId, w: &super::wans::Wan) -> Option<Input> {
    if !w.auto_priority {
        return None;
    }
    let kind = crate::sys::device::facts(&w.interface).map_or(Kind::Unknown, |f| Kind::of(&f));
    Some(Input::Device { wan, kind })
}

fn ids(it: impl Iterator<Item = WanId>) -> Ids {
    // The WAN table never holds more than MAX_WANS.
    it.take(MAX_WANS).collect()
}

//! The kernel view: what the kernel has told us about links, addresses and default routes,
//! kept up to date by notifications and replaced part by part by completed dumps. Pure: fed
//! with [`Event`]s, it reports what changed so the daemon knows which WAN to re-feed.

use std::net::IpAddr;

use super::message::{Addr, Body, DumpKind, IfName, Link, Message, NLM_F_REPLACE};
use super::sorted::SortedMap;
use super::{Event, Source};
use crate::engine::route::RT_TABLE_MAIN;
use crate::engine::{Family, Route};

/// What an event changed: each change is one fact for the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A link appeared under its name, or its admin state or carrier changed. The changes
    /// of several messages about one link in one batch are merged into one.
    Link {
        ifindex: u32,
        name: IfName,
        changed: LinkChanges,
    },
    /// Only the link's byte counters changed.
    Counters { ifindex: u32 },
    /// The link is gone (with its addresses and routes), or no longer has this name. A link
    /// re-created under the same name shows up as `LinkGone` of the old ifindex and
    /// `Link` (`appeared`) of the new one.
    LinkGone { ifindex: u32, name: IfName },
    /// The addresses of this family on the link changed.
    AddrChanged { ifindex: u32, family: Family },
    /// The default routes of this family on the link changed.
    RoutesChanged { ifindex: u32, family: Family },
}

/// What about a link changed, as far as the daemon cares. Other flags and the operational
/// state are kept in the view and reported as nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkChanges {
    /// The link has its name under this ifindex for the first time: it is new,
    /// re-created, or renamed to it. What the view already knows of its addresses and
    /// routes follows as `AddrChanged` / `RoutesChanged`.
    pub appeared: bool,
    /// `IFF_UP` changed.
    pub admin: bool,
    /// The carrier changed.
    pub carrier: bool,
}

impl LinkChanges {
    fn any(self) -> bool {
        self.appeared || self.admin || self.carrier
    }

    fn merge(&mut self, other: LinkChanges) {
        self.appeared |= other.appeared;
        self.admin |= other.admin;
        self.carrier |= other.carrier;
    }
}

/// An entry and the dump generation that last confirmed it.
#[derive(Debug, Clone)]
struct Seen<T> {
    item: T,
    gen: u64,
}

/// The default routes of one link and family, and the dump generation that last confirmed
/// each (`gens[i]` is `list[i]`'s).
#[derive(Debug, Default)]
struct Routes {
    list: Vec<Route>,
    gens: Vec<u64>,
}

impl Routes {
    fn remove(&mut self, i: usize) {
        self.list.remove(i);
        self.gens.remove(i);
    }
}

/// Counters of what the view skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViewStats {
    /// Default routes with `RTA_MULTIPATH` next hops (not managed, logged).
    pub multipath_skipped: u64,
}

/// Links, addresses and main-table default routes, by ifindex.
#[derive(Debug, Default)]
pub struct View {
    links: SortedMap<u32, Seen<Link>>,
    by_name: SortedMap<IfName, u32>,
    addrs: SortedMap<u32, Vec<Seen<Addr>>>,
    routes: SortedMap<(u32, Family), Routes>,
    /// The generation of the dump in progress, per kind (links, addrs, routes).
    dumping: [Option<u64>; 3],
    next_gen: u64,
    stats: ViewStats,
}

/// The index of a dump kind in per-kind arrays.
fn kind_index(kind: DumpKind) -> usize {
    match kind {
        DumpKind::Links => 0,
        DumpKind::Addrs => 1,
        DumpKind::Routes => 2,
    }
}

impl View {
    pub fn new() -> View {
        View::default()
    }

    pub fn link(&self, ifindex: u32) -> Option<&Link> {
        self.links.get(&ifindex).map(|s| &s.item)
    }

    pub fn link_by_name(&self, name: &str) -> Option<&Link> {
        let name = IfName::try_from(name).ok()?;
        self.by_name.get(&name).and_then(|i| self.link(*i))
    }

    pub fn links(&self) -> impl Iterator<Item = &Link> {
        self.links.values().map(|s| &s.item)
    }

    /// Every known address of the link.
    pub fn addresses(&self, ifindex: u32) -> impl Iterator<Item = &Addr> {
        self.addrs
            .get(&ifindex)
            .into_iter()
            .flatten()
            .map(|s| &s.item)
    }

    /// Whether the link has a usable (global, not tentative) address of this family.
    pub fn has_address(&self, ifindex: u32, family: Family) -> bool {
        self.source_address(ifindex, family).is_some()
    }

    /// Every usable address of this family on the link.
    pub fn usable_addresses(
        &self,
        ifindex: u32,
        family: Family,
    ) -> impl Iterator<Item = IpAddr> + '_ {
        self.addresses(ifindex)
            .filter(move |a| a.family == family && a.is_usable())
            .map(|a| a.address)
    }

    /// The first usable address of this family on the link: the source checks bind to.
    pub fn source_address(&self, ifindex: u32, family: Family) -> Option<IpAddr> {
        self.addresses(ifindex)
            .find(|a| a.family == family && a.is_usable())
            .map(|a| a.address)
    }

    /// The main-table unicast single-path default routes of this family on the link.
    pub fn default_routes(&self, ifindex: u32, family: Family) -> &[Route] {
        self.routes
            .get(&(ifindex, family))
            .map_or(&[], |r| r.list.as_slice())
    }

    /// Whether a dump of this kind has started and not completed.
    pub fn dumping(&self, kind: DumpKind) -> bool {
        self.dumping[kind_index(kind)].is_some()
    }

    pub fn stats(&self) -> ViewStats {
        self.stats
    }

    /// Applies one event, appending what changed to `out` (not cleared; duplicates are not
    /// appended twice). Acks and overruns change nothing here.
    pub fn apply(&mut self, event: &Event, out: &mut Vec<Change>) {
        match event {
            Event::DumpStarted { kind, .. } => {
                self.next_gen += 1;
                self.dumping[kind_index(*kind)] = Some(self.next_gen);
            }
            Event::DumpDone { kind, complete, .. } => self.dump_done(*kind, *complete, out),
            Event::Message { source, msg } => self.apply_message(*source, msg, out),
            Event::Ack { .. } | Event::Overrun => {}
        }
    }

    /// The generation to stamp an entry with. Entries from a dump and from notifications
    /// that arrive while it runs are confirmed; anything older is removed at its end.
    fn gen(&self, kind: DumpKind) -> u64 {
        self.dumping[kind_index(kind)].unwrap_or(0)
    }

    fn apply_message(&mut self, _source: Source, msg: &Message, out: &mut Vec<Change>) {
        match &msg.body {
            Body::Link { new: true, link } => self.new_link(link, out),
            Body::Link { new: false, link } => self.remove_link(link.ifindex, out),
            Body::Addr { new, addr } => self.apply_addr(*new, addr, out),
            Body::Route { new, route } => {
                let Some(r) = route.default_route() else {
                    if route.multipath && route.dst_len == 0 {
                        self.stats.multipath_skipped += 1;
                        log::debug!("skipping multipath default route in table {}", route.table);
                    }
                    return;
                };
                if r.table != RT_TABLE_MAIN {
                    return;
                }
                let replace = *new && msg.flags & NLM_F_REPLACE != 0;
                if replace {
                    self.remove_route_key(&r, out);
                }
                self.apply_route(*new, r, out);
            }
            _ => {}
        }
    }

    fn new_link(&mut self, link: &Link, out: &mut Vec<Change>) {
        let gen = self.gen(DumpKind::Links);
        // The same name on another ifindex: the interface was re-created (USB modem replug)
        // and its deletion was missed (overrun, or a dump raced it).
        if let Some(&old) = self.by_name.get(&link.name) {
            if old != link.ifindex {
                self.remove_link(old, out);
            }
        }
        let mut item = link.clone();
        if item.stats.is_none() {
            // Keep the last counters when a message comes without IFLA_STATS64.
            item.stats = self.link(link.ifindex).and_then(|l| l.stats);
        }
        let before = self.links.insert(link.ifindex, Seen { item, gen });
        let before = before.map(|b| b.item);
        let renamed = before.as_ref().filter(|b| b.name != link.name);
        if let Some(b) = renamed {
            // for whoever knew it by its old name, it is gone
            self.by_name.remove(&b.name);
            let (ifindex, name) = (link.ifindex, b.name.clone());
            push(out, Change::LinkGone { ifindex, name });
        }
        let changed = LinkChanges {
            appeared: before.is_none() || renamed.is_some(),
            admin: before.as_ref().is_some_and(|b| b.admin_up != link.admin_up),
            carrier: before.as_ref().is_some_and(|b| b.carrier != link.carrier),
        };
        if !changed.any() {
            // the counters of a link message count only when nothing else changed (the
            // periodic link read); operstate and other flags are kept, and change nothing
            if link.stats.is_some() && before.and_then(|b| b.stats) != link.stats {
                push(
                    out,
                    Change::Counters {
                        ifindex: link.ifindex,
                    },
                );
            }
            return;
        }
        self.by_name.insert(link.name.clone(), link.ifindex);
        push_link(out, link.ifindex, &link.name, changed);
        if changed.appeared {
            self.known_facts(link.ifindex, out);
        }
    }

    /// What the view already knows of a link that just got its name (renamed to it):
    /// whoever follows the name learns it only now.
    fn known_facts(&self, ifindex: u32, out: &mut Vec<Change>) {
        for family in [Family::V4, Family::V6] {
            if self.addresses(ifindex).any(|a| a.family == family) {
                push(out, Change::AddrChanged { ifindex, family });
            }
            if !self.default_routes(ifindex, family).is_empty() {
                push(out, Change::RoutesChanged { ifindex, family });
            }
        }
    }

    fn remove_link(&mut self, ifindex: u32, out: &mut Vec<Change>) {
        let Some(gone) = self.links.remove(&ifindex) else {
            return;
        };
        if self.by_name.get(&gone.item.name) == Some(&ifindex) {
            self.by_name.remove(&gone.item.name);
        }
        // The kernel removes addresses and routes with the device.
        self.addrs.remove(&ifindex);
        for family in [Family::V4, Family::V6] {
            self.routes.remove(&(ifindex, family));
        }
        push(
            out,
            Change::LinkGone {
                ifindex,
                name: gone.item.name,
            },
        );
    }

    fn apply_addr(&mut self, new: bool, addr: &Addr, out: &mut Vec<Change>) {
        let gen = self.gen(DumpKind::Addrs);
        let list = self.addrs.get_or_default(addr.ifindex);
        let pos = list.iter().position(|s| same_addr(&s.item, addr));
        let changed = match (new, pos) {
            (true, Some(i)) => {
                let changed = list[i].item != *addr;
                list[i] = Seen { item: *addr, gen };
                changed
            }
            (true, None) => {
                list.push(Seen { item: *addr, gen });
                true
            }
            (false, Some(i)) => {
                list.remove(i);
                true
            }
            (false, None) => false,
        };
        if list.is_empty() {
            self.addrs.remove(&addr.ifindex);
        }
        if changed {
            let (ifindex, family) = (addr.ifindex, addr.family);
            push(out, Change::AddrChanged { ifindex, family });
        }
    }

    fn apply_route(&mut self, new: bool, r: Route, out: &mut Vec<Change>) {
        let gen = self.gen(DumpKind::Routes);
        let key = (r.ifindex, r.family);
        let routes = self.routes.get_or_default(key);
        let pos = routes.list.iter().position(|x| *x == r);
        let changed = match (new, pos) {
            (true, Some(i)) => {
                routes.gens[i] = gen;
                false
            }
            (true, None) => {
                routes.list.push(r);
                routes.gens.push(gen);
                true
            }
            (false, Some(i)) => {
                routes.remove(i);
                true
            }
            (false, None) => false,
        };
        if routes.list.is_empty() {
            self.routes.remove(&key);
        }
        if changed {
            push(out, routes_changed(key));
        }
    }

    /// `NLM_F_REPLACE` in a notification: the route took the place of the one with the same
    /// key (family, table, metric), possibly on another device.
    fn remove_route_key(&mut self, r: &Route, out: &mut Vec<Change>) {
        let mut emptied = Vec::new();
        for (key, routes) in self.routes.iter_mut().filter(|(k, _)| k.1 == r.family) {
            let before = routes.list.len();
            let mut i = 0;
            while i < routes.list.len() {
                let x = &routes.list[i];
                if x.metric == r.metric && x.table == r.table && x != r {
                    routes.remove(i);
                } else {
                    i += 1;
                }
            }
            if routes.list.len() != before {
                push(out, routes_changed(*key));
            }
            if routes.list.is_empty() {
                emptied.push(*key);
            }
        }
        for key in emptied {
            self.routes.remove(&key);
        }
    }

    fn dump_done(&mut self, kind: DumpKind, complete: bool, out: &mut Vec<Change>) {
        let Some(gen) = self.dumping[kind_index(kind)].take() else {
            return;
        };
        // An interrupted or failed dump proves nothing about what it did not show.
        if !complete {
            return;
        }
        match kind {
            DumpKind::Links => {
                let stale: Vec<u32> = self
                    .links
                    .iter()
                    .filter(|(_, s)| s.gen != gen)
                    .map(|(&i, _)| i)
                    .collect();
                for ifindex in stale {
                    self.remove_link(ifindex, out);
                }
            }
            DumpKind::Addrs => self.sweep_addrs(gen, out),
            DumpKind::Routes => self.sweep_routes(gen, out),
        }
    }

    fn sweep_addrs(&mut self, gen: u64, out: &mut Vec<Change>) {
        for (&ifindex, list) in self.addrs.iter_mut() {
            for s in list.iter().filter(|s| s.gen != gen) {
                let family = s.item.family;
                push(out, Change::AddrChanged { ifindex, family });
            }
            list.retain(|s| s.gen == gen);
        }
        self.addrs.retain(|_, list| !list.is_empty());
    }

    /// The kernel removes the IPv4 routes of an admin-downed link without RTM_DELROUTE:
    /// only a completed dump shows they are gone.
    fn sweep_routes(&mut self, gen: u64, out: &mut Vec<Change>) {
        for (key, routes) in self.routes.iter_mut() {
            if routes.gens.iter().all(|&g| g == gen) {
                continue;
            }
            let mut i = 0;
            while i < routes.list.len() {
                if routes.gens[i] == gen {
                    i += 1;
                } else {
                    routes.remove(i);
                }
            }
            push(out, routes_changed(*key));
        }
        self.routes.retain(|_, r| !r.list.is_empty());
    }
}

fn routes_changed((ifindex, family): (u32, Family)) -> Change {
    Change::RoutesChanged { ifindex, family }
}

fn same_addr(a: &Addr, b: &Addr) -> bool {
    a.family == b.family && a.address == b.address && a.prefix_len == b.prefix_len
}

fn push(out: &mut Vec<Change>, change: Change) {
    if !out.contains(&change) {
        out.push(change);
    }
}

/// A link change, merged into the last one of the link in `out` unless the link went away
/// since (then the order matters).
fn push_link(out: &mut Vec<Change>, ifindex: u32, name: &IfName, changes: LinkChanges) {
    let last = out.iter().rposition(|c| match c {
        Change::Link { ifindex: i, .. } | Change::LinkGone { ifindex: i, .. } => *i == ifindex,
        _ => false,
    });
    if let Some(Change::Link {
        name: n, changed, ..
    }) = last.map(|i| &mut out[i])
    {
        if n == name {
            changed.merge(changes);
            return;
        }
    }
    let name = name.clone();
    let changed = changes;
    out.push(Change::Link {
        ifindex,
        name,
        changed,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::netlink::message::{LinkStats, OperState, RouteMsg, NLM_F_MULTI};
    use libc::{IFA_F_TENTATIVE, RTN_UNICAST};

    fn link(ifindex: u32, name: &str, carrier: bool) -> Link {
        Link {
            ifindex,
            name: IfName::try_from(name).expect("short name"),
            flags: 0x1003,
            admin_up: true,
            carrier,
            operstate: None,
            stats: None,
        }
    }

    fn route(ifindex: u32, metric: u32) -> RouteMsg {
        RouteMsg {
            family: 2,
            dst_len: 0,
            table: 254,
            protocol: 16,
            scope: 0,
            kind: RTN_UNICAST,
            metric,
            gateway: Some("192.0.2.9".parse().expect("address")),
            oif: Some(ifindex),
            prefsrc: None,
            multipath: false,
            nexthops: Vec::new(),
        }
    }

    fn msg(source: Source, flags: u16, body: Body) -> Event {
        let msg = Message {
            nlmsg_type: 0,
            flags,
            seq: 0,
            pid: 0,
            body,
        };
        Event::Message { source, msg }
    }

    /// An `RTM_NEWLINK` (`new`) or `RTM_DELLINK` notification.
    fn link_msg(new: bool, link: Link) -> Event {
        notify(Body::Link { new, link })
    }

    /// An `RTM_NEWROUTE` (`new`) or `RTM_DELROUTE` notification.
    fn route_msg(new: bool, route: RouteMsg) -> Event {
        notify(Body::Route { new, route })
    }

    fn notify(body: Body) -> Event {
        msg(Source::Notify, 0, body)
    }

    fn dumped(kind: DumpKind, body: Body) -> Event {
        msg(Source::Dump(kind), NLM_F_MULTI, body)
    }

    /// Applies events, returning the changes.
    fn feed(view: &mut View, events: &[Event]) -> Vec<Change> {
        let mut out = Vec::new();
        for e in events {
            view.apply(e, &mut out);
        }
        out
    }

    fn started(kind: DumpKind) -> Event {
        Event::DumpStarted { kind, seq: 1 }
    }

    fn done(kind: DumpKind) -> Event {
        let (seq, complete) = (1, true);
        Event::DumpDone {
            kind,
            seq,
            complete,
        }
    }

    fn wan1_changed(ifindex: u32, changed: LinkChanges) -> Change {
        let name = IfName::try_from("wan1").expect("short");
        Change::Link {
            ifindex,
            name,
            changed,
        }
    }

    const APPEARED: LinkChanges = LinkChanges {
        appeared: true,
        admin: false,
        carrier: false,
    };
    const CARRIER: LinkChanges = LinkChanges {
        appeared: false,
        admin: false,
        carrier: true,
    };

    #[test]
    fn links_by_index_and_name_and_carrier_changes() {
        let mut v = View::new();
        let got = feed(&mut v, &[link_msg(true, link(2, "wan1", true))]);
        assert_eq!(got, [wan1_changed(2, APPEARED)]);
        assert_eq!(v.link_by_name("wan1").map(|l| l.ifindex), Some(2));
        // The same state again changes nothing; losing carrier does.
        let same = link_msg(true, link(2, "wan1", true));
        assert_eq!(feed(&mut v, &[same]), []);
        let lost = link_msg(true, link(2, "wan1", false));
        assert_eq!(feed(&mut v, &[lost]), [wan1_changed(2, CARRIER)]);
        assert!(!v.link(2).expect("link").carrier);
    }

    #[test]
    fn operstate_and_other_flags_change_nothing_the_daemon_does() {
        let mut v = View::new();
        feed(&mut v, &[link_msg(true, link(2, "wan1", true))]);
        let mut l = link(2, "wan1", true);
        l.operstate = Some(OperState::Up);
        l.flags |= 0x40; // IFF_RUNNING
        assert_eq!(feed(&mut v, &[link_msg(true, l)]), []);
        assert_eq!(v.link(2).and_then(|l| l.operstate), Some(OperState::Up));
    }

    #[test]
    fn one_link_change_per_batch_says_what_changed() {
        let mut v = View::new();
        feed(&mut v, &[link_msg(true, link(2, "wan1", true))]);
        // `ip link set wan1 down`: admin down, then (linkwatch) the carrier
        let mut down = link(2, "wan1", true);
        down.admin_up = false;
        let mut no_carrier = down.clone();
        no_carrier.carrier = false;
        let got = feed(&mut v, &[link_msg(true, down), link_msg(true, no_carrier)]);
        let both = LinkChanges {
            admin: true,
            carrier: true,
            ..LinkChanges::default()
        };
        assert_eq!(got, [wan1_changed(2, both)]);
    }

    #[test]
    fn a_rename_is_gone_for_the_old_name_and_appears_with_what_is_known() {
        let mut v = View::new();
        feed(&mut v, &[link_msg(true, link(5, "usb0", true))]);
        feed(&mut v, &[route_msg(true, route(5, 0))]);
        // udev names the modem after it came up
        let got = feed(&mut v, &[link_msg(true, link(5, "wan1", true))]);
        let usb0 = IfName::try_from("usb0").expect("short");
        assert_eq!(
            got,
            [
                Change::LinkGone {
                    ifindex: 5,
                    name: usb0
                },
                wan1_changed(5, APPEARED),
                Change::RoutesChanged {
                    ifindex: 5,
                    family: Family::V4
                },
            ]
        );
        assert!(v.link_by_name("usb0").is_none());
        assert_eq!(v.link_by_name("wan1").map(|l| l.ifindex), Some(5));
        assert_eq!(v.default_routes(5, Family::V4).len(), 1, "kept");
    }

    #[test]
    fn counters_only_report_counters() {
        let mut v = View::new();
        let mut l = link(2, "wan1", true);
        feed(&mut v, &[link_msg(true, l.clone())]);
        l.stats = Some(LinkStats {
            rx_bytes: 10,
            tx_bytes: 20,
        });
        let got = feed(
            &mut v,
            &[msg(Source::Reply, 0, Body::Link { new: true, link: l })],
        );
        assert_eq!(got, [Change::Counters { ifindex: 2 }]);
    }

    #[test]
    fn a_link_message_without_stats_keeps_the_counters() {
        let mut v = View::new();
        let mut l = link(2, "wan1", true);
        l.stats = Some(LinkStats {
            rx_bytes: 1,
            tx_bytes: 2,
        });
        feed(&mut v, &[link_msg(true, l.clone())]);
        l.stats = None;
        assert_eq!(
            feed(&mut v, &[notify(Body::Link { new: true, link: l })]),
            []
        );
        assert_eq!(v.link(2).and_then(|l| l.stats).map(|s| s.rx_bytes), Some(1));
    }

    #[test]
    fn replug_under_the_same_name_replaces_the_old_ifindex() {
        let mut v = View::new();
        feed(&mut v, &[link_msg(true, link(2, "wan1", true))]);
        feed(&mut v, &[route_msg(true, route(2, 0))]);
        // The RTM_DELLINK was lost: the new link alone must retire the old one.
        let got = feed(&mut v, &[link_msg(true, link(9, "wan1", true))]);
        let name = IfName::try_from("wan1").expect("short");
        assert_eq!(
            got,
            [
                Change::LinkGone { ifindex: 2, name },
                wan1_changed(9, APPEARED)
            ]
        );
        assert_eq!(v.link_by_name("wan1").map(|l| l.ifindex), Some(9));
        assert!(v.link(2).is_none());
        assert!(v.default_routes(2, Family::V4).is_empty());
    }

    #[test]
    fn dellink_drops_addresses_and_routes() {
        let mut v = View::new();
        feed(&mut v, &[link_msg(true, link(2, "wan1", true))]);
        feed(&mut v, &[route_msg(true, route(2, 0))]);
        let got = feed(&mut v, &[link_msg(false, link(2, "wan1", false))]);
        assert!(matches!(got[..], [Change::LinkGone { ifindex: 2, .. }]));
        assert!(v.link_by_name("wan1").is_none());
        assert!(v.default_routes(2, Family::V4).is_empty());
    }

    #[test]
    fn addresses_need_global_scope_and_no_dad_trouble() {
        let mut v = View::new();
        let mut a = Addr {
            ifindex: 2,
            family: Family::V6,
            prefix_len: 64,
            address: "2001:db8:1::2".parse().expect("address"),
            scope: 0,
            flags: IFA_F_TENTATIVE,
        };
        let got = feed(&mut v, &[notify(Body::Addr { new: true, addr: a })]);
        assert_eq!(
            got,
            [Change::AddrChanged {
                ifindex: 2,
                family: Family::V6
            }]
        );
        assert!(!v.has_address(2, Family::V6), "tentative");
        a.flags = 0;
        feed(&mut v, &[notify(Body::Addr { new: true, addr: a })]);
        assert!(v.has_address(2, Family::V6));
        assert!(!v.has_address(2, Family::V4));
        feed(
            &mut v,
            &[notify(Body::Addr {
                new: false,
                addr: a,
            })],
        );
        assert!(!v.has_address(2, Family::V6));
    }

    #[test]
    fn route_events_add_and_delete_exactly() {
        let mut v = View::new();
        let got = feed(&mut v, &[route_msg(true, route(2, 0))]);
        let changed = Change::RoutesChanged {
            ifindex: 2,
            family: Family::V4,
        };
        assert_eq!(got, std::slice::from_ref(&changed));
        feed(&mut v, &[route_msg(true, route(2, 100))]);
        assert_eq!(v.default_routes(2, Family::V4).len(), 2);
        // A delete of a route we do not know changes nothing.
        assert_eq!(
            feed(
                &mut v,
                &[notify(Body::Route {
                    new: false,
                    route: route(2, 7)
                })]
            ),
            []
        );
        let got = feed(&mut v, &[route_msg(false, route(2, 0))]);
        assert_eq!(got, [changed]);
        let metrics: Vec<u32> = v
            .default_routes(2, Family::V4)
            .iter()
            .map(|r| r.metric)
            .collect();
        assert_eq!(metrics, [100]);
    }

    #[test]
    fn non_default_other_table_and_multipath_routes_are_skipped() {
        let mut v = View::new();
        let mut r = route(2, 0);
        r.dst_len = 24;
        let mut t = route(2, 0);
        t.table = 100;
        let mut m = route(2, 0);
        m.multipath = true;
        let events: Vec<Event> = [r, t, m]
            .into_iter()
            .map(|route| notify(Body::Route { new: true, route }))
            .collect();
        assert_eq!(feed(&mut v, &events), []);
        assert_eq!(v.stats().multipath_skipped, 1);
    }

    #[test]
    fn replace_notification_displaces_the_route_with_that_metric() {
        let mut v = View::new();
        feed(&mut v, &[route_msg(true, route(2, 5))]);
        let replaced = msg(
            Source::Notify,
            NLM_F_REPLACE,
            Body::Route {
                new: true,
                route: route(3, 5),
            },
        );
        let got = feed(&mut v, &[replaced]);
        assert!(got.contains(&Change::RoutesChanged {
            ifindex: 2,
            family: Family::V4
        }));
        assert!(got.contains(&Change::RoutesChanged {
            ifindex: 3,
            family: Family::V4
        }));
        assert!(v.default_routes(2, Family::V4).is_empty());
        assert_eq!(v.default_routes(3, Family::V4).len(), 1);
    }

    #[test]
    fn completed_route_dump_removes_silently_deleted_routes() {
        let mut v = View::new();
        feed(&mut v, &[route_msg(true, route(2, 0))]);
        feed(&mut v, &[route_msg(true, route(3, 1))]);
        // Admin down on ifindex 2: the kernel drops its IPv4 routes without RTM_DELROUTE;
        // the next dump shows only ifindex 3. A route added while the dump runs stays.
        let got = feed(
            &mut v,
            &[
                started(DumpKind::Routes),
                dumped(
                    DumpKind::Routes,
                    Body::Route {
                        new: true,
                        route: route(3, 1),
                    },
                ),
                route_msg(true, route(4, 2)),
            ],
        );
        assert_eq!(
            got,
            [Change::RoutesChanged {
                ifindex: 4,
                family: Family::V4
            }]
        );
        assert!(v.dumping(DumpKind::Routes));
        let got = feed(&mut v, &[done(DumpKind::Routes)]);
        assert_eq!(
            got,
            [Change::RoutesChanged {
                ifindex: 2,
                family: Family::V4
            }]
        );
        assert!(v.default_routes(2, Family::V4).is_empty());
        assert_eq!(v.default_routes(3, Family::V4).len(), 1);
        assert_eq!(v.default_routes(4, Family::V4).len(), 1);
    }

    #[test]
    fn incomplete_dump_removes_nothing() {
        let mut v = View::new();
        feed(&mut v, &[route_msg(true, route(2, 0))]);
        let (kind, seq, complete) = (DumpKind::Routes, 1, false);
        let got = feed(
            &mut v,
            &[
                started(kind),
                Event::DumpDone {
                    kind,
                    seq,
                    complete,
                },
            ],
        );
        assert_eq!(got, []);
        assert_eq!(v.default_routes(2, Family::V4).len(), 1);
    }

    #[test]
    fn completed_link_and_addr_dumps_replace_their_part() {
        let mut v = View::new();
        feed(&mut v, &[link_msg(true, link(2, "wan1", true))]);
        feed(&mut v, &[link_msg(true, link(3, "wan2", true))]);
        let a = Addr {
            ifindex: 3,
            family: Family::V4,
            prefix_len: 29,
            address: "192.0.2.18".parse().expect("address"),
            scope: 0,
            flags: 0,
        };
        feed(&mut v, &[notify(Body::Addr { new: true, addr: a })]);
        let got = feed(
            &mut v,
            &[
                started(DumpKind::Links),
                dumped(
                    DumpKind::Links,
                    Body::Link {
                        new: true,
                        link: link(3, "wan2", true),
                    },
                ),
                done(DumpKind::Links),
                started(DumpKind::Addrs),
                done(DumpKind::Addrs),
            ],
        );
        assert!(matches!(got[0], Change::LinkGone { ifindex: 2, .. }));
        assert_eq!(
            got[1],
            Change::AddrChanged {
                ifindex: 3,
                family: Family::V4
            }
        );
        assert!(!v.has_address(3, Family::V4));
        assert!(v.link_by_name("wan2").is_some());
    }

    #[test]
    fn acks_and_overruns_change_nothing() {
        let mut v = View::new();
        let got = feed(
            &mut v,
            &[
                Event::Overrun,
                Event::Ack {
                    seq: 3,
                    result: Ok(()),
                },
            ],
        );
        assert_eq!(got, []);
    }
}

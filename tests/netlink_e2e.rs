//! The rtnetlink code path against the real kernel, inside the namespace lab.
//!
//! Network namespaces are per thread: each test runs its netlink code on a scoped thread
//! that entered the lab's gateway namespace, while the lab itself is driven from outside.

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use support::{in_netns, open_lab, wait_for, Lab};
use wanfailover::engine::route::RTPROT_WANFAILOVER;
use wanfailover::engine::{Family, Route, RouteError};
use wanfailover::sys::netlink::message::{
    emit_dump, emit_route, parse_messages, DumpKind, RouteOp,
};
use wanfailover::sys::netlink::{Body, Change, Event, Netlink, Seq, Source, View};

const RTPROT_DHCP: u8 = 16;
const RTPROT_STATIC: u8 = 4;
const SECOND: Duration = Duration::from_secs(1);

/// Runs `f` on a thread inside the lab's gateway namespace.
fn in_gw<T: Send>(lab: &Lab, f: impl FnOnce() -> T + Send) -> T {
    in_netns(&lab.gw_ns(), f)
}

/// The daemon side of a test: sockets, view and every change seen so far.
struct Daemon {
    nl: Netlink,
    view: View,
    changes: Vec<Change>,
    acks: Vec<(Seq, Result<(), RouteError>)>,
    events: Vec<Event>,
    /// The fewest IPv4 default routes (all links) the view held after any event.
    min_v4_defaults: usize,
}

impl Daemon {
    fn start() -> Daemon {
        let mut nl = Netlink::open().expect("open netlink");
        let mut view = View::new();
        let changes = nl.sync(&mut view, 2 * SECOND).expect("start-up dump");
        Daemon {
            nl,
            view,
            changes,
            acks: Vec::new(),
            events: Vec::new(),
            min_v4_defaults: usize::MAX,
        }
    }

    /// One turn of the poll loop: wait a little, receive, apply.
    fn turn(&mut self) {
        self.nl.wait(Duration::from_millis(20)).expect("poll");
        self.nl.receive().expect("receive");
        while let Some(ev) = self.nl.next_event() {
            if let Event::Ack { seq, result } = &ev {
                self.acks.push((*seq, *result));
            }
            self.view.apply(&ev, &mut self.changes);
            self.events.push(ev);
            let n = self.count_defaults(Family::V4);
            self.min_v4_defaults = self.min_v4_defaults.min(n);
        }
    }

    /// Turns the loop until `check` holds (panics after `timeout`).
    fn until(&mut self, what: &str, timeout: Duration, mut check: impl FnMut(&Daemon) -> bool) {
        let until = Instant::now() + timeout;
        while !check(self) {
            assert!(Instant::now() < until, "timed out waiting for {what}");
            self.turn();
        }
    }

    fn ack(&mut self, seq: Seq) -> Result<(), RouteError> {
        self.until("an ack", 2 * SECOND, |d| d.acks.iter().any(|a| a.0 == seq));
        self.acks.iter().find(|a| a.0 == seq).expect("found").1
    }

    /// Queues a route dump and turns until the view has it.
    fn redump_routes(&mut self) {
        self.nl.dump_routes().expect("dump routes");
        self.until("the route dump", 2 * SECOND, |d| !d.nl.dump_pending());
        self.turn();
    }

    fn count_defaults(&self, family: Family) -> usize {
        let view = &self.view;
        view.links()
            .map(|l| view.default_routes(l.ifindex, family).len())
            .sum()
    }

    /// Forgets the changes and events seen so far.
    fn clear(&mut self) {
        self.changes.clear();
        self.events.clear();
    }

    fn ifindex(&self, name: &str) -> u32 {
        self.view.link_by_name(name).expect(name).ifindex
    }

    fn routes(&self, name: &str, family: Family) -> Vec<Route> {
        self.view
            .default_routes(self.ifindex(name), family)
            .to_vec()
    }
}

/// A fresh route operation id, as the engine numbers them (never 0, below 2^31).
fn next_op() -> Seq {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn v4_route(ifindex: u32, gateway: &str, metric: u32, protocol: u8) -> Route {
    Route {
        family: Family::V4,
        table: 254,
        ifindex,
        gateway: Some(ip(gateway)),
        metric,
        protocol,
        prefsrc: None,
    }
}

#[test]
fn startup_dump_learns_the_lab_wans() {
    let Some(lab) = open_lab(2, &[]) else {
        return;
    };
    in_gw(&lab, || {
        let d = Daemon::start();
        for i in 1..=2u32 {
            let name = format!("wan{i}");
            let link = d.view.link_by_name(&name).expect("wan link").clone();
            assert!(link.admin_up && link.carrier, "{link:?}");
            assert!(link.stats.is_some(), "IFLA_STATS64 missing");
            assert!(d.view.has_address(link.ifindex, Family::V4));
            assert!(!d.view.has_address(link.ifindex, Family::V6));
            let gw = format!("192.0.2.{}", 8 * i + 1);
            let want = v4_route(link.ifindex, &gw, i - 1, RTPROT_DHCP);
            assert_eq!(d.routes(&name, Family::V4), vec![want]);
            assert!(d.changes.contains(&Change::RoutesChanged {
                ifindex: link.ifindex,
                family: Family::V4
            }));
        }
        assert_eq!(d.nl.stats().parse_errors, 0);
    });
}

#[test]
fn make_before_break_never_leaves_zero_default_routes() {
    let Some(lab) = open_lab(2, &[]) else {
        return;
    };
    in_gw(&lab, || {
        let mut d = Daemon::start();
        let wan1 = d.ifindex("wan1");
        let foreign = d.routes("wan1", Family::V4)[0];
        let ours = Route {
            metric: 20_001,
            protocol: RTPROT_WANFAILOVER,
            ..foreign
        };
        d.min_v4_defaults = usize::MAX;
        let seq = next_op();
        d.nl.add_route(&ours, seq).expect("add");
        assert_eq!(d.ack(seq), Ok(()));
        let seq = next_op();
        d.nl.del_route(&foreign, seq).expect("del");
        assert_eq!(d.ack(seq), Ok(()));
        d.until("the view to show only our route", 2 * SECOND, |d| {
            d.view.default_routes(wan1, Family::V4) == [ours]
        });
        assert!(d.min_v4_defaults >= 1, "a moment without a default route");
        // Notifications came in kernel order: ours added before the foreign one went.
        let order: Vec<(bool, u32)> = d
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Message { msg, .. } => match &msg.body {
                    Body::Route { new, route } => route
                        .default_route()
                        .filter(|r| r.ifindex == wan1)
                        .map(|r| (*new, r.metric)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert_eq!(order, [(true, 20_001), (false, 0)]);
        assert!(lab.default_routes().contains("proto 87 metric 20001"));
    });
}

#[test]
fn route_errors_map_to_engine_terms() {
    let Some(lab) = open_lab(2, &[]) else {
        return;
    };
    in_gw(&lab, || {
        let mut d = Daemon::start();
        // IPv4 keys default routes by metric: wan1's DHCP route holds metric 0.
        let clash = v4_route(d.ifindex("wan2"), "192.0.2.17", 0, RTPROT_WANFAILOVER);
        let seq = next_op();
        d.nl.add_route(&clash, seq).expect("add");
        assert_eq!(d.ack(seq), Err(RouteError::Exists));
        let missing = v4_route(d.ifindex("wan2"), "192.0.2.17", 4242, RTPROT_WANFAILOVER);
        let seq = next_op();
        d.nl.del_route(&missing, seq).expect("del");
        assert_eq!(d.ack(seq), Err(RouteError::NotFound));
        // A gateway outside every connected subnet.
        let unreachable = v4_route(d.ifindex("wan2"), "203.0.113.1", 77, RTPROT_WANFAILOVER);
        let seq = next_op();
        d.nl.add_route(&unreachable, seq).expect("add");
        assert_eq!(d.ack(seq), Err(RouteError::Unreachable));
    });
}

#[test]
fn carrier_loss_and_return_are_link_events() {
    let Some(lab) = open_lab(1, &[]) else {
        return;
    };
    in_gw(&lab, || {
        let mut d = Daemon::start();
        let wan1 = d.ifindex("wan1");
        d.clear();
        lab.carrier(1, false);
        d.until("carrier loss", 3 * SECOND, |d| {
            !d.view.link(wan1).expect("wan1").carrier
        });
        assert!(d
            .changes
            .iter()
            .any(|c| matches!(c, Change::Link { ifindex, .. } if *ifindex == wan1)));
        // The route stays, only flagged linkdown, without a notification.
        let linkdown = wait_for(3 * SECOND, || lab.default_routes().contains("linkdown"));
        assert!(linkdown, "{}", lab.default_routes());
        d.redump_routes();
        assert_eq!(d.routes("wan1", Family::V4).len(), 1);
        lab.carrier(1, true);
        d.until("carrier back", 3 * SECOND, |d| {
            d.view.link(wan1).expect("wan1").carrier
        });
    });
}

#[test]
fn admin_down_needs_a_route_redump() {
    let Some(lab) = open_lab(1, &["--ipv6"]) else {
        return;
    };
    in_gw(&lab, || {
        let mut d = Daemon::start();
        let wan1 = d.ifindex("wan1");
        d.clear();
        lab.gw(&["ip", "link", "set", "wan1", "down"]);
        d.until("admin down", 2 * SECOND, |d| {
            !d.view.link(wan1).expect("wan1").admin_up
        });
        // Give a would-be RTM_DELROUTE time to arrive: the kernel sends none for IPv4.
        let settle = Instant::now() + Duration::from_millis(200);
        while Instant::now() < settle {
            d.turn();
        }
        assert_eq!(
            d.routes("wan1", Family::V4).len(),
            1,
            "IPv4 route notified gone"
        );
        d.redump_routes();
        assert!(d.routes("wan1", Family::V4).is_empty());
        assert!(d.routes("wan1", Family::V6).is_empty());
        assert!(d.changes.contains(&Change::RoutesChanged {
            ifindex: wan1,
            family: Family::V4
        }));
    });
}

#[test]
fn route_dumps_are_filtered_in_the_kernel() {
    let Some(lab) = open_lab(1, &[]) else {
        return;
    };
    lab.gw(&[
        "ip",
        "route",
        "add",
        "default",
        "via",
        "192.0.2.9",
        "table",
        "100",
    ]);
    lab.gw(&["ip", "route", "add", "blackhole", "203.0.113.0/24"]);
    in_gw(&lab, || {
        let mut d = Daemon::start();
        d.clear();
        d.redump_routes();
        let dumped: Vec<_> = d
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Message {
                    source: Source::Dump(DumpKind::Routes),
                    msg,
                } => Some(msg),
                _ => None,
            })
            .collect();
        assert!(!dumped.is_empty());
        for msg in dumped {
            // NLM_F_DUMP_FILTERED: the kernel applied the request's filter
            assert_ne!(msg.flags & 0x20, 0, "{msg:?}");
            let Body::Route { route, .. } = &msg.body else {
                panic!("{msg:?}");
            };
            assert_eq!((route.table, route.kind), (254, 1), "{msg:?}");
        }
        assert_eq!(d.routes("wan1", Family::V4).len(), 1);
    });
}

#[test]
fn replug_under_the_same_name_shows_a_new_ifindex() {
    let Some(lab) = open_lab(1, &[]) else {
        return;
    };
    in_gw(&lab, || {
        let mut d = Daemon::start();
        let old = d.ifindex("wan1");
        d.clear();
        let isp = lab.isp_ns(1);
        let gw = lab.gw_ns();
        let ip = |args: &[&str]| {
            let ok = std::process::Command::new("ip")
                .args(args)
                .status()
                .expect("ip");
            assert!(ok.success(), "ip {args:?}");
        };
        ip(&["-n", &isp, "link", "del", "up0"]);
        d.until("the link gone", 2 * SECOND, |d| {
            d.view.link_by_name("wan1").is_none()
        });
        assert!(d
            .changes
            .iter()
            .any(|c| matches!(c, Change::LinkGone { ifindex, .. } if *ifindex == old)));
        ip(&[
            "-n", &isp, "link", "add", "up0", "type", "veth", "peer", "name", "wan1", "netns", &gw,
        ]);
        d.until("the link back", 2 * SECOND, |d| {
            d.view.link_by_name("wan1").is_some()
        });
        let new = d.ifindex("wan1");
        assert_ne!(new, old);
        assert!(d.view.link(old).is_none());
        assert!(d.routes("wan1", Family::V4).is_empty());
    });
}

#[test]
fn ipv6_default_route_add_and_delete() {
    let Some(lab) = open_lab(2, &["--ipv6"]) else {
        return;
    };
    in_gw(&lab, || {
        let mut d = Daemon::start();
        let wan1 = d.ifindex("wan1");
        assert!(d.view.has_address(wan1, Family::V6));
        let foreign = d.routes("wan1", Family::V6)[0];
        assert_eq!((foreign.metric, foreign.protocol), (1024, RTPROT_STATIC));
        assert_eq!(foreign.gateway, Some(ip("2001:db8:1::1")));
        let ours = Route {
            metric: 1,
            protocol: RTPROT_WANFAILOVER,
            ..foreign
        };
        d.min_v4_defaults = usize::MAX;
        let seq = next_op();
        d.nl.add_route(&ours, seq).expect("add");
        assert_eq!(d.ack(seq), Ok(()));
        let seq = next_op();
        d.nl.del_route(&foreign, seq).expect("del");
        assert_eq!(d.ack(seq), Ok(()));
        d.until("only our IPv6 route", 2 * SECOND, |d| {
            d.view.default_routes(wan1, Family::V6) == [ours]
        });
        // IPv6 has no metric 0: the kernel stores 1024.
        let zero = Route { metric: 0, ..ours };
        let seq = next_op();
        d.nl.add_route(&zero, seq).expect("add");
        assert_eq!(d.ack(seq), Ok(()));
        d.until("metric 0 as 1024", 2 * SECOND, |d| {
            d.view
                .default_routes(wan1, Family::V6)
                .iter()
                .any(|r| r.metric == 1024)
        });
        // Deleting with metric 0 finds it too? Delete what the kernel reported instead.
        let stored = Route {
            metric: 1024,
            ..ours
        };
        let seq = next_op();
        d.nl.del_route(&stored, seq).expect("del");
        assert_eq!(d.ack(seq), Ok(()));
        let seq = next_op();
        d.nl.del_route(&ours, seq).expect("del");
        assert_eq!(d.ack(seq), Ok(()));
        d.until("no IPv6 route on wan1", 2 * SECOND, |d| {
            d.view.default_routes(wan1, Family::V6).is_empty()
        });
        let seq = next_op();
        d.nl.del_route(&ours, seq).expect("del");
        assert_eq!(d.ack(seq), Err(RouteError::NotFound));
    });
}

#[test]
fn link_counters_grow_after_a_ping() {
    let Some(lab) = open_lab(1, &[]) else {
        return;
    };
    in_gw(&lab, || {
        let mut d = Daemon::start();
        let wan1 = d.ifindex("wan1");
        let before = d.view.link(wan1).and_then(|l| l.stats).expect("stats64");
        let ping = lab
            .gw_command("ping")
            .args(["-c2", "-i0.2", "-W1", "-I", "wan1", "198.51.100.53"])
            .output()
            .expect("ping");
        assert!(ping.status.success(), "ping failed");
        d.clear();
        d.nl.get_link(wan1).expect("get link");
        d.until("the counters", 2 * SECOND, |d| {
            d.changes.contains(&Change::Counters { ifindex: wan1 })
        });
        let after = d.view.link(wan1).and_then(|l| l.stats).expect("stats64");
        assert!(after.rx_bytes > before.rx_bytes && after.tx_bytes > before.tx_bytes);
    });
}

#[test]
fn runtime_dumps_queue_and_interleave_with_route_acks() {
    let Some(lab) = open_lab(3, &[]) else {
        return;
    };
    in_gw(&lab, || {
        let mut d = Daemon::start();
        d.clear();
        // Two overlapping requests for everything, and a route add in the middle: the
        // kernel allows one dump per socket at a time; the ACK comes between dump parts.
        d.nl.dump_all().expect("dump");
        let ours = v4_route(d.ifindex("wan3"), "192.0.2.25", 333, RTPROT_WANFAILOVER);
        let seq = next_op();
        d.nl.add_route(&ours, seq).expect("add");
        d.nl.dump_all().expect("dump");
        assert_eq!(d.ack(seq), Ok(()));
        d.until("the dumps", 2 * SECOND, |d| !d.nl.dump_pending());
        d.turn();
        let done = d
            .events
            .iter()
            .filter(|e| matches!(e, Event::DumpDone { complete: true, .. }));
        // The second request for a kind already queued is merged: 3 or 6 dumps, never EBUSY.
        assert!(matches!(done.count(), 3..=6));
        assert!(d.routes("wan3", Family::V4).contains(&ours));
        assert_eq!(d.nl.stats().parse_errors, 0);
        assert_eq!(
            d.view.links().filter(|l| l.name.starts_with("wan")).count(),
            3
        );
    });
}

/// Prints what the kernel sends, as byte arrays, for the golden tests in `message.rs`:
/// `cargo test --test netlink_e2e capture -- --ignored --nocapture`.
#[test]
#[ignore]
fn capture_kernel_messages() {
    let Some(lab) = open_lab(1, &["--ipv6"]) else {
        return;
    };
    in_gw(&lab, || {
        use nix::sys::socket::*;
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::empty(),
            SockProtocol::NetlinkRoute,
        )
        .unwrap();
        bind(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            &NetlinkAddr::new(0, 0),
        )
        .unwrap();
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        for kind in [DumpKind::Links, DumpKind::Addrs, DumpKind::Routes] {
            let mut req = Vec::new();
            emit_dump(&mut req, kind, 7);
            send(raw, &req, MsgFlags::empty()).unwrap();
            let mut buf = vec![0u8; 65536];
            'dump: loop {
                let n = recv(raw, &mut buf, MsgFlags::empty()).unwrap();
                let mut at = 0;
                for m in parse_messages(&buf[..n]) {
                    let m = m.unwrap();
                    let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
                    let hex: String = buf[at..at + len]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    println!("// {:?}\n{hex}", m.body);
                    at += (len + 3) & !3;
                    if m.nlmsg_type == 3 {
                        break 'dump;
                    }
                }
            }
        }
        // An ACK and an EEXIST error for the same add, then an ESRCH.
        let route = v4_route(2, "192.0.2.9", 5, RTPROT_WANFAILOVER);
        for (op, seq) in [
            (RouteOp::Add, 8),
            (RouteOp::Add, 9),
            (RouteOp::Del, 10),
            (RouteOp::Del, 11),
        ] {
            let mut req = Vec::new();
            emit_route(&mut req, op, &route, seq);
            send(raw, &req, MsgFlags::empty()).unwrap();
            let mut buf = vec![0u8; 65536];
            let n = recv(raw, &mut buf, MsgFlags::empty()).unwrap();
            let hex: String = buf[..n].iter().map(|b| format!("{b:02x}")).collect();
            println!("// {:?}\n{hex}", parse_messages(&buf[..n]).next());
        }
    });
}

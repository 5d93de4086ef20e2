//! The rtnetlink code path against the real kernel, inside the namespace lab.
//!
//! Network namespaces are per thread: each test runs its netlink code on a scoped thread
//! that entered the lab's gateway namespace, while the lab itself is driven from outside.

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use support::{lab_available, wait_for, Lab};
use wanfailover::engine::route::RTPROT_WANFAILOVER;
use wanfailover::engine::{Family, Route, RouteError};
use wanfailover::sys::netlink::message::{
    emit_dump, emit_route, parse_messages, DumpKind, RouteOp,
};
use wanfailover::sys::netlink::{Change, Event, Netlink, Seq, View};

const RTPROT_DHCP: u8 = 16;
const RTPROT_STATIC: u8 = 4;
const SECOND: Duration = Duration::from_secs(1);

/// Runs `f` on a thread inside the lab's gateway namespace.
fn in_gw<T: Send>(lab: &Lab, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/run/netns/{}", lab.gw_ns());
    std::thread::scope(|s| {
        s.spawn(|| {
            let ns = std::fs::File::open(&path).expect("open the namespace");
            nix::sched::setns(&ns, CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// The daemon side of a test: sockets, view and every change seen so far.
struct Daemon {
    nl: Netlink,
    view: View,
    changes: Vec<Change>,
    acks: Vec<(Seq, Result<(), RouteError>)>,
    events: Vec<Event>,
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

    fn ifindex(&self, name: &str) -> u32 {
        self.view.link_by_name(name).expect(name).ifindex
    }

    fn routes(&self, name: &str, family: Family) -> Vec<Route> {
        self.view
            .default_routes(self.ifindex(name), family)
            .to_vec()
    }
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
    }
}

#[test]
fn startup_dump_learns_the_lab_wans() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(2, &[]);
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

/// Prints what the kernel sends, as byte arrays, for the golden tests in `message.rs`:
/// `cargo test --test netlink_e2e capture -- --ignored --nocapture`.
#[test]
#[ignore]
fn capture_kernel_messages() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(1, &["--ipv6"]);
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

//! Seeded simulation of the engine against a simulated kernel route table and network:
//! no sockets, no sleeping, a simulated clock.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use wanfailover::config::{Config, FamilySet, Gateway, Priority, Probe, Quality, Wan};
use wanfailover::engine::route::RT_TABLE_MAIN;
use wanfailover::engine::{
    Action, Engine, Family, HookKind, Input, Instant, Route, RouteError, WanId,
};

const RTPROT_DHCP: u8 = 16;
const INTERVAL: Duration = Duration::from_millis(200);
const TIMEOUT: Duration = Duration::from_millis(200);
const FAILURE_INTERVAL: Duration = Duration::from_millis(100);
const RECOVERY_INTERVAL: Duration = Duration::from_secs(1);
const DOWN: u8 = 3;
const UP: u8 = 5;
const HOLD: Duration = Duration::from_secs(10);

/// xorshift64*: small, seeded, good enough for loss and delay draws.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn wan(name: &str, iface: &str, priority: u32) -> Wan {
    Wan {
        name: name.into(),
        interface: iface.into(),
        priority: Priority::Fixed(priority),
        family: FamilySet::Ipv4,
        gateway: Gateway::Auto,
        enabled: true,
        probe: Probe {
            targets: vec![
                v4(192, 0, 2, 53).into(),
                v4(198, 51, 100, 53).into(),
                v4(203, 0, 113, 53).into(),
            ],
            interval: INTERVAL,
            timeout: TIMEOUT,
            failure_interval: FAILURE_INTERVAL,
            recovery_interval: RECOVERY_INTERVAL,
            down: DOWN,
            up: UP,
            hold: HOLD,
            reliability: 1,
        },
        quality: Quality::default(),
    }
}

fn foreign(ifindex: u32, gw: IpAddr, metric: u32) -> Route {
    Route {
        family: Family::V4,
        table: RT_TABLE_MAIN,
        ifindex,
        gateway: Some(gw),
        metric,
        protocol: RTPROT_DHCP,
        prefsrc: None,
    }
}

struct Sim {
    engine: Engine,
    now: Instant,
    rng: Rng,
    table: Vec<Route>,
    /// Loss per WAN in percent.
    loss: [u64; 2],
    replies: Vec<(Instant, WanId, u8, u16)>,
    switches: Vec<(Instant, Option<WanId>)>,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let config = Config {
            socket: "/run/wanfailover.sock".into(),
            socket_group: None,
            hooks_dir: "/etc/wanfailover.d".into(),
            hook_timeout: Duration::from_secs(10),
            down_penalty: 20_000,
            degraded_penalty: 10_000,
            metrics_listen: None,
            wans: vec![wan("fiber", "eth0", 1), wan("lte", "wwan0", 2)],
        };
        let table = vec![
            foreign(1, v4(192, 0, 2, 1), 0),
            foreign(2, v4(198, 51, 100, 1), 10),
        ];
        let mut sim = Sim {
            engine: Engine::new(&config, Instant::ZERO),
            now: Instant::ZERO,
            rng: Rng(seed),
            table,
            loss: [0, 0],
            replies: Vec::new(),
            switches: Vec::new(),
        };
        for w in 0..2u8 {
            let ifindex = u32::from(w) + 1;
            sim.input(Input::Link {
                wan: w,
                ifindex,
                admin_up: true,
                carrier: true,
            });
            sim.send_routes(w);
        }
        sim
    }

    fn input(&mut self, input: Input) {
        self.engine.handle(self.now, input);
        while let Some(a) = self.engine.poll_action(self.now) {
            self.act(a);
        }
    }

    fn send_routes(&mut self, wan: WanId) {
        let ifindex = u32::from(wan) + 1;
        let routes = self
            .table
            .iter()
            .copied()
            .filter(|r| r.ifindex == ifindex)
            .collect();
        self.input(Input::Routes {
            wan,
            family: Family::V4,
            routes,
        });
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::SendProbe {
                wan, target, seq, ..
            } => {
                if self.rng.below(100) >= self.loss[usize::from(wan)] {
                    let rtt = Duration::from_millis(5 + self.rng.below(20));
                    self.replies.push((self.now + rtt, wan, target, seq));
                }
            }
            Action::AddRoute { op, route, .. } => {
                // CREATE|EXCL: IPv4 keys default routes by (table, tos, metric)
                let clash = self
                    .table
                    .iter()
                    .any(|r| r.table == route.table && r.metric == route.metric);
                if !clash {
                    self.table.push(route);
                }
                let result = if clash {
                    Err(RouteError::Exists)
                } else {
                    Ok(())
                };
                self.route_done(op, route, result);
            }
            Action::DelRoute { op, route } => {
                let found = self.table.iter().position(|r| *r == route);
                if let Some(i) = found {
                    self.table.remove(i);
                }
                let result = found.map(|_| ()).ok_or(RouteError::NotFound);
                self.route_done(op, route, result);
            }
            Action::Hook {
                kind: HookKind::Switch,
                active,
                ..
            } => self.switches.push((self.now, active)),
            Action::Hook { .. } => {}
            // the simulated config has ICMP targets only
            #[cfg(feature = "checks")]
            Action::StartCheck { .. } | Action::CancelChecks { .. } => {}
            // no `Input::Routing`: the main table's failover alone
            #[cfg(feature = "routing")]
            Action::Routing { .. } | Action::FlushConntrack { .. } => {
                panic!("routing action without a routing config: {action:?}")
            }
        }
    }

    fn route_done(&mut self, op: u32, route: Route, result: Result<(), RouteError>) {
        assert!(!self.table.is_empty(), "no default route at {}", self.now);
        self.input(Input::RouteDone { op, result });
        self.send_routes(u8::try_from(route.ifindex - 1).expect("sim: two interfaces"));
    }

    /// Run the loop up to `until`.
    fn run(&mut self, until: Instant) {
        let mut stuck = 0u32;
        loop {
            let reply_at = self.replies.iter().map(|r| r.0).min();
            let next = [self.engine.poll_at(), reply_at]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|t| *t <= until) else {
                break;
            };
            stuck = if next <= self.now { stuck + 1 } else { 0 };
            assert!(
                stuck < 1000,
                "engine wants polling at {next} but now is {}: {:?}",
                self.now,
                self.engine.status(self.now)
            );
            self.now = self.now.max(next);
            let (due, rest): (Vec<_>, Vec<_>) =
                self.replies.drain(..).partition(|r| r.0 <= self.now);
            self.replies = rest;
            for (received_at, wan, target, seq) in due {
                self.input(Input::Reply {
                    wan,
                    target,
                    seq,
                    received_at,
                });
            }
            // timers: the engine acts when polled, input or not
            while let Some(a) = self.engine.poll_action(self.now) {
                self.act(a);
            }
        }
        self.now = self.now.max(until);
    }

    /// The interface holding the lowest-metric default route.
    fn kernel_active(&self) -> Option<u32> {
        self.table
            .iter()
            .min_by_key(|r| r.metric)
            .map(|r| r.ifindex)
    }
}

fn secs(s: u64) -> Instant {
    Instant::from_millis(s * 1000)
}

#[test]
fn twenty_percent_loss_no_false_failover_then_failover_and_failback() {
    let mut sim = Sim::new(0x5eed_1234_abcd_0001);
    sim.loss[0] = 20;
    sim.run(secs(600));
    assert_eq!(
        sim.switches.len(),
        1,
        "only the initial choice: {:?}",
        sim.switches
    );
    assert_eq!(sim.switches[0].1, Some(0));
    assert_eq!(sim.kernel_active(), Some(1));
    let ours_only = sim.table.iter().all(|r| r.protocol != RTPROT_DHCP);
    assert!(ours_only, "foreign routes adopted: {:?}", sim.table);

    // total loss on the primary
    let loss_at = sim.now;
    sim.loss[0] = 100;
    sim.run(loss_at + Duration::from_secs(5));
    let (switch_at, to) = sim.switches[1];
    assert_eq!(to, Some(1));
    let detect = switch_at - loss_at;
    let bound = INTERVAL * u32::from(DOWN) + TIMEOUT;
    println!("detect time {detect:?} (bound {bound:?})");
    assert!(detect <= bound, "{detect:?} > {bound:?}");
    assert_eq!(sim.kernel_active(), Some(2));

    // recovery: failback after `up` rounds and `hold`
    let back_at = sim.now;
    sim.loss[0] = 0;
    sim.run(back_at + Duration::from_secs(30));
    assert_eq!(sim.switches.len(), 3, "{:?}", sim.switches);
    let (failback_at, to) = sim.switches[2];
    assert_eq!(to, Some(0));
    let failback = failback_at - back_at;
    println!("failback after {failback:?} (hold {HOLD:?}, up {UP} x {RECOVERY_INTERVAL:?})");
    // the last failed round ended at most one recovery interval before the loss stopped
    assert!(failback + RECOVERY_INTERVAL >= HOLD, "{failback:?}");
    assert!(
        failback <= HOLD + RECOVERY_INTERVAL + TIMEOUT,
        "{failback:?}"
    );
    assert_eq!(sim.kernel_active(), Some(1));

    // shutdown: the DHCP routes come back exactly, ours go
    sim.input(Input::Shutdown);
    assert!(sim.engine.is_stopped(), "{:?}", sim.table);
    sim.table.sort_by_key(|r| r.metric);
    assert_eq!(
        sim.table,
        [
            foreign(1, v4(192, 0, 2, 1), 0),
            foreign(2, v4(198, 51, 100, 1), 10)
        ]
    );
}

#[test]
fn several_seeds_never_fail_over_at_twenty_percent_loss() {
    for seed in 1..=5u64 {
        let mut sim = Sim::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        sim.loss[0] = 20;
        sim.run(secs(600));
        assert_eq!(sim.switches.len(), 1, "seed {seed}: {:?}", sim.switches);
    }
}

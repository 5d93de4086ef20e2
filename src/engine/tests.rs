//! Engine-level tests: a fake clock, a config fixture and tabular helpers.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::*;
use crate::config::{self, FamilySet, Gateway, Percent, Priority, Probe, Quality};
use route::{RTPROT_WANFAILOVER, RT_TABLE_MAIN};
use wan::State;

const RTPROT_DHCP: u8 = 16;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn probe() -> Probe {
    Probe {
        targets: vec![ip(101).into(), ip(102).into(), ip(103).into()],
        interval: Duration::from_millis(1000),
        timeout: Duration::from_millis(500),
        failure_interval: Duration::from_millis(300),
        recovery_interval: Duration::from_millis(1000),
        down: 3,
        up: 2,
        hold: Duration::from_secs(5),
        reliability: 1,
    }
}

fn wan_cfg(name: &str, priority: u32) -> config::Wan {
    config::Wan {
        name: name.into(),
        interface: format!("if{priority}"),
        priority: Priority::Fixed(priority),
        family: FamilySet::Ipv4,
        gateway: Gateway::Auto,
        enabled: true,
        probe: probe(),
        quality: Quality::default(),
    }
}

fn config(wans: Vec<config::Wan>) -> Config {
    Config {
        socket: "/run/x.sock".into(),
        socket_group: None,
        hooks_dir: "/etc/x.d".into(),
        hook_timeout: Duration::from_secs(5),
        down_penalty: 20_000,
        degraded_penalty: 10_000,
        metrics_listen: None,
        wans,
    }
}

fn dhcp(ifindex: u32, gw: u8, metric: u32) -> Route {
    Route {
        family: Family::V4,
        table: RT_TABLE_MAIN,
        ifindex,
        gateway: Some(ip(gw)),
        metric,
        protocol: RTPROT_DHCP,
        prefsrc: None,
    }
}

fn ours(ifindex: u32, gw: u8, metric: u32) -> Route {
    Route {
        protocol: RTPROT_WANFAILOVER,
        ..dhcp(ifindex, gw, metric)
    }
}

struct H {
    e: Engine,
    now: Instant,
    /// Probes sent and not answered: (wan, target, seq).
    probes: Vec<(WanId, u8, u16)>,
}

impl H {
    fn new(cfg: Config) -> H {
        H {
            e: Engine::new(&cfg, Instant::ZERO),
            now: Instant::ZERO,
            probes: Vec::new(),
        }
    }

    /// Two WANs "a" (prio 1, ifindex 1, gw .1) and "b" (prio 2, ifindex 2, gw .2), links up,
    /// each with a DHCP route, routes adopted, both up.
    fn two_up() -> H {
        let mut h = H::new(config(vec![wan_cfg("a", 1), wan_cfg("b", 2)]));
        h.bring_up(|_, _| Vec::new());
        h
    }

    /// Every WAN's link up (WAN `w` on ifindex `w + 1`) with a DHCP route via `.w+1` and
    /// what `more(w, ifindex)` adds, the routes adopted, every probe answered: all up.
    fn bring_up(&mut self, more: impl Fn(WanId, u32) -> Vec<Input>) {
        let mut acts = Vec::new();
        let n = WanId::try_from(self.e.status(self.now).len()).expect("test: few WANs");
        for w in 0..n {
            let i = u32::from(w) + 1;
            let link = carrier(w, true);
            acts.extend(self.feed(0, link));
            acts.extend(self.feed(0, routes(w, vec![dhcp(i, w + 1, 0)])));
            for input in more(w, i) {
                acts.extend(self.feed(0, input));
            }
        }
        self.ack_all(0, acts);
        self.answer_all(10);
        assert!(self.states().iter().all(|&s| s == State::Up));
    }

    fn at(&mut self, ms: u64) {
        self.now = self.now.max(Instant::from_millis(ms));
    }

    fn feed(&mut self, ms: u64, input: Input) -> Vec<Action> {
        self.at(ms);
        self.e.handle(self.now, input);
        self.drain()
    }

    /// Advance to `ms`, firing every timer on the way.
    fn run(&mut self, ms: u64) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(t) = self.e.poll_at().filter(|t| *t <= Instant::from_millis(ms)) {
            self.now = self.now.max(t);
            out.extend(self.drain());
        }
        self.at(ms);
        out.extend(self.drain());
        out
    }

    fn drain(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(a) = self.e.poll_action(self.now) {
            if let Action::SendProbe {
                wan, target, seq, ..
            } = a
            {
                self.probes.push((wan, target, seq));
            }
            out.push(a);
        }
        out
    }

    /// Answer every outstanding probe (of `wan`, or all) `rtt` ms after now.
    fn answer(&mut self, wan: Option<WanId>, rtt_ms: u64) -> Vec<Action> {
        let due: Vec<_> = self
            .probes
            .iter()
            .copied()
            .filter(|p| wan.map_or(true, |w| w == p.0))
            .collect();
        self.probes.retain(|p| wan.is_some_and(|w| w != p.0));
        let at = self.now.micros / 1000 + rtt_ms;
        let mut out = Vec::new();
        for p in due {
            out.extend(self.reply(at, p));
        }
        out
    }

    /// The reply to `probe` (wan, target, seq), received at `at_ms`: the one way every
    /// helper answers a probe.
    fn reply(&mut self, at_ms: u64, (wan, target, seq): (WanId, u8, u16)) -> Vec<Action> {
        let received_at = Instant::from_millis(at_ms);
        let reply = Input::Reply {
            wan,
            target,
            seq,
            received_at,
        };
        self.feed(at_ms, reply)
    }

    fn answer_all(&mut self, rtt_ms: u64) -> Vec<Action> {
        self.answer(None, rtt_ms)
    }

    /// Answer every route operation with success, until none is left.
    fn ack_all(&mut self, ms: u64, mut pending: Vec<Action>) -> Vec<Action> {
        let mut log = Vec::new();
        pending.extend(self.run(ms));
        while let Some(a) = pending.pop() {
            if let Action::AddRoute { op, .. } | Action::DelRoute { op, .. } = a {
                pending.extend(self.feed(ms, Input::RouteDone { op, result: Ok(()) }));
            }
            log.push(a);
        }
        log
    }

    fn states(&self) -> Vec<State> {
        self.e
            .status(self.now)
            .iter()
            .map(|s| parse_state(&s.state))
            .collect()
    }

    fn metrics(&self) -> Vec<u32> {
        self.e.status(self.now).iter().map(|s| s.metric).collect()
    }

    fn active(&self) -> Option<String> {
        self.e
            .status(self.now)
            .into_iter()
            .find(|s| s.active)
            .map(|s| s.name)
    }
}

fn routes(wan: WanId, routes: Vec<Route>) -> Input {
    Input::Routes {
        wan,
        family: Family::V4,
        routes,
    }
}

fn parse_state(s: &str) -> State {
    let all = [
        State::Init,
        State::Up,
        State::Degraded,
        State::Down,
        State::Linkdown,
        State::Noroute,
        State::Disabled,
    ];
    all.into_iter()
        .find(|x| x.as_str() == s)
        .expect("test: known state")
}

fn route_ops(actions: &[Action]) -> Vec<(&'static str, Route)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::AddRoute { route, .. } => Some(("add", *route)),
            Action::DelRoute { route, .. } => Some(("del", *route)),
            _ => None,
        })
        .collect()
}

fn hooks(actions: &[Action]) -> Vec<(HookKind, WanId, State)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Hook {
                kind, wan, state, ..
            } => Some((*kind, *wan, *state)),
            _ => None,
        })
        .collect()
}

fn op_of(a: &Action) -> OpId {
    first_op(std::slice::from_ref(a))
}

/// The id of the first route operation among `acts`.
fn first_op(acts: &[Action]) -> OpId {
    let a = acts
        .iter()
        .find(|a| matches!(a, Action::AddRoute { .. } | Action::DelRoute { .. }));
    match a.expect("test: a route op") {
        Action::AddRoute { op, .. } | Action::DelRoute { op, .. } => *op,
        _ => unreachable!(),
    }
}

/// Let every probe of `wan` time out, round after round, up to `ms`.
fn lose_until(h: &mut H, wan: WanId, ms: u64) {
    while h.now < Instant::from_millis(ms) {
        h.probes.retain(|p| p.0 != wan);
        let next = h.e.poll_at().map_or(ms, |t| {
            (t.micros / 1000).min(ms).max(h.now.micros / 1000 + 1)
        });
        h.run(next);
        h.answer(Some(1 - wan.min(1)), 5); // the other WAN keeps answering
    }
}

// ----- rounds and the state machine ---------------------------------------------------

#[test]
fn first_round_sends_one_probe_per_target_with_unique_seqs() {
    let mut h = H::new(config(vec![wan_cfg("a", 1)]));
    let acts = h.run(0);
    let seqs: Vec<_> = acts
        .iter()
        .filter_map(|a| match a {
            Action::SendProbe {
                target, seq, addr, ..
            } => Some((*target, *seq, *addr)),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, [(0, 0, ip(101)), (1, 1, ip(102)), (2, 2, ip(103))]);
    assert_eq!(
        h.e.poll_at(),
        Some(Instant::from_millis(500)),
        "round deadline"
    );
}

#[test]
fn round_passes_early_with_reliability_and_init_goes_up() {
    let mut c = wan_cfg("a", 1);
    c.probe.reliability = 2;
    let mut h = H::new(config(vec![c]));
    h.run(0);
    let (_, t0, s0) = h.probes[0];
    h.reply(20, (0, t0, s0));
    assert_eq!(h.states(), [State::Init], "one of two needed answers");
    let (_, t1, s1) = h.probes[1];
    let acts = h.reply(30, (0, t1, s1));
    assert_eq!(
        h.states(),
        [State::Up],
        "judged at once, not at the deadline"
    );
    assert!(hooks(&acts).contains(&(HookKind::Transition, 0, State::Up)));
    assert_eq!(
        h.e.poll_at(),
        Some(Instant::from_millis(1000)),
        "next round at interval"
    );
}

#[test]
fn round_fails_early_when_too_many_probes_failed() {
    let mut c = wan_cfg("a", 1);
    c.probe.reliability = 3;
    let mut h = H::new(config(vec![c]));
    h.run(0);
    let (_, t, seq) = h.probes[0];
    h.feed(
        5,
        Input::ProbeFailed {
            wan: 0,
            target: t,
            seq,
            error: ProbeError::Send(101),
        },
    );
    // failed round: next one at failure_interval after the round's start
    assert_eq!(h.e.poll_at(), Some(Instant::from_millis(300)));
}

#[test]
fn down_after_n_failed_rounds_at_failure_interval() {
    let mut h = H::two_up();
    h.probes.clear();
    // round at 1000 fails at 1500, next at 1500 (max of 1300 and the verdict), 2000, down at 2500
    lose_until(&mut h, 0, 2499);
    assert_eq!(h.states()[0], State::Up);
    lose_until(&mut h, 0, 2500);
    assert_eq!(h.states()[0], State::Down);
    assert_eq!(h.active().as_deref(), Some("b"));
    assert_eq!(h.metrics(), [20_001, 2]);
}

#[test]
fn up_again_needs_up_rounds_and_hold() {
    let mut h = H::two_up();
    h.probes.clear();
    lose_until(&mut h, 0, 2500);
    assert_eq!(h.states()[0], State::Down);
    // rounds at recovery_interval pass from now on; last failure was at 2500
    loop {
        let t = h.e.poll_at().expect("timers").micros / 1000;
        if t >= 7500 {
            break;
        }
        h.run(t);
        h.answer_all(5);
        assert_eq!(h.states()[0], State::Down, "before hold ({t} ms)");
    }
    h.run(7500);
    assert_eq!(
        h.states()[0],
        State::Up,
        "hold expired with enough passed rounds"
    );
    assert_eq!(h.active().as_deref(), Some("a"));
}

#[test]
fn carrier_loss_reranks_at_once() {
    let mut h = H::two_up();
    let acts = h.feed(100, carrier(0, false));
    assert_eq!(h.states()[0], State::Linkdown);
    // same handle: ours at the down metric is added first, hooks follow
    let ops = route_ops(&acts);
    assert_eq!(ops, [("add", ours(1, 1, 20_001))]);
    let hk = hooks(&acts);
    assert_eq!(
        hk,
        [
            (HookKind::Transition, 0, State::Linkdown),
            (HookKind::Switch, 1, State::Up)
        ]
    );
    let acts = h.feed(
        101,
        Input::RouteDone {
            op: first_op(&acts),
            result: Ok(()),
        },
    );
    assert_eq!(route_ops(&acts), [("del", ours(1, 1, 1))]);
    // carrier back: the link must earn its rank (up rounds and hold) before it wins again
    h.feed(
        200,
        Input::RouteDone {
            op: first_op(&acts),
            result: Ok(()),
        },
    );
    h.feed(300, carrier(0, true));
    assert_eq!(h.states()[0], State::Down);
    assert_eq!(h.metrics()[0], 20_001);
    assert_eq!(h.active().as_deref(), Some("b"));
}

#[test]
fn init_is_trusted_only_before_the_first_verdict() {
    // a link that is down at start-up and comes up later starts in init, like at start
    let mut h = H::new(config(vec![wan_cfg("a", 1)]));
    let link = |on| carrier(0, on);
    h.feed(0, link(false));
    assert_eq!(h.states()[0], State::Linkdown);
    h.feed(10, link(true));
    assert_eq!(h.states()[0], State::Init);
    assert_eq!(h.metrics()[0], 1);
}

#[test]
fn replug_passes_through_linkdown_and_moves_routes() {
    let mut h = H::two_up();
    let acts = h.feed(
        100,
        Input::Link {
            wan: 0,
            ifindex: 9,
            admin_up: true,
            carrier: true,
        },
    );
    let hk = hooks(&acts);
    assert_eq!(hk[0], (HookKind::Transition, 0, State::Linkdown));
    assert!(hk.contains(&(HookKind::Transition, 0, State::Down)));
    // the old interface's routes are gone: ours comes back on the new ifindex, ranked as a
    // recovering WAN until it has passed its rounds
    assert_eq!(route_ops(&acts), [("add", ours(9, 1, 20_001))]);
}

#[test]
fn link_gone_and_admin_down() {
    let mut h = H::two_up();
    h.feed(100, Input::LinkGone { wan: 0 });
    assert_eq!(h.states()[0], State::Linkdown);
    let hist = h.e.history();
    assert!(hist.iter().any(|e| e.cause == "interface gone"));
    let mut h = H::two_up();
    let acts = h.feed(
        100,
        Input::Link {
            wan: 0,
            ifindex: 1,
            admin_up: false,
            carrier: false,
        },
    );
    assert_eq!(h.states()[0], State::Linkdown);
    assert!(
        route_ops(&acts).is_empty(),
        "admin down: the kernel refuses routes"
    );
}

#[test]
fn noroute_until_a_route_appears() {
    let mut h = H::new(config(vec![wan_cfg("a", 1)]));
    h.feed(0, carrier(0, true));
    h.feed(0, routes(0, vec![]));
    assert_eq!(h.states(), [State::Noroute]);
    assert_eq!(h.metrics(), [20_001]);
    let acts = h.feed(50, routes(0, vec![dhcp(1, 1, 0)]));
    assert_eq!(h.states(), [State::Init]);
    assert_eq!(route_ops(&acts), [("add", ours(1, 1, 1))]);
}

#[test]
fn no_address_is_noroute_and_configured_gateway_is_routable() {
    let mut c = wan_cfg("a", 1);
    c.gateway = Gateway::Addr(ip(1));
    let mut h = H::new(config(vec![c]));
    let acts = h.feed(0, carrier(0, true));
    assert_eq!(
        route_ops(&acts),
        [("add", ours(1, 1, 1))],
        "config gateway: no need to wait"
    );
    h.feed(0, routes(0, vec![]));
    assert_eq!(h.states(), [State::Init], "config gateway: routable");
    h.feed(
        1,
        Input::Addresses {
            wan: 0,
            family: Family::V4,
            present: false,
        },
    );
    assert_eq!(h.states(), [State::Noroute]);
    h.feed(
        2,
        Input::Addresses {
            wan: 0,
            family: Family::V4,
            present: true,
        },
    );
    assert_eq!(h.states(), [State::Init]);
}

#[test]
fn disabled_wan_is_never_probed_and_ranked_down() {
    let mut c = wan_cfg("a", 1);
    c.enabled = false;
    let mut h = H::new(config(vec![c, wan_cfg("b", 2)]));
    let acts = h.run(0);
    assert!(acts
        .iter()
        .all(|a| !matches!(a, Action::SendProbe { wan: 0, .. })));
    assert_eq!(h.states()[0], State::Disabled);
    assert_eq!(h.metrics(), [20_001, 2]);
}

#[test]
fn stale_and_unknown_replies_are_ignored() {
    let mut h = H::new(config(vec![wan_cfg("a", 1)]));
    h.run(0);
    let (_, t, seq) = h.probes[0];
    // after the deadline: not counted for the round
    h.run(500);
    h.reply(600, (0, t, seq));
    h.reply(600, (0, 7, 999));
    h.reply(600, (42, 0, 0));
    assert_eq!(h.states(), [State::Init]);
}

// ----- quality --------------------------------------------------------------------------

fn quality_h(q: Quality) -> H {
    let mut c = wan_cfg("a", 1);
    c.quality = q;
    c.probe.interval = Duration::from_millis(100);
    let mut h = H::new(config(vec![c]));
    h.feed(0, carrier(0, true));
    h
}

/// Run rounds to `until_ms`, answering each with `rtt(i)` (None: lost).
fn rounds(h: &mut H, until_ms: u64, rtt: impl Fn(u64) -> Option<u64>) {
    let mut i = 0;
    while let Some(t) = h.e.poll_at().filter(|t| t.micros / 1000 <= until_ms) {
        h.run(t.micros / 1000);
        let sent_ms = h.now.micros / 1000;
        for p in std::mem::take(&mut h.probes) {
            if let Some(r) = rtt(i) {
                h.reply(sent_ms + r, p);
            }
            i += 1;
        }
    }
}

#[test]
fn degraded_by_latency_with_hysteresis() {
    let mut h = quality_h(Quality {
        max_latency: Some(Duration::from_millis(50)),
        recovery_latency: Some(Duration::from_millis(20)),
        ..Quality::default()
    });
    rounds(&mut h, 2000, |_| Some(60));
    assert_eq!(h.states(), [State::Degraded]);
    assert_eq!(h.metrics(), [10_001]);
    rounds(&mut h, 12_000, |_| Some(30)); // under max, over recovery: stays
    assert_eq!(h.states(), [State::Degraded]);
    rounds(&mut h, 22_000, |_| Some(10));
    assert_eq!(h.states(), [State::Up]);
}

#[test]
fn degraded_by_jitter() {
    let mut h = quality_h(Quality {
        max_jitter: Some(Duration::from_millis(10)),
        ..Quality::default()
    });
    rounds(&mut h, 3000, |i| Some(if i % 2 == 0 { 5 } else { 40 }));
    assert_eq!(h.states(), [State::Degraded]);
    rounds(&mut h, 12_000, |_| Some(5));
    assert_eq!(h.states(), [State::Up]);
}

#[test]
fn loss_threshold_does_not_flap_at_its_own_value() {
    let mut h = quality_h(Quality {
        max_loss: Some(Percent(2000)),
        recovery_loss: Some(Percent(500)),
        ..Quality::default()
    });
    // every 4th probe lost: 25 % > 20 %
    rounds(&mut h, 5000, |i| (i % 4 != 0).then_some(5));
    assert_eq!(h.states(), [State::Degraded]);
    let before = h.e.history().len();
    // every 6th lost: 16.7 %, under the threshold, over the recovery value: no flapping
    rounds(&mut h, 30_000, |i| (i % 6 != 0).then_some(5));
    assert_eq!(h.states(), [State::Degraded]);
    assert_eq!(h.e.history().len(), before);
    rounds(&mut h, 60_000, |_| Some(5));
    assert_eq!(h.states(), [State::Up]);
}

// ----- policy through the engine ---------------------------------------------------------

#[test]
fn prefer_auto_order_commands() {
    let mut h = H::two_up();
    assert_eq!(
        h.e.command(h.now, Command::Prefer("zz".into())),
        Err(CommandError::UnknownWan("zz".into()))
    );
    h.e.command(h.now, Command::Prefer("b".into()))
        .expect("known WAN");
    let acts = h.drain();
    assert_eq!(h.metrics(), [2, 1]);
    assert_eq!(h.active().as_deref(), Some("b"));
    assert!(hooks(&acts).contains(&(HookKind::Switch, 1, State::Up)));
    h.e.command(h.now, Command::Auto).expect("auto");
    h.drain();
    assert_eq!(h.metrics(), [1, 2]);
    let dup = Command::Order(vec!["b".into(), "b".into()]);
    assert_eq!(
        h.e.command(h.now, dup),
        Err(CommandError::DuplicateWan("b".into()))
    );
    h.e.command(h.now, Command::Order(vec!["b".into()]))
        .expect("order");
    h.drain();
    assert_eq!(h.metrics(), [2, 1]);
    assert_eq!(
        h.e.history().last().map(|e| e.cause.clone()),
        Some("order".into())
    );
}

#[test]
fn prefer_swap_converges_through_parking() {
    let mut h = H::two_up();
    h.e.command(h.now, Command::Prefer("b".into()))
        .expect("known WAN");
    // simulate the kernel: a metric is held by one route only
    let mut table = vec![ours(1, 1, 1), ours(2, 2, 2)];
    let mut pending = h.drain();
    for _ in 0..50 {
        let Some(a) = pending.pop() else { break };
        let result = match &a {
            Action::AddRoute { route, .. } if table.iter().any(|r| r.metric == route.metric) => {
                Err(RouteError::Exists)
            }
            Action::AddRoute { route, .. } => {
                table.push(*route);
                Ok(())
            }
            Action::DelRoute { route, .. } => {
                table.retain(|r| r != route);
                Ok(())
            }
            _ => continue,
        };
        assert!(!table.is_empty());
        pending.extend(h.feed(
            h.now.micros / 1000,
            Input::RouteDone {
                op: op_of(&a),
                result,
            },
        ));
    }
    table.sort_by_key(|r| r.metric);
    assert_eq!(table, [ours(2, 2, 1), ours(1, 1, 2)]);
}

// ----- reconcile ------------------------------------------------------------------------

#[test]
fn adopt_dhcp_route_add_first_then_delete_exactly() {
    let mut h = H::new(config(vec![wan_cfg("a", 1)]));
    h.feed(0, carrier(0, true));
    let acts = h.feed(1, routes(0, vec![dhcp(1, 1, 0)]));
    assert_eq!(route_ops(&acts), [("add", ours(1, 1, 1))]);
    // nothing else until the ACK
    assert!(route_ops(&h.feed(2, routes(0, vec![dhcp(1, 1, 0)]))).is_empty());
    let acts = h.feed(
        3,
        Input::RouteDone {
            op: first_op(&acts),
            result: Ok(()),
        },
    );
    assert_eq!(route_ops(&acts), [("del", dhcp(1, 1, 0))]);
    let acts = h.feed(
        4,
        Input::RouteDone {
            op: first_op(&acts),
            result: Err(RouteError::NotFound),
        },
    );
    assert!(route_ops(&acts).is_empty(), "ESRCH on delete is done");
    // DHCP renew puts its route back: taken back at once
    let acts = h.feed(5, routes(0, vec![ours(1, 1, 1), dhcp(1, 1, 0)]));
    assert_eq!(route_ops(&acts), [("del", dhcp(1, 1, 0))]);
}

#[test]
fn device_only_route_is_adopted() {
    let mut h = H::new(config(vec![wan_cfg("a", 1)]));
    let ppp = Route {
        gateway: None,
        ..dhcp(5, 1, 0)
    };
    let acts = h.feed(0, routes(0, vec![ppp]));
    assert_eq!(
        route_ops(&acts),
        [(
            "add",
            Route {
                gateway: None,
                ..ours(5, 1, 1)
            }
        )]
    );
}

#[test]
fn eexist_parks_at_next_free_metric_then_returns() {
    let mut h = H::new(config(vec![wan_cfg("a", 1)]));
    h.feed(0, carrier(0, true));
    // a static route on our own interface already holds metric 1
    let stat = Route {
        protocol: 4,
        ..dhcp(1, 1, 1)
    };
    let acts = h.feed(1, routes(0, vec![stat]));
    let acts = h.feed(
        2,
        Input::RouteDone {
            op: first_op(&acts),
            result: Err(RouteError::Exists),
        },
    );
    assert_eq!(
        route_ops(&acts),
        [("add", ours(1, 1, 2))],
        "parked at the next free metric"
    );
    let acts = h.feed(
        3,
        Input::RouteDone {
            op: first_op(&acts),
            result: Ok(()),
        },
    );
    assert_eq!(
        route_ops(&acts),
        [("del", stat)],
        "the holder is deleted after ours is in"
    );
    let acts = h.feed(
        4,
        Input::RouteDone {
            op: first_op(&acts),
            result: Ok(()),
        },
    );
    assert_eq!(
        route_ops(&acts),
        [("add", ours(1, 1, 1))],
        "metric free again: back at once"
    );
    let acts = h.feed(
        5,
        Input::RouteDone {
            op: first_op(&acts),
            result: Ok(()),
        },
    );
    assert_eq!(route_ops(&acts), [("del", ours(1, 1, 2))]);
}

#[test]
fn eexist_by_an_invisible_holder_backs_off() {
    let mut h = H::new(config(vec![wan_cfg("a", 1)]));
    h.feed(0, carrier(0, true));
    let acts = h.feed(0, routes(0, vec![dhcp(1, 1, 0)]));
    let acts = h.feed(
        1,
        Input::RouteDone {
            op: first_op(&acts),
            result: Err(RouteError::Exists),
        },
    );
    let acts = h.feed(
        2,
        Input::RouteDone {
            op: first_op(&acts),
            result: Ok(()),
        },
    );
    assert_eq!(route_ops(&acts), [("del", dhcp(1, 1, 0))]);
    let acts = h.feed(
        3,
        Input::RouteDone {
            op: first_op(&acts),
            result: Ok(()),
        },
    );
    assert!(
        route_ops(&acts).is_empty(),
        "holder unknown: wait for the backoff"
    );
    assert!(h
        .e
        .poll_at()
        .is_some_and(|t| t <= Instant::from_millis(1001)));
    let acts = h.run(1001);
    assert_eq!(route_ops(&acts).first(), Some(&("add", ours(1, 1, 1))));
}

#[test]
fn unreachable_add_retries_with_backoff() {
    let mut h = H::new(config(vec![wan_cfg("a", 1)]));
    let acts = h.feed(0, routes(0, vec![dhcp(1, 1, 0)]));
    let acts = h.feed(
        0,
        Input::RouteDone {
            op: first_op(&acts),
            result: Err(RouteError::Unreachable),
        },
    );
    assert!(route_ops(&acts).is_empty());
    assert!(route_ops(&h.run(99)).is_empty(), "no spin");
    assert_eq!(route_ops(&h.run(100)), [("add", ours(1, 1, 1))]);
}

#[test]
fn vanished_route_is_readded_when_the_link_is_back() {
    let mut h = H::two_up();
    h.feed(
        10,
        Input::Link {
            wan: 0,
            ifindex: 1,
            admin_up: false,
            carrier: false,
        },
    );
    // the kernel dropped IPv4 routes silently; a re-dump shows none
    assert!(route_ops(&h.feed(11, routes(0, vec![]))).is_empty());
    assert_eq!(
        h.states()[0],
        State::Linkdown,
        "gateway still known: not noroute"
    );
    let acts = h.feed(20, carrier(0, true));
    // a vanished route waits out the holdoff (it cannot tell a flush from a delete loop)
    assert!(route_ops(&acts).is_empty());
    assert_eq!(route_ops(&h.run(111)), [("add", ours(1, 1, 20_001))]);
}

#[test]
fn shutdown_restores_foreign_routes_and_removes_ours() {
    let mut c = wan_cfg("b", 2);
    c.gateway = Gateway::Addr(ip(2));
    let mut h = H::new(config(vec![wan_cfg("a", 1), c]));
    let mut acts = h.feed(0, carrier(0, true));
    acts.extend(h.feed(0, carrier(1, true)));
    acts.extend(h.feed(0, routes(0, vec![dhcp(1, 1, 0)])));
    acts.extend(h.feed(0, routes(1, vec![])));
    h.ack_all(1, acts);
    h.feed(2, routes(0, vec![ours(1, 1, 1)]));
    h.feed(2, routes(1, vec![ours(2, 2, 2)]));
    h.e.handle(h.now, Input::Shutdown);
    assert!(!h.e.is_stopped());
    let mut ops = Vec::new();
    let mut pending = h.drain();
    while let Some(a) = pending.first().cloned() {
        pending.remove(0);
        ops.extend(route_ops(std::slice::from_ref(&a)));
        pending.extend(h.feed(
            3,
            Input::RouteDone {
                op: op_of(&a),
                result: Ok(()),
            },
        ));
    }
    assert_eq!(
        ops,
        [
            ("add", dhcp(1, 1, 0)),
            ("del", ours(2, 2, 2)),
            ("del", ours(1, 1, 1))
        ]
    );
    assert!(h.e.is_stopped());
    assert!(h.run(100_000).is_empty(), "no probes after shutdown");
}

#[test]
fn reload_keeps_state_and_gives_back_removed_wan() {
    let mut h = H::two_up();
    h.feed(50, routes(1, vec![ours(2, 2, 2)]));
    let before = h.e.history().len();
    let mut a = wan_cfg("a", 1);
    a.probe.interval = Duration::from_millis(2000);
    let acts = h.feed(100, Input::Reload(config(vec![wan_cfg("c", 3), a])));
    assert_eq!(h.e.wan_id("a"), Some(1));
    assert_eq!(h.e.wan_id("b"), None);
    assert_eq!(h.states(), [State::Init, State::Up], "a kept its state");
    assert_eq!(h.e.history().len(), before, "no transition for a");
    let ops = route_ops(&acts);
    assert!(
        ops.contains(&("add", dhcp(2, 2, 0))),
        "b's foreign route goes back: {ops:?}"
    );
}

#[test]
fn transitions_and_switches_are_recorded() {
    let h = H::two_up();
    let hist = h.e.history();
    let kinds: Vec<_> = hist
        .iter()
        .map(|e| (e.kind.as_str(), e.wan.as_str(), e.to.as_str()))
        .collect();
    assert!(kinds.contains(&("switch", "a", "a")));
    assert!(kinds.contains(&("transition", "a", "up")));
    assert!(kinds.contains(&("transition", "b", "up")));
}

fn carrier(wan: WanId, on: bool) -> Input {
    Input::Link {
        wan,
        ifindex: u32::from(wan) + 1,
        admin_up: true,
        carrier: on,
    }
}

fn connectivity_hooks(actions: &[Action]) -> Vec<(WanId, State, State, Option<WanId>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Hook {
                kind: HookKind::Connectivity,
                wan,
                state,
                previous,
                active,
                ..
            } => Some((*wan, *state, *previous, *active)),
            _ => None,
        })
        .collect()
}

/// Runs `wan`'s rounds, every probe answered, until it is active again; the actions on the
/// way.
fn recover(h: &mut H, wan: WanId) -> Vec<Action> {
    let mut out = Vec::new();
    let name = h.e.status(h.now)[usize::from(wan)].name.clone();
    while h.active().as_deref() != Some(name.as_str()) {
        assert!(
            h.now < Instant::from_millis(60_000),
            "test: {name} never back"
        );
        let next = h.now.micros / 1000 + 100;
        out.extend(h.run(next));
        out.extend(h.answer(Some(wan), 5));
    }
    out
}

#[test]
fn connectivity_none_when_the_last_wan_goes_and_full_when_one_is_back() {
    let mut h = H::two_up();
    let mut acts = h.feed(100, carrier(0, false));
    assert!(connectivity_hooks(&acts).is_empty(), "b still carries");
    acts = h.feed(200, carrier(1, false));
    // after b's transition and the switch to none
    assert_eq!(
        hooks(&acts).last(),
        Some(&(HookKind::Connectivity, 1, State::Linkdown))
    );
    assert_eq!(
        connectivity_hooks(&acts),
        [(1, State::Linkdown, State::Up, None)]
    );
    assert!(connectivity_hooks(&h.feed(300, carrier(1, false))).is_empty());
    // b's carrier back: down (probing) is not usable yet; full once it has passed its rounds
    acts = h.feed(400, carrier(1, true));
    assert!(connectivity_hooks(&acts).is_empty());
    let back = connectivity_hooks(&recover(&mut h, 1));
    assert_eq!(back, [(1, State::Up, State::Down, Some(1))]);
    let events: Vec<(String, String, String, String)> =
        h.e.history()
            .into_iter()
            .filter(|e| e.kind == "connectivity")
            .map(|e| (e.wan, e.from, e.to, e.cause))
            .collect();
    let (none, full) = ("none".to_string(), "full".to_string());
    assert_eq!(
        events,
        [
            (
                "b".into(),
                full.clone(),
                none.clone(),
                "no WAN is usable".into()
            ),
            ("b".into(), none, full, "a WAN is usable again".into()),
        ]
    );
}

#[test]
fn no_connectivity_event_for_the_state_found_at_start_up() {
    // every link without carrier when the daemon starts: none, but nobody lost anything
    // (the daemon feeds every kernel fact before its first decision pass)
    let mut h = H::new(config(vec![wan_cfg("a", 1), wan_cfg("b", 2)]));
    h.e.handle(h.now, carrier(0, false));
    h.e.handle(h.now, carrier(1, false));
    let mut acts = h.drain();
    assert!(connectivity_hooks(&acts).is_empty());
    assert_eq!(h.active(), None);
    // a link that comes later is a real edge: from none to full
    acts = h.feed(100, carrier(0, true));
    assert_eq!(
        connectivity_hooks(&acts),
        [(0, State::Init, State::Linkdown, Some(0))]
    );
    // and at start-up with links up, nothing either
    let h = H::two_up();
    assert!(h.e.history().iter().all(|e| e.kind != "connectivity"));
}

#[test]
fn switches_count_changes_not_the_first_choice() {
    let mut h = H::two_up();
    assert_eq!(h.e.switches(), 0, "none to a at start-up");
    h.feed(100, carrier(0, false));
    assert_eq!(h.e.switches(), 1, "a to b");
    h.feed(200, carrier(1, false));
    assert_eq!(h.e.switches(), 2, "b to none");
    h.feed(300, carrier(1, true));
    recover(&mut h, 1);
    assert_eq!(h.active().as_deref(), Some("b"));
    assert_eq!(h.e.switches(), 3, "none to b");
}

#[test]
fn wan_counters_count_probes_and_carry_the_byte_counters() {
    let mut h = H::two_up();
    let before = h.e.wan_counters();
    assert_eq!((before[0].probes_sent, before[0].probes_lost), (3, 0));
    assert_eq!(before[0].rx_bytes, None);
    // the next round of a goes unanswered
    h.probes.clear();
    h.run(1_000);
    h.probes.retain(|p| p.0 != 0);
    h.run(1_600);
    h.feed(
        1_700,
        Input::Counters {
            wan: 0,
            rx_bytes: 5,
            tx_bytes: 7,
        },
    );
    let c = &h.e.wan_counters()[0];
    assert_eq!(c.name, "a");
    // rounds at 0, 1000 (lost at 1500) and 1500 (confirming, still in time)
    assert_eq!((c.probes_sent, c.probes_lost), (9, 3));
    assert_eq!((c.rx_bytes, c.tx_bytes), (Some(5), Some(7)));
}

#[test]
fn counters_give_throughput_in_status() {
    let mut h = H::two_up();
    h.feed(
        1000,
        Input::Counters {
            wan: 0,
            rx_bytes: 0,
            tx_bytes: 0,
        },
    );
    h.feed(
        2000,
        Input::Counters {
            wan: 0,
            rx_bytes: 1_000_000,
            tx_bytes: 10,
        },
    );
    let s = &h.e.status(h.now)[0];
    // bytes in, bits per second out
    assert_eq!((s.rx_bps, s.tx_bps), (Some(8_000_000), Some(80)));
    assert_eq!(s.latency_us, Some(10_000));
}

#[test]
fn our_route_deleted_by_another_actor_is_put_back_after_a_holdoff() {
    let mut h = H::two_up();
    // busybox udhcpc renews with `while route del default dev X; do :; done`: if ours came
    // back at once, the loop would delete it forever.
    let acts = h.feed(1000, routes(0, vec![]));
    assert!(
        route_ops(&acts).is_empty(),
        "re-added during the delete loop: {acts:?}"
    );
    assert_eq!(
        h.e.poll_at().map(|t| t <= Instant::from_millis(1100)),
        Some(true)
    );
    let acts = h.run(1099);
    assert!(route_ops(&acts).is_empty());
    let acts = h.run(1100);
    assert_eq!(route_ops(&acts), [("add", ours(1, 1, 1))]);
}

#[test]
fn renewed_foreign_route_is_adopted_without_the_holdoff() {
    let mut h = H::two_up();
    h.feed(1000, routes(0, vec![]));
    // the DHCP script adds its own route right after the delete loop
    let acts = h.feed(1002, routes(0, vec![dhcp(1, 1, 0)]));
    assert_eq!(route_ops(&acts), [("add", ours(1, 1, 1))]);
}

/// Two WANs whose DHCP routes sit at 0 and 1: after adoption "b"'s foreign metric (1) is
/// the metric of "a"'s own route. Returns the harness after `Shutdown` and the first drain.
fn shutdown_with_crossed_metrics() -> (H, Vec<Action>) {
    let (h, acts, _) = shutdown_after_adopting([dhcp(1, 1, 0), dhcp(2, 2, 1)]);
    (h, acts)
}

/// Two WANs "a" (ifindex 1) and "b" (ifindex 2) whose foreign routes were adopted (every
/// add of ours answered, ours at metrics 1 and 2). Returns the harness after `Shutdown`
/// and the first drain, and the actions of the adoption.
fn shutdown_after_adopting(foreign: [Route; 2]) -> (H, Vec<Action>, Vec<Action>) {
    let mut h = H::new(config(vec![wan_cfg("a", 1), wan_cfg("b", 2)]));
    let mut acts = Vec::new();
    for (w, route) in (0..2u8).zip(foreign) {
        let link = carrier(w, true);
        acts.extend(h.feed(0, link));
        acts.extend(h.feed(0, routes(w, vec![route])));
    }
    let adoption = h.ack_all(1, acts);
    h.feed(2, routes(0, vec![ours(1, 1, 1)]));
    h.feed(2, routes(1, vec![ours(2, 2, 2)]));
    h.e.handle(h.now, Input::Shutdown);
    let acts = h.drain();
    (h, acts, adoption)
}

fn op_for(acts: &[Action], kind: &str, route: Route) -> OpId {
    let a = acts
        .iter()
        .find(|a| route_ops(std::slice::from_ref(a)) == [(kind, route)])
        .unwrap_or_else(|| panic!("no {kind} {route} in {acts:?}"));
    op_of(a)
}

#[test]
fn restore_waits_for_a_metric_another_wan_gives_back() {
    let (mut h, acts) = shutdown_with_crossed_metrics();
    let a_add = op_for(&acts, "add", dhcp(1, 1, 0));
    let b_add = op_for(&acts, "add", dhcp(2, 2, 1));
    // b's DHCP route collides with a's own route, which is still there
    let after = h.feed(
        3,
        Input::RouteDone {
            op: b_add,
            result: Err(RouteError::Exists),
        },
    );
    assert!(
        !route_ops(&after).contains(&("del", ours(2, 2, 2))),
        "ours deleted before the foreign route was back: {after:?}"
    );
    // a's foreign route goes back, then a's own route goes
    let after = h.feed(
        4,
        Input::RouteDone {
            op: a_add,
            result: Ok(()),
        },
    );
    let a_del = op_for(&after, "del", ours(1, 1, 1));
    h.feed(
        5,
        Input::RouteDone {
            op: a_del,
            result: Ok(()),
        },
    );
    // b tries again and succeeds, and only then deletes its own route
    let retry = h.run(20);
    let b_add = op_for(&retry, "add", dhcp(2, 2, 1));
    let after = h.feed(
        21,
        Input::RouteDone {
            op: b_add,
            result: Ok(()),
        },
    );
    let b_del = op_for(&after, "del", ours(2, 2, 2));
    h.feed(
        22,
        Input::RouteDone {
            op: b_del,
            result: Ok(()),
        },
    );
    assert!(h.e.is_stopped());
}

#[test]
fn equal_metric_foreign_routes_all_go_back_beside_each_other() {
    // udhcpc on a and dhclient on b: both defaults at metric 0, on different devices
    let (mut h, acts, adopted) = shutdown_after_adopting([dhcp(1, 1, 0), dhcp(2, 2, 0)]);
    assert!(
        adopted
            .iter()
            .all(|a| !matches!(a, Action::AddRoute { append: true, .. })),
        "our own routes must be added exclusively: {adopted:?}"
    );
    let appended: Vec<Route> = acts
        .iter()
        .filter_map(|a| match a {
            Action::AddRoute {
                route,
                append: true,
                ..
            } => Some(*route),
            _ => None,
        })
        .collect();
    // both go back at once, each beside the other: neither waits for a metric to free
    assert_eq!(appended, [dhcp(1, 1, 0), dhcp(2, 2, 0)]);
    let log = h.ack_all(3, acts);
    let dels: Vec<Route> = route_ops(&log)
        .into_iter()
        .filter_map(|(k, r)| (k == "del").then_some(r))
        .collect();
    assert_eq!(dels.len(), 2, "{log:?}");
    assert!(dels.contains(&ours(1, 1, 1)) && dels.contains(&ours(2, 2, 2)));
    assert!(h.e.is_stopped());
}

#[test]
fn restore_keeps_ours_when_the_metric_never_frees() {
    let (mut h, acts) = shutdown_with_crossed_metrics();
    let mut b_add = op_for(&acts, "add", dhcp(2, 2, 1));
    let mut t = 3;
    loop {
        let after = h.feed(
            t,
            Input::RouteDone {
                op: b_add,
                result: Err(RouteError::Exists),
            },
        );
        assert!(!route_ops(&after).contains(&("del", ours(2, 2, 2))));
        t += 10;
        let retry = h.run(t);
        match retry
            .iter()
            .find(|a| matches!(a, Action::AddRoute { route, .. } if *route == dhcp(2, 2, 1)))
        {
            Some(a) => b_add = op_of(a),
            None => break,
        }
        assert!(t < 5_000, "retries forever");
    }
    assert!(t > 500, "gave up after {t} ms");
}

#[test]
fn reload_with_new_targets_keeps_a_linkdown_wan_unprobed() {
    let mut h = H::two_up();
    let carrier_lost = carrier(0, false);
    h.feed(100, carrier_lost);
    assert_eq!(h.states()[0], State::Linkdown);
    let mut a = wan_cfg("a", 1);
    a.probe.targets = vec![ip(111).into()];
    let mut acts = h.feed(200, Input::Reload(config(vec![a, wan_cfg("b", 2)])));
    acts.extend(h.run(5000));
    assert!(
        acts.iter()
            .all(|a| !matches!(a, Action::SendProbe { wan: 0, .. })),
        "{acts:?}"
    );
    assert_eq!(h.states()[0], State::Linkdown);
}

// ----- slow links: overlapping rounds ---------------------------------------------------

/// The fast profile on a link slower than its interval: 200 ms rounds, 600 ms timeout.
fn slow_probe() -> Probe {
    Probe {
        interval: Duration::from_millis(200),
        timeout: Duration::from_millis(600),
        failure_interval: Duration::from_millis(200),
        ..probe()
    }
}

/// One WAN "a" on the slow profile with its first `targets` targets (one: each round is
/// one probe).
fn slow_h(targets: usize, down: u8) -> H {
    let mut c = wan_cfg("a", 1);
    c.probe = slow_probe();
    c.probe.targets.truncate(targets);
    c.probe.down = down;
    H::new(config(vec![c]))
}

/// [`H::two_up`] with "a" on the slow profile.
fn slow_two_up() -> H {
    let mut a = wan_cfg("a", 1);
    a.probe = slow_probe();
    let mut h = H::new(config(vec![a, wan_cfg("b", 2)]));
    h.bring_up(|_, _| Vec::new());
    h
}

/// A network with replies in flight, delivered in time order with the engine's timers.
#[derive(Default)]
struct Net {
    /// (arrival ms, wan, target, seq)
    in_flight: Vec<(u64, WanId, u8, u16)>,
    /// (wan, ms) of every round start seen (its first target's probe).
    starts: Vec<(WanId, u64)>,
}

impl Net {
    /// Up to `until_ms`, answer each probe `rtt(wan, sent_ms)` ms after it left (`None`:
    /// lost). A reply due at the same instant as a timer comes first.
    fn drive(&mut self, h: &mut H, until_ms: u64, rtt: impl Fn(WanId, u64) -> Option<u64>) {
        loop {
            let now_ms = h.now.micros / 1000;
            for (wan, target, seq) in std::mem::take(&mut h.probes) {
                if target == 0 {
                    self.starts.push((wan, now_ms));
                }
                if let Some(r) = rtt(wan, now_ms) {
                    self.in_flight.push((now_ms + r, wan, target, seq));
                }
            }
            let timer = h.e.poll_at().map(|t| t.micros / 1000);
            let reply = self.in_flight.iter().map(|f| f.0).min();
            let next = [timer, reply].into_iter().flatten().min();
            let Some(next) = next.filter(|&t| t <= until_ms) else {
                break;
            };
            match self.in_flight.iter().position(|f| f.0 == next) {
                Some(i) => {
                    let (at, wan, target, seq) = self.in_flight.swap_remove(i);
                    h.reply(at, (wan, target, seq));
                }
                None => {
                    h.run(next);
                }
            }
        }
        h.at(until_ms);
    }

    fn starts_of(&self, wan: WanId) -> Vec<u64> {
        self.starts
            .iter()
            .filter(|s| s.0 == wan)
            .map(|s| s.1)
            .collect()
    }
}

#[test]
fn slow_link_keeps_the_interval_and_stays_up_without_loss() {
    let mut h = slow_h(3, 3);
    let mut net = Net::default();
    // RTT 500 ms on a 200 ms interval: up to three rounds outstanding at any time
    net.drive(&mut h, 10_000, |_, _| Some(500));
    assert_eq!(h.states(), [State::Up]);
    let every_200: Vec<u64> = (0..=50).map(|k| k * 200).collect();
    assert_eq!(net.starts_of(0), every_200, "rounds keep the interval");
    let s = &h.e.status(h.now)[0];
    assert_eq!(
        (s.loss_centi_pct, s.latency_us, s.late_rounds),
        (Some(0), Some(500_000), 0)
    );
    let history = h.e.history();
    assert!(
        history
            .iter()
            .all(|e| e.kind != "transition" || e.to == "up"),
        "{history:?}"
    );
}

#[test]
fn total_loss_on_a_slow_link_is_down_by_down_intervals_plus_timeout() {
    let mut h = slow_two_up();
    let mut net = Net::default();
    // "a" answers in 500 ms until the round at 1000, then nothing; "b" answers in 5 ms
    let rtt = |wan, sent_ms| match wan {
        0 => (sent_ms <= 1000).then_some(500),
        _ => Some(5),
    };
    // last answered round sent at 1000: down at 1000 + 3 × 200 + 600
    net.drive(&mut h, 2199, rtt);
    assert_eq!(h.states()[0], State::Up);
    net.drive(&mut h, 2200, rtt);
    assert_eq!(h.states()[0], State::Down);
    assert_eq!(h.active().as_deref(), Some("b"));
    assert_eq!(h.metrics(), [20_001, 2]);
    // while down the recovery interval (1 s) sets the pace, from the newest round (2000)
    net.drive(&mut h, 4000, rtt);
    let after: Vec<u64> = net.starts_of(0).into_iter().filter(|&t| t > 2000).collect();
    assert_eq!(after, [3000, 4000]);
}

#[test]
fn late_reply_after_its_own_deadline_is_lost_while_later_rounds_count() {
    let mut h = slow_h(1, 1);
    let mut net = Net::default();
    // rounds at 0, 200, 400, 600: the one at 200 is answered at 850, past its deadline
    let rtt = |_, sent_ms| Some(if sent_ms == 200 { 650 } else { 50 });
    net.drive(&mut h, 799, rtt);
    assert_eq!(
        h.states(),
        [State::Up],
        "the rounds at 400 and 600 passed, the one at 200 is undecided"
    );
    net.drive(&mut h, 800, rtt);
    assert_eq!(h.states(), [State::Down], "lost at its own deadline");
    assert_eq!(
        net.starts_of(0),
        [0, 200, 400, 600],
        "then the recovery pace"
    );
    net.drive(&mut h, 900, rtt);
    assert_eq!(
        h.states(),
        [State::Down],
        "the late reply changes no verdict"
    );
    let wan = h.e.entries[0].family(Family::V4).expect("ipv4 machine");
    assert_eq!(
        wan.ignored_replies, 1,
        "only the late reply was ignored; later rounds' replies counted"
    );
    // statistics follow dpinger: the late reply undoes the loss there
    let s = wan.summary(h.now);
    assert_eq!((s.samples, s.loss_centi_pct), (4, Some(0)));
}

#[test]
fn verdicts_apply_in_round_order() {
    let mut h = slow_h(1, 2);
    let mut net = Net::default();
    // only the rounds at 0 and 400 are answered; the one at 400 passes at 450, before the
    // one at 200 fails (800): applied in order, it still separates that failure from the
    // next ones (600 at 1200, 800 at 1400), so the second consecutive failure is at 1400
    let rtt = |_, sent_ms| (sent_ms == 0 || sent_ms == 400).then_some(50);
    net.drive(&mut h, 1399, rtt);
    assert_eq!(h.states(), [State::Up]);
    net.drive(&mut h, 1400, rtt);
    assert_eq!(h.states(), [State::Down]);
    let down_at =
        h.e.history()
            .iter()
            .find(|e| e.to == "down")
            .map(|e| e.at_us);
    assert_eq!(down_at, Some(1_400_000));
}

#[test]
fn reload_to_a_slower_interval_counts_from_the_newest_round() {
    let mut h = slow_h(1, 3);
    let mut net = Net::default();
    net.drive(&mut h, 450, |_, _| Some(500));
    let mut a = wan_cfg("a", 1);
    a.probe = slow_probe();
    a.probe.targets.truncate(1);
    a.probe.interval = Duration::from_millis(1000);
    h.feed(450, Input::Reload(config(vec![a])));
    net.drive(&mut h, 2500, |_, _| Some(500));
    // rounds at 0, 200, 400 on the old pace; then 1 s after the newest
    assert_eq!(net.starts_of(0), [0, 200, 400, 1400, 2400]);
    assert_eq!(h.states(), [State::Up]);
}

// ----- recording and deciding ------------------------------------------------------------

#[test]
fn inputs_are_recorded_and_decided_once_per_poll() {
    let mut h = H::two_up();
    let before = h.e.decision_passes();
    // two facts of one loop turn: a's carrier is gone, b's routes were dumped
    let lost = carrier(0, false);
    h.e.handle(h.now, lost);
    h.e.handle(h.now, routes(1, vec![ours(2, 2, 2)]));
    assert_eq!(h.e.decision_passes(), before, "handle decides nothing");
    assert_eq!(h.metrics(), [1, 2]);
    assert_eq!(
        h.e.poll_at(),
        Some(Instant::ZERO),
        "recorded inputs: poll at once"
    );
    let acts = h.drain();
    assert_eq!(h.e.decision_passes(), before + 1, "one pass for both");
    assert_eq!(route_ops(&acts), [("add", ours(1, 1, 20_001))]);
    assert_eq!(h.metrics(), [20_001, 2]);
    assert!(h.e.poll_at().is_some_and(|t| t > h.now), "then only timers");
}

#[test]
fn a_checked_command_changes_nothing_until_recorded() {
    let mut h = H::two_up();
    let prefer = Command::Prefer("b".into());
    assert_eq!(h.e.check_command(&prefer), Ok(()));
    assert!(h.drain().is_empty());
    assert_eq!(h.active().as_deref(), Some("a"));
    h.e.handle(h.now, Input::Command(prefer));
    h.drain();
    assert_eq!(h.active().as_deref(), Some("b"));
    // a command gone stale by the time it is recorded is dropped
    h.e.handle(h.now, Input::Command(Command::Prefer("zz".into())));
    h.drain();
    assert_eq!(h.active().as_deref(), Some("b"));
}

/// One WAN that is never probed (disabled), so nothing but the routes happens.
fn quiet_h() -> H {
    let mut c = wan_cfg("a", 1);
    c.enabled = false;
    let mut h = H::new(config(vec![c]));
    let up = carrier(0, true);
    h.feed(0, up);
    h
}

#[test]
fn an_unanswered_route_operation_times_out_and_is_retried() {
    let mut h = quiet_h();
    let acts = h.feed(0, routes(0, vec![dhcp(1, 1, 0)]));
    let want = ours(1, 1, 20_001);
    assert_eq!(route_ops(&acts), [("add", want)]);
    let lost = first_op(&acts);
    assert!(h.e.ops_in_flight());
    assert_eq!(
        h.e.poll_at(),
        Some(Instant::ZERO + reconcile::OP_TIMEOUT),
        "the answer's deadline is a timer"
    );
    assert!(route_ops(&h.run(2_999)).is_empty());
    // no answer in time: failed, and tried again after the first backoff (100 ms)
    assert!(route_ops(&h.run(3_099)).is_empty());
    assert!(!h.e.ops_in_flight());
    let acts = h.run(3_100);
    assert_eq!(route_ops(&acts), [("add", want)]);
    assert_ne!(first_op(&acts), lost);
    // the late answer to the lost request changes nothing
    let late = Input::RouteDone {
        op: lost,
        result: Ok(()),
    };
    assert!(route_ops(&h.feed(3_200, late)).is_empty());
    assert!(h.e.ops_in_flight());
}

#[test]
fn a_remembered_foreign_route_goes_back_on_exit() {
    let mut h = quiet_h();
    let saved = dhcp(1, 1, 0);
    // read back at start-up, with the kernel's routes, in one turn: the run that replaced
    // it was killed, and only its route is left
    h.e.handle(
        h.now,
        Input::ForeignRoute {
            wan: 0,
            route: saved,
        },
    );
    let acts = h.feed(0, routes(0, vec![ours(1, 1, 20_001)]));
    assert!(route_ops(&acts).is_empty());
    assert_eq!(h.e.foreign_routes(), [(0, saved)]);
    h.e.handle(h.now, Input::Shutdown);
    assert_eq!(route_ops(&h.drain()), [("add", saved)]);
}

#[test]
fn operation_ids_stay_below_the_shells_numbers() {
    let mut h = quiet_h();
    h.e.next_op = OP_ID_LIMIT - 1;
    let acts = h.feed(0, routes(0, vec![dhcp(1, 1, 0)]));
    assert_eq!(first_op(&acts), OP_ID_LIMIT - 1);
    let acts = h.feed(
        1,
        Input::RouteDone {
            op: OP_ID_LIMIT - 1,
            result: Ok(()),
        },
    );
    assert_eq!(first_op(&acts), 1, "wrapped, skipping 0");
}

mod auto_priority;
#[cfg(feature = "checks")]
mod checks;
mod dual_stack;
#[cfg(feature = "routing")]
mod routing;

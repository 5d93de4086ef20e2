//! Dual-stack WANs: each family judged on its own targets and ranked among the other WANs'
//! routes of that family, with its own active WAN.

use std::net::Ipv6Addr;

use super::*;

const RTPROT_STATIC: u8 = 4;

fn ip6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last))
}

/// A `both` WAN: target 0 is IPv4, target 1 IPv6.
fn both_cfg(name: &str, priority: u32) -> config::Wan {
    let mut c = wan_cfg(name, priority);
    c.family = FamilySet::Both;
    c.probe.targets = vec![ip(101).into(), ip6(0x101).into()];
    c
}

fn static6(ifindex: u32, metric: u32) -> Route {
    Route {
        family: Family::V6,
        table: RT_TABLE_MAIN,
        ifindex,
        gateway: Some(ip6(u16::try_from(ifindex).unwrap_or(0))),
        metric,
        protocol: RTPROT_STATIC,
        prefsrc: None,
    }
}

fn ours6(ifindex: u32, metric: u32) -> Route {
    Route {
        protocol: RTPROT_WANFAILOVER,
        ..static6(ifindex, metric)
    }
}

/// Two dual-stack WANs "a" (prio 1, ifindex 1) and "b" (prio 2, ifindex 2), links up, a
/// DHCP IPv4 and a static IPv6 default route each, adopted; every family up.
fn two_dual_up() -> H {
    dual_up(config(vec![both_cfg("a", 1), both_cfg("b", 2)]))
}

/// The WANs of `cfg`, dual-stack, brought up as [`two_dual_up`] does.
fn dual_up(cfg: Config) -> H {
    let mut h = H::new(cfg);
    h.bring_up(|wan, ifindex| {
        let routes = vec![static6(ifindex, 1024)];
        let family = Family::V6;
        vec![Input::Routes {
            wan,
            family,
            routes,
        }]
    });
    assert_eq!(families(&h, 0), ["ipv4 up", "ipv6 up"]);
    h
}

/// `FAMILY STATE` of each family of WAN `wan`, as `status` reports them.
fn families(h: &H, wan: usize) -> Vec<String> {
    h.e.status(h.now)[wan]
        .families
        .iter()
        .map(|f| format!("{} {}", f.family, f.state))
        .collect()
}

/// Desired metric of every WAN for `family`.
fn metrics_of(h: &H, family: &str) -> Vec<u32> {
    h.e.status(h.now)
        .iter()
        .map(|s| {
            let f = s.families.iter().find(|f| f.family == family);
            f.expect("family managed").metric
        })
        .collect()
}

/// The WAN active for `family`.
fn active_of(h: &H, family: &str) -> Option<String> {
    let rows = h.e.status(h.now);
    let active = |s: &&WanStatus| s.families.iter().any(|f| f.family == family && f.active);
    rows.iter().find(active).map(|s| s.name.clone())
}

/// Runs to `ms` round after round, answering (5 ms later) the probes `answers(wan, target)`
/// picks and acknowledging every route operation; the other probes time out.
fn drive(h: &mut H, ms: u64, answers: impl Fn(WanId, u8) -> bool) -> Vec<Action> {
    let mut log = Vec::new();
    while h.now < Instant::from_millis(ms) {
        let now_ms = h.now.micros / 1000;
        let next =
            h.e.poll_at()
                .map_or(ms, |t| (t.micros / 1000).min(ms).max(now_ms + 1));
        let acts = h.run(next);
        log.extend(ack(h, acts));
        h.probes.retain(|p| answers(p.0, p.1));
        let acts = h.answer_all(5);
        log.extend(ack(h, acts));
    }
    log
}

/// Answers every route operation with success, at once, keeping the order of actions.
fn ack(h: &mut H, acts: Vec<Action>) -> Vec<Action> {
    let mut pending: std::collections::VecDeque<Action> = acts.into();
    let mut log = Vec::new();
    while let Some(a) = pending.pop_front() {
        if let Action::AddRoute { op, .. } | Action::DelRoute { op, .. } = a {
            let now_ms = h.now.micros / 1000;
            pending.extend(h.feed(now_ms, Input::RouteDone { op, result: Ok(()) }));
        }
        log.push(a);
    }
    log
}

/// Hooks with their family: `(kind, wan, family, state)`.
fn family_hooks(actions: &[Action]) -> Vec<(HookKind, WanId, Option<Family>, State)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Hook {
                kind,
                wan,
                family,
                state,
                ..
            } => Some((*kind, *wan, *family, *state)),
            _ => None,
        })
        .collect()
}

/// History entries after the first `skip`: `KIND WAN FAMILY TO` (`-` for no family).
fn told(h: &H, skip: usize) -> Vec<String> {
    let family = |f: &str| {
        if f.is_empty() {
            "-".to_string()
        } else {
            f.to_string()
        }
    };
    h.e.history()
        .into_iter()
        .skip(skip)
        .map(|e| format!("{} {} {} {}", e.kind, e.wan, family(&e.family), e.to))
        .collect()
}

/// a's IPv6 targets stop answering; everything else answers.
fn ipv6_of_a_lost(wan: WanId, target: u8) -> bool {
    !(wan == 0 && target == 1)
}

#[test]
fn failing_ipv6_targets_penalize_only_the_ipv6_route() {
    let mut h = two_dual_up();
    let before = h.e.history().len();
    // rounds at 1000, 1500 and 2000 fail for IPv6 (failure_interval 300 ms, timeout 500 ms)
    let acts = drive(&mut h, 2499, ipv6_of_a_lost);
    assert_eq!(families(&h, 0), ["ipv4 up", "ipv6 up"]);
    assert!(
        route_ops(&acts).is_empty(),
        "nothing moves before `down` rounds"
    );
    let acts = drive(&mut h, 3000, ipv6_of_a_lost);
    assert_eq!(families(&h, 0), ["ipv4 up", "ipv6 down"]);
    assert_eq!(h.states(), [State::Up, State::Up], "a still carries IPv4");
    assert_eq!(metrics_of(&h, "ipv4"), [1, 2], "a's IPv4 keeps its rank");
    assert_eq!(metrics_of(&h, "ipv6"), [20_001, 2]);
    assert_eq!(active_of(&h, "ipv4").as_deref(), Some("a"));
    assert_eq!(active_of(&h, "ipv6").as_deref(), Some("b"));
    assert_eq!(h.active().as_deref(), Some("a"), "the active WAN is IPv4's");
    // only a's IPv6 route moves, make before break
    assert_eq!(
        route_ops(&acts),
        [("add", ours6(1, 20_001)), ("del", ours6(1, 1))]
    );
    assert_eq!(
        family_hooks(&acts),
        [
            (HookKind::Transition, 0, Some(Family::V6), State::Down),
            (HookKind::Switch, 1, Some(Family::V6), State::Up),
        ]
    );
    assert_eq!(
        told(&h, before),
        ["transition a ipv6 down", "switch b ipv6 b"]
    );
}

#[test]
fn ipv6_recovers_on_its_own_rounds_and_hold() {
    let mut h = two_dual_up();
    drive(&mut h, 3000, ipv6_of_a_lost);
    let before = h.e.history().len();
    // the IPv6 round sent at 3000 was lost too: its failure at 3500 starts the hold (5 s)
    let acts = drive(&mut h, 8499, |_, _| true);
    assert_eq!(families(&h, 0)[1], "ipv6 down");
    assert!(family_hooks(&acts).is_empty());
    let acts = drive(&mut h, 8600, |_, _| true);
    assert_eq!(families(&h, 0), ["ipv4 up", "ipv6 up"]);
    assert_eq!(metrics_of(&h, "ipv6"), [1, 2]);
    assert_eq!(active_of(&h, "ipv6").as_deref(), Some("a"));
    assert_eq!(
        route_ops(&acts),
        [("add", ours6(1, 1)), ("del", ours6(1, 20_001))]
    );
    assert_eq!(
        told(&h, before),
        ["transition a ipv6 up", "switch a ipv6 a"]
    );
}

#[test]
fn both_families_down_is_the_wan_down() {
    let mut h = two_dual_up();
    drive(&mut h, 3000, ipv6_of_a_lost);
    let before = h.e.history().len();
    // now a's IPv4 fails too (rounds at 4000, 4500, 5000): its family changed alone, and
    // with it the WAN
    let acts = drive(&mut h, 5500, |wan, _| wan != 0);
    assert_eq!(h.states(), [State::Down, State::Up]);
    assert_eq!(metrics_of(&h, "ipv4"), [20_001, 2]);
    assert_eq!(
        family_hooks(&acts),
        [
            (HookKind::Transition, 0, Some(Family::V4), State::Down),
            (HookKind::Transition, 0, None, State::Down),
            (HookKind::Switch, 1, Some(Family::V4), State::Up),
        ]
    );
    assert_eq!(
        told(&h, before),
        [
            "transition a ipv4 down",
            "transition a - down",
            "switch b ipv4 b"
        ]
    );
}

#[test]
fn carrier_loss_is_one_transition_and_one_switch_of_the_whole_wan() {
    let mut h = two_dual_up();
    let before = h.e.history().len();
    let link = carrier(0, false);
    let acts = h.feed(100, link);
    assert_eq!(families(&h, 0), ["ipv4 linkdown", "ipv6 linkdown"]);
    assert_eq!(
        route_ops(&acts),
        [("add", ours(1, 1, 20_001)), ("add", ours6(1, 20_001))],
        "both families' routes move at once"
    );
    assert_eq!(
        family_hooks(&acts),
        [
            (HookKind::Transition, 0, None, State::Linkdown),
            (HookKind::Switch, 1, None, State::Up),
        ]
    );
    assert_eq!(
        told(&h, before),
        ["transition a - linkdown", "switch b - b"]
    );
}

#[test]
fn carrier_loss_while_ipv6_is_down_is_one_transition_of_the_wan() {
    let mut h = two_dual_up();
    drive(&mut h, 3000, ipv6_of_a_lost);
    let before = h.e.history().len();
    let link = carrier(0, false);
    h.feed(3100, link);
    assert_eq!(
        told(&h, before),
        ["transition a - linkdown", "switch b ipv4 b"]
    );
}

#[test]
fn a_family_without_address_is_noroute_alone() {
    let mut h = two_dual_up();
    let gone = Input::Addresses {
        wan: 0,
        family: Family::V6,
        present: false,
    };
    let acts = h.feed(100, gone);
    assert_eq!(families(&h, 0), ["ipv4 up", "ipv6 noroute"]);
    assert_eq!(h.e.status(h.now)[0].state, "up");
    assert_eq!(metrics_of(&h, "ipv6"), [20_001, 2]);
    assert_eq!(
        family_hooks(&acts),
        [
            (HookKind::Transition, 0, Some(Family::V6), State::Noroute),
            (HookKind::Switch, 1, Some(Family::V6), State::Up),
        ]
    );
}

#[test]
fn probes_carry_the_wans_target_numbers() {
    let mut c = both_cfg("a", 1);
    // families interleaved: the shell must see config positions, each family its own
    c.probe.targets = vec![
        ip6(0x101).into(),
        ip(101).into(),
        ip6(0x102).into(),
        ip(102).into(),
    ];
    let mut h = H::new(config(vec![c]));
    let acts = h.run(0);
    let mut sent: Vec<(u8, IpAddr)> = acts
        .iter()
        .filter_map(|a| match a {
            Action::SendProbe { target, addr, .. } => Some((*target, *addr)),
            _ => None,
        })
        .collect();
    sent.sort_by_key(|s| s.0);
    assert_eq!(
        sent,
        [(0, ip6(0x101)), (1, ip(101)), (2, ip6(0x102)), (3, ip(102))]
    );
    // an answer to target 1 (IPv4) passes the IPv4 round only
    let (w, t, seq) = *h.probes.iter().find(|p| p.1 == 1).expect("target 1");
    let reply = Input::Reply {
        wan: w,
        target: t,
        seq,
        received_at: Instant::from_millis(5),
    };
    h.feed(5, reply);
    assert_eq!(families(&h, 0), ["ipv4 up", "ipv6 init"]);
}

#[test]
fn single_family_wans_never_name_a_family() {
    let mut h = H::two_up();
    let link = carrier(0, false);
    let acts = h.feed(100, link);
    assert!(family_hooks(&acts).iter().all(|h| h.2.is_none()));
    assert!(h.e.history().iter().all(|e| e.family.is_empty()));
    assert_eq!(families(&h, 0), ["ipv4 linkdown"]);
}

#[test]
fn an_ipv6_only_wan_is_its_one_family() {
    let mut c = wan_cfg("a", 1);
    c.family = FamilySet::Ipv6;
    c.probe.targets = vec![ip6(0x101).into()];
    let mut h = H::new(config(vec![c]));
    let mut acts = h.run(0);
    acts.extend(h.answer_all(5));
    assert_eq!(families(&h, 0), ["ipv6 up"]);
    assert_eq!(
        family_hooks(&acts),
        [
            (HookKind::Switch, 0, None, State::Init),
            (HookKind::Transition, 0, None, State::Up),
        ]
    );
    assert_eq!(
        h.active().as_deref(),
        Some("a"),
        "IPv6 is the first family here"
    );
}

#[test]
fn reload_to_both_keeps_ipv4_and_starts_ipv6() {
    let mut h = H::two_up();
    let acts = h.feed(
        100,
        Input::Reload(config(vec![both_cfg("a", 1), wan_cfg("b", 2)])),
    );
    assert_eq!(families(&h, 0), ["ipv4 up", "ipv6 init"]);
    assert_eq!(h.states(), [State::Up, State::Up]);
    assert_eq!(
        family_hooks(&acts),
        [(HookKind::Switch, 0, Some(Family::V6), State::Init)],
        "the first IPv6 WAN is IPv6's active WAN"
    );
    // the new family learned the link it runs on: carrier loss takes both down
    let link = carrier(0, false);
    h.feed(200, link);
    assert_eq!(families(&h, 0), ["ipv4 linkdown", "ipv6 linkdown"]);
}

/// WAN "a", both families, with `targets`; one failed round takes a family down; link,
/// routes and every family up.
fn dual_with(targets: Vec<config::Target>) -> (H, config::Wan) {
    let mut a = both_cfg("a", 1);
    a.probe.targets = targets;
    a.probe.down = 1;
    (dual_up(config(vec![a.clone()])), a)
}

/// `RESULT` of each target of WAN 0, as `health` reports them.
fn target_results(h: &H) -> Vec<String> {
    let health = h.e.health(h.now);
    health[0]
        .targets
        .iter()
        .map(|t| format!("{} {}", t.target, t.result))
        .collect()
}

#[test]
fn answers_sent_before_a_reload_that_renumbered_the_other_family_count_for_their_targets() {
    let targets = vec![
        ip(101).into(),
        ip(102).into(),
        ip6(0x101).into(),
        ip6(0x102).into(),
    ];
    let (mut h, mut a) = dual_with(targets);
    h.run(1000);
    let sent: Vec<u8> = h.probes.iter().map(|p| p.1).collect();
    assert_eq!(sent, [0, 1, 2, 3], "one round of every target in flight");
    // IPv4's second target goes: the IPv6 targets become numbers 1 and 2
    a.probe.targets.remove(1);
    let before = std::mem::take(&mut h.probes);
    h.feed(1001, Input::Reload(config(vec![a])));
    let new: Vec<u8> = h.probes.iter().map(|p| p.1).collect();
    assert_eq!(new, [0], "IPv4's targets changed: its round starts again");
    // the IPv6 answers come as they were sent, with numbers 2 and 3
    h.probes.extend(before.into_iter().filter(|p| p.1 >= 2));
    h.answer_all(5);
    h.run(1600);
    assert_eq!(
        families(&h, 0),
        ["ipv4 up", "ipv6 up"],
        "both IPv6 targets answered in time: the round passed"
    );
    assert_eq!(
        target_results(&h),
        [
            "192.0.2.101 pass",
            "2001:db8::101 pass",
            "2001:db8::102 pass"
        ]
    );
}

#[test]
fn a_family_renumbered_by_a_reload_sends_under_a_changed_number_only_after_the_timeout() {
    let (mut h, mut a) = dual_with(vec![ip(101).into(), ip6(0x101).into()]);
    drive(&mut h, 1100, |_, _| true);
    assert_eq!(families(&h, 0), ["ipv4 up", "ipv6 up"]);
    // a round of 192.0.2.101 (0) and 2001:db8::101 (1) in flight at 2000
    h.run(2000);
    let before = std::mem::take(&mut h.probes);
    assert_eq!(before.iter().map(|p| p.1).collect::<Vec<_>>(), [0, 1]);
    // a new IPv4 target takes number 1; the IPv6 target moves to 2
    a.probe.targets.insert(1, ip(102).into());
    h.feed(2001, Input::Reload(config(vec![a])));
    assert!(
        h.probes.is_empty(),
        "no probe under number 1 while it may mean ::101"
    );
    h.probes = before;
    h.answer_all(5);
    h.run(2500);
    assert!(
        h.probes.is_empty(),
        "IPv4 waits for the old probes' timeout (2001 + 500 ms)"
    );
    h.run(2502);
    let sent: Vec<u8> = h.probes.iter().map(|p| p.1).collect();
    assert_eq!(sent, [0, 1], "then IPv4 probes both its targets");
    h.answer_all(5);
    h.run(3000);
    let sent: Vec<u8> = h.probes.iter().map(|p| p.1).collect();
    assert_eq!(sent, [2], "IPv6 keeps its pace, under its new number");
    h.answer_all(5);
    h.run(3600);
    assert_eq!(families(&h, 0), ["ipv4 up", "ipv6 up"]);
    assert_eq!(
        target_results(&h),
        ["192.0.2.101 pass", "192.0.2.102 pass", "2001:db8::101 pass"]
    );
}

//! The routing half (DESIGN.md §10): per-WAN tables and reply rules, policy rules and the
//! kill switch, balance mode's multipath default, the conntrack flush, leftovers of a
//! killed run, and the clean-up on exit. A fake kernel answers the operations as the real
//! one does (`EEXIST` for a duplicate add, `ESRCH` for a missing delete).

use super::*;
use crate::config::{Mode, Policy, PortRange, Protocol, Routing, Sticky, WanRouting};
use crate::engine::routing::{rule, Change, Object, REPLY_PRIORITY};

#[cfg(feature = "balance")]
mod balance;
#[cfg(feature = "balance")]
use balance::same_key;
/// Without multipath routes nothing is replaced.
#[cfg(not(feature = "balance"))]
fn same_key(_: &Object, _: &Object) -> bool {
    false
}

/// wan a's address (on ifindex 1) and wan b's.
fn addr(wan: WanId) -> IpAddr {
    ip(10 + wan)
}

fn routing_cfg(mode: Mode, policies: Vec<Policy>) -> Routing {
    Routing {
        mode,
        sticky: Sticky::Flow,
        flush_conntrack: true,
        wans: vec![
            WanRouting {
                table: 101,
                weight: 3,
            },
            WanRouting {
                table: 102,
                weight: 1,
            },
        ],
        policies,
    }
}

/// UDP to port 1194 through `wan` (index 0 "a", 1 "b").
fn vpn(wan: usize, fallback: bool) -> Policy {
    Policy {
        name: "vpn".into(),
        wan: ["a", "b"][wan].into(),
        wan_index: wan,
        source: None,
        destination: None,
        protocol: Some(Protocol::Udp),
        dport: Some(PortRange::single(1194)),
        sport: None,
        fwmark: None,
        iif: None,
        fallback,
    }
}

/// The kernel as far as the routing half goes.
#[derive(Default)]
struct Kernel {
    objects: Vec<Object>,
    /// Changes seen, in order.
    log: Vec<Change>,
    /// Main-table IPv4 defaults at metric 0 (a DHCP client's): they hold the multipath
    /// route's key, so adding it meanwhile earns `EEXIST`, as from the kernel.
    main_zero: usize,
}

impl Kernel {
    fn answer(&mut self, change: &Change) -> Result<(), RouteError> {
        self.log.push(change.clone());
        match change {
            Change::Add(o) if self.objects.contains(o) => Err(RouteError::Exists),
            Change::Add(o) if o.is_multipath() && self.main_zero > 0 => Err(RouteError::Exists),
            Change::Add(o) => {
                self.objects.push(o.clone());
                Ok(())
            }
            Change::Replace(o) => {
                // only the multipath default is replaced: the one of its family goes
                self.objects
                    .retain(|k| !k.is_multipath() || !same_key(k, o));
                self.objects.push(o.clone());
                Ok(())
            }
            Change::Del(o) if !self.objects.contains(o) => Err(RouteError::NotFound),
            Change::Del(o) => {
                self.objects.retain(|k| k != o);
                Ok(())
            }
        }
    }

    fn rules(&self) -> Vec<(u32, u32)> {
        let mut out: Vec<_> = self
            .objects
            .iter()
            .filter_map(|o| match o {
                Object::Rule(r) => Some((r.priority, r.table)),
                _ => None,
            })
            .collect();
        out.sort_unstable();
        out
    }

    fn has(&self, f: impl Fn(&Object) -> bool) -> bool {
        self.objects.iter().any(f)
    }
}

/// Two WANs up (see `H::two_up`) with the routing half and an address each.
struct R {
    h: H,
    k: Kernel,
    flushes: Vec<(Vec<IpAddr>, Vec<u8>)>,
}

impl R {
    fn new(cfg: Routing) -> R {
        R::with(vec![wan_cfg("a", 1), wan_cfg("b", 2)], cfg, Vec::new())
    }

    /// WAN `w` on ifindex `w + 1` with a DHCP route via `.w+1` and address `addr(w)`,
    /// every operation answered, every probe answered: all up. `leftovers` are in the
    /// kernel from the start.
    fn with(wans: Vec<config::Wan>, cfg: Routing, leftovers: Vec<Object>) -> R {
        let n = WanId::try_from(wans.len()).expect("test: few WANs");
        let mut r = R {
            h: H::new(config(wans)),
            k: Kernel {
                objects: leftovers.clone(),
                log: Vec::new(),
                main_zero: usize::from(n),
            },
            flushes: Vec::new(),
        };
        r.h.e.handle(Instant::ZERO, Input::Routing(cfg));
        r.h.e.handle(Instant::ZERO, Input::RoutingState(leftovers));
        for w in 0..n {
            let i = u32::from(w) + 1;
            let link = carrier(w, true);
            // as the daemon's start: every fact of the dump, then one decision
            r.h.e.handle(Instant::ZERO, link);
            r.h.e
                .handle(Instant::ZERO, routes(w, vec![dhcp(i, w + 1, 0)]));
            let addrs = vec![addr(w)];
            let family = Family::V4;
            r.h.e.handle(
                Instant::ZERO,
                Input::WanAddresses {
                    wan: w,
                    family,
                    addrs,
                },
            );
        }
        r.settle(0);
        let acts = r.h.answer_all(10);
        r.answer(10, acts);
        r.settle(20);
        assert!(r.h.states().iter().all(|&s| s == State::Up));
        r
    }

    /// Feeds `input` at `ms` and answers everything until the engine is quiet.
    fn feed(&mut self, ms: u64, input: Input) -> Vec<Action> {
        let acts = self.h.feed(ms, input);
        self.answer(ms, acts)
    }

    fn settle(&mut self, ms: u64) -> Vec<Action> {
        let acts = self.h.run(ms);
        self.answer(ms, acts)
    }

    /// Answers route, routing and flush actions (flushes delete nothing) until none come.
    fn answer(&mut self, ms: u64, mut pending: Vec<Action>) -> Vec<Action> {
        let mut log = Vec::new();
        while !pending.is_empty() {
            let mut next = Vec::new();
            for a in pending {
                let input = match &a {
                    Action::Routing { op, change } => Some(Input::RoutingDone {
                        op: *op,
                        result: self.k.answer(change),
                    }),
                    Action::AddRoute { op, route, .. } | Action::DelRoute { op, route } => {
                        if route.metric == 0 && route.family == Family::V4 {
                            if matches!(a, Action::AddRoute { .. }) {
                                self.k.main_zero += 1;
                            } else {
                                self.k.main_zero = self.k.main_zero.saturating_sub(1);
                            }
                        }
                        Some(Input::RouteDone {
                            op: *op,
                            result: Ok(()),
                        })
                    }
                    Action::FlushConntrack { moved, keep } => {
                        self.flushes.push((moved.clone(), keep.clone()));
                        Some(Input::FlushDone {
                            deleted: 5,
                            gone: 0,
                            failed: 0,
                        })
                    }
                    _ => None,
                };
                log.push(a);
                if let Some(input) = input {
                    next.extend(self.h.feed(ms, input));
                }
            }
            pending = next;
        }
        log
    }

    fn carrier(&mut self, ms: u64, wan: WanId, on: bool) -> Vec<Action> {
        let acts = self.feed(ms, carrier(wan, on));
        if on {
            // back up needs probe rounds: answer them all
            let mut t = ms;
            while self.h.states()[usize::from(wan)] != State::Up && t < ms + 120_000 {
                t += 100;
                self.settle(t);
                self.h.answer_all(1);
            }
            self.settle(t + 1);
        }
        acts
    }
}

fn table_route(wan: WanId) -> Object {
    let i = u32::from(wan) + 1;
    Object::Table(Route {
        table: 101 + u32::from(wan),
        metric: 0,
        ..ours(i, wan + 1, 0)
    })
}

#[test]
fn failover_gets_a_table_and_reply_rules_per_wan_and_no_multipath() {
    let r = R::new(routing_cfg(Mode::Failover, Vec::new()));
    assert!(r.k.has(|o| *o == table_route(0)), "{:?}", r.k.objects);
    assert!(r.k.has(|o| *o == table_route(1)));
    assert_eq!(
        r.k.rules(),
        [(REPLY_PRIORITY, 101), (REPLY_PRIORITY + 1, 102)]
    );
    let reply = r.k.objects.iter().find_map(|o| match o {
        Object::Rule(rule) if rule.priority == REPLY_PRIORITY => Some(rule.clone()),
        _ => None,
    });
    let src = reply
        .and_then(|r| r.src)
        .map(|c| (c.addr(), c.prefix_len()));
    assert_eq!(src, Some((addr(0), 32)), "from the WAN's address alone");
    assert!(!r.k.has(Object::is_multipath));
    assert!(r.flushes.is_empty(), "the first choice moves no flow");
    let s = r.h.e.routing_status();
    assert_eq!((s.mode.as_str(), s.sticky), ("failover", None));
    assert_eq!(r.h.metrics(), [1, 2], "failover metrics unshifted");
}

#[test]
fn without_the_routing_input_nothing_is_routed() {
    let mut h = H::two_up();
    let acts = h.run(5_000);
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::Routing { .. } | Action::FlushConntrack { .. })),
        "{acts:?}"
    );
}

#[test]
fn a_new_address_gets_its_rule_and_a_lost_one_loses_it() {
    let mut r = R::new(routing_cfg(Mode::Failover, Vec::new()));
    let two = Input::WanAddresses {
        wan: 1,
        family: Family::V4,
        addrs: vec![addr(1), ip(99)],
    };
    r.feed(100, two);
    assert_eq!(r.k.rules().len(), 3);
    let none = Input::WanAddresses {
        wan: 1,
        family: Family::V4,
        addrs: Vec::new(),
    };
    r.feed(200, none);
    assert_eq!(r.k.rules(), [(REPLY_PRIORITY, 101)]);
}

#[test]
fn failover_flushes_the_old_wans_flows_and_failback_flushes_the_backups() {
    // with `balance`, a's policy without fallback pins its own flows
    let (policies, pinned) = if cfg!(feature = "balance") {
        (vec![vpn(0, false)], vec![0])
    } else {
        (Vec::new(), Vec::new())
    };
    let mut r = R::new(routing_cfg(Mode::Failover, policies));
    r.carrier(1_000, 0, false);
    assert_eq!(r.h.active().as_deref(), Some("b"));
    assert_eq!(r.flushes, [(vec![addr(0)], pinned)], "a's flows move");
    r.carrier(2_000, 0, true);
    assert_eq!(r.h.active().as_deref(), Some("a"));
    assert_eq!(r.flushes.len(), 2);
    assert_eq!(r.flushes[1], (vec![addr(1)], vec![]), "failback: b's flows");
    // unchanged carriers: answered rounds flush nothing
    let from = r.h.now.micros / 1000;
    for t in (from..from + 20_000).step_by(100) {
        r.settle(t);
        let acts = r.h.answer_all(1);
        r.answer(t + 1, acts);
    }
    assert_eq!(r.h.states(), [State::Up, State::Up]);
    assert_eq!(r.flushes.len(), 2);
    let s = r.h.e.routing_status();
    assert_eq!((s.flushes, s.flushed), (2, 10));
    let history = r.h.e.history();
    let flush: Vec<_> = history.iter().filter(|e| e.kind == "flush").collect();
    assert_eq!(flush.len(), 2);
    assert_eq!((flush[0].wan.as_str(), flush[0].from.as_str()), ("a", "a"));
    assert_eq!(flush[0].cause, "5 conntrack entries deleted");
    assert_eq!(flush[1].from, "b");
}

#[test]
fn no_flush_when_flush_conntrack_is_off() {
    let mut cfg = routing_cfg(Mode::Failover, Vec::new());
    cfg.flush_conntrack = false;
    let mut r = R::new(cfg);
    r.carrier(1_000, 0, false);
    assert_eq!(r.h.active().as_deref(), Some("b"));
    assert!(r.flushes.is_empty());
}

#[test]
fn leftovers_of_a_killed_run_are_kept_if_wanted_and_deleted_if_not() {
    let mut stale_rule = rule(Family::V4, REPLY_PRIORITY + 7, 107);
    stale_rule.src = crate::config::Cidr::new(ip(77), 32);
    let stale = Object::Rule(stale_rule);
    let leftovers = vec![stale.clone(), table_route(0)];
    let wans = vec![wan_cfg("a", 1), wan_cfg("b", 2)];
    let r = R::with(wans, routing_cfg(Mode::Failover, Vec::new()), leftovers);
    assert!(!r.k.has(|o| *o == stale), "stale rule deleted");
    assert!(r.k.has(|o| *o == table_route(0)), "wanted one kept");
    let table_adds =
        r.k.log
            .iter()
            .filter(|c| matches!(c, Change::Add(o) if *o == table_route(0)))
            .count();
    assert_eq!(table_adds, 0, "not added again");
}

#[test]
fn eexist_on_add_and_esrch_on_delete_are_done_other_errors_retry() {
    let mut r = R::new(routing_cfg(Mode::Failover, Vec::new()));
    // an add the kernel refuses with another error is tried again after RETRY
    let acts = r.h.feed(
        100,
        Input::WanAddresses {
            wan: 0,
            family: Family::V4,
            addrs: vec![addr(0), ip(50)],
        },
    );
    let (op, change) = acts
        .iter()
        .find_map(|a| match a {
            Action::Routing { op, change } => Some((*op, change.clone())),
            _ => None,
        })
        .expect("an add");
    assert!(matches!(change, Change::Add(Object::Rule(_))));
    let refused = Input::RoutingDone {
        op,
        result: Err(RouteError::Other(libc::EPERM)),
    };
    let acts = r.h.feed(100, refused);
    assert!(!acts.iter().any(|a| matches!(a, Action::Routing { .. })));
    assert!(r.h.e.poll_at().is_some());
    let acts =
        r.h.run(100 + crate::engine::routing::RETRY.as_millis() as u64);
    let again = acts.iter().find_map(|a| match a {
        Action::Routing { op, change } => Some((*op, change.clone())),
        _ => None,
    });
    let (op, again) = again.expect("tried again");
    assert_eq!(again, change);
    // the kernel has it already (EEXIST): done, nothing more
    let acts = r.h.feed(
        1_200,
        Input::RoutingDone {
            op,
            result: Err(RouteError::Exists),
        },
    );
    assert!(!acts.iter().any(|a| matches!(a, Action::Routing { .. })));
    assert!(!r.h.e.ops_in_flight());
    // a delete of something already gone (ESRCH) is done too
    let acts = r.h.feed(
        1_300,
        Input::WanAddresses {
            wan: 0,
            family: Family::V4,
            addrs: vec![addr(0)],
        },
    );
    let op = acts
        .iter()
        .find_map(|a| match a {
            Action::Routing {
                op,
                change: Change::Del(_),
            } => Some(*op),
            _ => None,
        })
        .expect("a delete");
    let acts = r.h.feed(
        1_300,
        Input::RoutingDone {
            op,
            result: Err(RouteError::NotFound),
        },
    );
    assert!(!acts.iter().any(|a| matches!(a, Action::Routing { .. })));
    assert!(!r.h.e.ops_in_flight());
}

#[test]
fn one_operation_per_key_and_a_changed_gateway_is_deleted_first() {
    let mut r = R::new(routing_cfg(Mode::Failover, Vec::new()));
    // wan a's gateway moves: the table's default is replaced, old one out first
    r.k.log.clear();
    r.feed(500, routes(0, vec![dhcp(1, 33, 0)]));
    let table: Vec<_> =
        r.k.log
            .iter()
            .filter(|c| matches!(c.object(), Object::Table(t) if t.table == 101))
            .cloned()
            .collect();
    let new = Object::Table(Route {
        table: 101,
        metric: 0,
        ..ours(1, 33, 0)
    });
    assert_eq!(
        table,
        [Change::Del(table_route(0)), Change::Add(new.clone())]
    );
    assert!(r.k.has(|o| *o == new));
}

#[test]
fn shutdown_removes_everything_and_waits_for_the_answers() {
    let mut r = R::new(routing_cfg(Mode::Balance, vec![vpn(1, false)]));
    // tables and reply rules; with `balance` the multipath, policy rule and kill switch too
    let least = if cfg!(feature = "balance") { 7 } else { 4 };
    assert!(r.k.objects.len() >= least, "{:?}", r.k.objects);
    let acts = r.h.feed(1_000, Input::Shutdown);
    assert!(!r.h.e.is_stopped(), "answers outstanding");
    r.answer(1_000, acts);
    assert!(r.k.objects.is_empty(), "left: {:?}", r.k.objects);
    assert!(r.h.e.is_stopped());
}

#[test]
fn an_unanswered_operation_times_out_and_is_tried_again() {
    let mut r = R::new(routing_cfg(Mode::Failover, Vec::new()));
    let acts = r.h.feed(
        100,
        Input::WanAddresses {
            wan: 1,
            family: Family::V4,
            addrs: vec![addr(1), ip(60)],
        },
    );
    let first = acts
        .iter()
        .filter(|a| matches!(a, Action::Routing { .. }))
        .count();
    assert_eq!(first, 1);
    let acts = r.h.run(100 + reconcile::OP_TIMEOUT.as_millis() as u64 + 1);
    assert!(!acts.iter().any(|a| matches!(a, Action::Routing { .. })));
    let acts = r
        .h
        .run(100 + (reconcile::OP_TIMEOUT + crate::engine::routing::RETRY).as_millis() as u64 + 2);
    assert_eq!(
        acts.iter()
            .filter(|a| matches!(a, Action::Routing { .. }))
            .count(),
        1
    );
}

#[test]
fn a_lasting_refusal_is_asked_less_and_less_often() {
    let mut r = R::new(routing_cfg(Mode::Failover, Vec::new()));
    let more = Input::WanAddresses {
        wan: 0,
        family: Family::V4,
        addrs: vec![addr(0), ip(51)],
    };
    let mut acts = r.h.feed(100, more);
    let mut asked_at = Vec::new();
    while r.h.now < Instant::from_millis(100_000) {
        for a in &acts {
            if let Action::Routing { op, .. } = a {
                asked_at.push(r.h.now.micros / 1000);
                let refused = Input::RoutingDone {
                    op: *op,
                    result: Err(RouteError::Other(libc::EPERM)),
                };
                r.h.e.handle(r.h.now, refused);
            }
        }
        let next = r.h.e.poll_at().map_or(100_000, |t| t.micros / 1000);
        acts = r.h.run(next.max(r.h.now.micros / 1000 + 1));
    }
    let gaps: Vec<u64> = asked_at.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 32_000]);
}

#[test]
fn a_switch_caused_by_a_reload_flushes_like_any_other() {
    let mut r = R::new(routing_cfg(Mode::Failover, Vec::new()));
    assert_eq!(r.h.active().as_deref(), Some("a"));
    // the reload makes b the better WAN and lists it first: every id changes
    let mut a = wan_cfg("a", 3);
    a.interface = "if1".into();
    let mut cfg = routing_cfg(Mode::Failover, Vec::new());
    cfg.wans.reverse(); // the tables follow their WANs
    r.h.e.handle(
        Instant::from_millis(1_000),
        Input::Reload(config(vec![wan_cfg("b", 2), a])),
    );
    r.h.e
        .handle(Instant::from_millis(1_000), Input::Routing(cfg));
    r.settle(1_000);
    assert_eq!(r.h.active().as_deref(), Some("b"));
    assert_eq!(
        r.flushes,
        [(vec![addr(0)], vec![])],
        "a's flows move to b, as in a switch of any other cause"
    );
    // the shell sends the addresses again under the new ids: nothing more moves
    for (wan, addr) in [(0, addr(1)), (1, addr(0))] {
        let family = Family::V4;
        let addrs = vec![addr];
        r.feed(1_100, Input::WanAddresses { wan, family, addrs });
    }
    r.settle(1_200);
    assert_eq!(r.flushes.len(), 1);
    assert_eq!(
        r.k.rules(),
        [(REPLY_PRIORITY, 102), (REPLY_PRIORITY + 1, 101)]
    );
}

fn reply_rule(wan: WanId) -> Object {
    let mut rule = rule(
        Family::V4,
        REPLY_PRIORITY + u32::from(wan),
        101 + u32::from(wan),
    );
    rule.src = crate::config::Cidr::new(addr(wan), 32);
    Object::Rule(rule)
}

fn adds(acts: &[Action]) -> Vec<Object> {
    (acts.iter())
        .filter_map(|a| match a {
            Action::Routing {
                change: Change::Add(o),
                ..
            } => Some(o.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_rule_or_route_someone_else_deleted_comes_back_at_once() {
    let mut r = R::new(routing_cfg(Mode::Failover, Vec::new()));
    for gone in [reply_rule(1), table_route(0)] {
        // `ip rule del` / `ip route flush table N`: the kernel forgets it and tells
        r.k.objects.retain(|o| *o != gone);
        let acts = r.feed(1_000, Input::RoutingGone(gone.clone()));
        let again = adds(&acts);
        assert_eq!(
            again,
            std::slice::from_ref(&gone),
            "added again in the same pass"
        );
        assert!(r.k.has(|o| *o == gone));
    }
    // an object that is not ours, or not in the kernel by our count, is no drift
    let mut foreign = rule(Family::V4, 5, 77);
    foreign.src = crate::config::Cidr::new(ip(70), 32);
    let acts = r.feed(1_100, Input::RoutingGone(Object::Rule(foreign)));
    assert!(adds(&acts).is_empty(), "{acts:?}");
}

#[test]
fn the_echo_of_our_own_delete_is_not_drift() {
    let mut r = R::new(routing_cfg(Mode::Failover, Vec::new()));
    // b's address goes: its reply rule is deleted by us
    let none = Input::WanAddresses {
        wan: 1,
        family: Family::V4,
        addrs: Vec::new(),
    };
    let acts = r.h.feed(1_000, none);
    let (op, del) = acts
        .iter()
        .find_map(|a| match a {
            Action::Routing { op, change } => Some((*op, change.clone())),
            _ => None,
        })
        .expect("the delete");
    assert_eq!(del, Change::Del(reply_rule(1)));
    // the notification overtakes the answer, then comes (again) after it: nothing is added
    let acts = r.h.feed(1_000, Input::RoutingGone(reply_rule(1)));
    assert!(!acts.iter().any(|a| matches!(a, Action::Routing { .. })));
    let result = r.k.answer(&del);
    let acts = r.feed(1_000, Input::RoutingDone { op, result });
    assert!(adds(&acts).is_empty());
    let acts = r.feed(1_010, Input::RoutingGone(reply_rule(1)));
    assert!(adds(&acts).is_empty(), "{acts:?}");
    assert_eq!(r.k.rules(), [(REPLY_PRIORITY, 101)]);
}

#[test]
fn a_kernel_refusing_the_re_add_is_asked_with_the_backoff() {
    let mut r = R::new(routing_cfg(Mode::Failover, Vec::new()));
    r.k.objects.retain(|o| *o != reply_rule(0));
    let mut acts = r.h.feed(1_000, Input::RoutingGone(reply_rule(0)));
    let mut asked_at = Vec::new();
    while r.h.now < Instant::from_millis(30_000) {
        for a in &acts {
            if let Action::Routing { op, change } = a {
                assert_eq!(*change, Change::Add(reply_rule(0)));
                asked_at.push(r.h.now.micros / 1000);
                let refused = Input::RoutingDone {
                    op: *op,
                    result: Err(RouteError::Other(libc::EPERM)),
                };
                r.h.e.handle(r.h.now, refused);
                // a firewall that deletes again and again changes nothing: not in the kernel
                r.h.e.handle(r.h.now, Input::RoutingGone(reply_rule(0)));
            }
        }
        let next = r.h.e.poll_at().map_or(30_000, |t| t.micros / 1000);
        acts = r.h.run(next.max(r.h.now.micros / 1000 + 1));
    }
    assert_eq!(asked_at, [1_000, 2_000, 4_000, 8_000, 16_000]);
}

#[test]
fn a_dump_after_lost_notifications_brings_back_what_is_missing_and_keeps_ops_in_flight() {
    let mut r = R::new(routing_cfg(Mode::Failover, Vec::new()));
    // a's address changes: the delete of its old reply rule and the add of the new one are
    // on the way, unanswered
    let moved = Input::WanAddresses {
        wan: 0,
        family: Family::V4,
        addrs: vec![ip(20)],
    };
    let in_flight: Vec<(OpId, Change)> =
        r.h.feed(1_000, moved)
            .into_iter()
            .filter_map(|a| match a {
                Action::Routing { op, change } => Some((op, change)),
                _ => None,
            })
            .collect();
    let mut new_rule = rule(Family::V4, REPLY_PRIORITY, 101);
    new_rule.src = crate::config::Cidr::new(ip(20), 32);
    let new_rule = Object::Rule(new_rule);
    assert_eq!(in_flight.len(), 2, "{in_flight:?}");
    assert!(in_flight
        .iter()
        .any(|(_, c)| *c == Change::Del(reply_rule(0))));
    assert!(in_flight
        .iter()
        .any(|(_, c)| *c == Change::Add(new_rule.clone())));
    // meanwhile someone deletes b's rule and table route, and the notifications are lost:
    // the dump shows the kernel as it is (the in-flight add not there yet)
    let lost = [reply_rule(1), table_route(1)];
    r.k.objects.retain(|o| !lost.contains(o));
    let dump = r.k.objects.clone();
    let acts = r.h.feed(1_010, Input::RoutingState(dump));
    let mut again = adds(&acts);
    again.sort_by_key(|o| format!("{o:?}"));
    let mut want = lost.to_vec();
    want.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(again, want, "only the missing ones: {acts:?}");
    let others = acts.iter().filter(|a| matches!(a, Action::Routing { .. }));
    assert_eq!(
        others.count(),
        2,
        "the ops in flight are not sent again: {acts:?}"
    );
    // every answer comes: the kernel holds what is wanted, and nothing more is sent
    let mut pending: Vec<Action> = in_flight
        .into_iter()
        .map(|(op, change)| Action::Routing { op, change })
        .collect();
    pending.extend(acts);
    r.answer(1_020, pending);
    let routing = |acts: Vec<Action>| {
        let n = acts.iter().filter(|a| matches!(a, Action::Routing { .. }));
        n.count()
    };
    assert_eq!(routing(r.settle(1_030)), 0);
    assert_eq!(routing(r.settle(10_000)), 0, "settled: no retries");
    for o in [new_rule, reply_rule(1), table_route(0), table_route(1)] {
        assert!(r.k.has(|k| *k == o), "{o:?} missing: {:?}", r.k.objects);
    }
    assert!(!r.k.has(|k| *k == reply_rule(0)), "old rule deleted");
}

//! The `balance` feature: policy rules and their kill switch, the multipath default.

use super::*;
use crate::engine::routing::{
    Hop, KILL_METRIC, KILL_POLICY_PRIORITY, POLICY_PRIORITY, REPLY_PRIORITY,
};

impl Kernel {
    fn multipath(&self) -> Option<Vec<(u32, u16)>> {
        self.objects.iter().find_map(|o| match o {
            Object::Multipath { hops, .. } => {
                Some(hops.iter().map(|h| (h.ifindex, h.weight)).collect())
            }
            _ => None,
        })
    }
}

/// `a` and `b` are the multipath default of one family.
pub(super) fn same_key(a: &Object, b: &Object) -> bool {
    matches!((a, b), (Object::Multipath { family: x, .. }, Object::Multipath { family: y, .. }) if x == y)
}

#[test]
fn a_policy_with_fallback_follows_its_wan() {
    let mut r = R::new(routing_cfg(Mode::Failover, vec![vpn(1, true)]));
    let policy_rule = |k: &Kernel| k.rules().contains(&(POLICY_PRIORITY, 102));
    assert!(policy_rule(&r.k), "{:?}", r.k.rules());
    let rule = r.k.objects.iter().find_map(|o| match o {
        Object::Rule(rule) if rule.priority == POLICY_PRIORITY => Some(rule.clone()),
        _ => None,
    });
    let rule = rule.expect("policy rule");
    assert_eq!(
        (rule.ip_proto, rule.dport, rule.src),
        (Some(17), Some(PortRange::single(1194)), None)
    );
    assert!(!r.k.has(|o| matches!(o, Object::Unreachable { .. })));
    let uses = |r: &R| r.h.e.routing_status().policies[0].clone();
    assert_eq!(
        (uses(&r).uses.as_deref(), uses(&r).blocked),
        (Some("b"), false)
    );
    // b loses carrier: the rule goes, its traffic takes the main table
    r.carrier(1_000, 1, false);
    assert!(!policy_rule(&r.k), "{:?}", r.k.rules());
    assert_eq!((uses(&r).uses, uses(&r).blocked), (None, false));
    // and comes back with b
    r.carrier(2_000, 1, true);
    assert!(policy_rule(&r.k));
}

#[test]
fn a_policy_without_fallback_is_blocked_never_leaked() {
    let mut r = R::new(routing_cfg(Mode::Failover, vec![vpn(1, false)]));
    let kill = Object::Unreachable {
        family: Family::V4,
        table: 102,
    };
    assert!(r.k.has(|o| *o == kill), "kill switch always in b's table");
    // before the reply rules: a lookup the kernel repeats with the active WAN's address as
    // source (IPv6, a socket without one) still meets the policy first
    let rules = r.k.rules();
    assert!(rules.contains(&(KILL_POLICY_PRIORITY, 102)), "{rules:?}");
    assert!(rules.contains(&(REPLY_PRIORITY, 101)), "{rules:?}");
    r.carrier(1_000, 1, false);
    assert!(
        r.k.rules().contains(&(KILL_POLICY_PRIORITY, 102)),
        "the rule stays"
    );
    assert!(r.k.has(|o| *o == kill));
    let p = r.h.e.routing_status().policies[0].clone();
    assert_eq!((p.uses.as_deref(), p.blocked), (Some("b"), true));
    assert!(matches!(kill, Object::Unreachable { .. }));
    assert_eq!(KILL_METRIC, u32::MAX);
}

#[test]
fn balance_spreads_by_weight_and_drops_a_dead_wan() {
    let mut r = R::new(routing_cfg(Mode::Balance, Vec::new()));
    assert_eq!(r.k.multipath(), Some(vec![(1, 3), (2, 1)]));
    // added once, after the DHCP clients' metric-0 defaults moved out of its way
    let multipath_adds =
        r.k.log
            .iter()
            .filter(|c| matches!(c, Change::Add(o) if o.is_multipath()));
    assert_eq!(multipath_adds.count(), 1, "{:?}", r.k.log);
    assert_eq!(
        r.h.metrics(),
        [2, 3],
        "every WAN's route behind the multipath"
    );
    let s = r.h.e.routing_status();
    assert_eq!(s.mode, "balance");
    assert_eq!(s.sticky.as_deref(), Some("flow"));
    let weights: Vec<_> = s
        .multipath
        .iter()
        .map(|h| (h.wan.as_str(), h.weight))
        .collect();
    assert_eq!(weights, [("a", 3), ("b", 1)]);
    assert!(r.flushes.is_empty());
    // b dies: one WAN left, the multipath goes (its failover route suffices); b's flows move
    r.carrier(1_000, 1, false);
    assert_eq!(r.k.multipath(), None);
    assert!(r.h.e.routing_status().multipath.is_empty());
    assert_eq!(r.flushes, [(vec![addr(1)], vec![])]);
    // b back: the multipath again, added whole; nothing left a WAN: no flush
    r.carrier(2_000, 1, true);
    assert_eq!(r.k.multipath(), Some(vec![(1, 3), (2, 1)]));
    assert_eq!(r.flushes.len(), 1);
}

#[test]
fn balance_replaces_the_multipath_whole_when_the_set_changes() {
    let mut cfg = routing_cfg(Mode::Balance, Vec::new());
    cfg.wans.push(WanRouting {
        table: 103,
        weight: 2,
    });
    let wans = vec![wan_cfg("a", 1), wan_cfg("b", 2), wan_cfg("c", 3)];
    let mut r = R::with(wans, cfg, Vec::new());
    assert_eq!(r.k.multipath(), Some(vec![(1, 3), (2, 1), (3, 2)]));
    r.k.log.clear();
    r.carrier(1_000, 2, false);
    assert_eq!(r.k.multipath(), Some(vec![(1, 3), (2, 1)]));
    let multipath_changes: Vec<_> =
        r.k.log
            .iter()
            .filter(|c| matches!(c.object(), Object::Multipath { .. }))
            .collect();
    assert!(
        matches!(multipath_changes[..], [Change::Replace(_)]),
        "one replace, never a gap: {multipath_changes:?}"
    );
}

#[test]
fn a_stale_multipath_and_kill_switch_of_a_killed_run_are_deleted() {
    let stale_multipath = Object::Multipath {
        family: Family::V4,
        hops: vec![Hop {
            ifindex: 9,
            gateway: Some(ip(9)),
            weight: 1,
        }],
    };
    let stale_kill = Object::Unreachable {
        family: Family::V4,
        table: 107,
    };
    let leftovers = vec![stale_multipath.clone(), stale_kill.clone(), table_route(0)];
    let wans = vec![wan_cfg("a", 1), wan_cfg("b", 2)];
    let r = R::with(wans, routing_cfg(Mode::Failover, Vec::new()), leftovers);
    assert!(
        !r.k.has(|o| *o == stale_multipath),
        "stale multipath deleted"
    );
    assert!(!r.k.has(|o| *o == stale_kill), "stale kill switch deleted");
    assert!(r.k.has(|o| *o == table_route(0)), "wanted one kept");
}

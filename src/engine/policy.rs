//! WAN states + priorities + manual override → one desired metric per WAN.
//!
//! - Base rank: the configured `priority`, or with a runtime `order` the rank 1..n in that
//!   order (WANs not named follow, by priority). A rank is at least 1: IPv4 metric 0 is what
//!   DHCP clients use and IPv6 has no metric 0.
//! - `prefer NAME`, while NAME is not down (degraded is fine): NAME gets metric 1 and every
//!   other WAN's base moves up by one, so NAME is below all others.
//! - Penalties: `degraded` adds `degraded_penalty`; `down`, `linkdown`, `noroute`,
//!   `disabled` add `down_penalty`. All-down keeps the priority order (fail open).
//! - Uniqueness: the kernel keys default routes by metric, so two managed WANs must never
//!   want the same one. After the rules above, a collision (possible only with odd
//!   penalties) moves the lower-ranked WAN to the next free metric.

use heapless::Vec as HVec;

use super::wan::State;
use super::WanId;
use crate::config::MAX_WANS;

/// What the policy needs of one WAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    pub state: State,
    pub priority: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Penalties {
    pub degraded: u32,
    pub down: u32,
}

/// Desired metric per WAN, indexed like the input.
pub type Metrics = HVec<u32, MAX_WANS>;

/// The desired metrics. `order` lists WAN ids in the runtime order; `prefer` the preferred.
pub fn metrics(
    wans: &[Input],
    order: Option<&[WanId]>,
    prefer: Option<WanId>,
    p: Penalties,
) -> Metrics {
    let mut base = base_ranks(wans, order);
    let preferred =
        prefer.filter(|&i| wans.get(usize::from(i)).is_some_and(|w| !w.state.is_down()));
    if let Some(pref) = preferred {
        for (i, b) in base.iter_mut().enumerate() {
            *b = if i == usize::from(pref) {
                1
            } else {
                b.saturating_add(1)
            };
        }
    }
    let mut out = Metrics::new();
    for (i, (w, b)) in wans.iter().zip(base.iter()).enumerate() {
        let penalty = match w.state {
            // the preferred WAN is first even when degraded
            _ if preferred.map(usize::from) == Some(i) => 0,
            // healthy, or not judged yet: the plain rank
            State::Up | State::Init => 0,
            // reachable but poor: still beats any dead WAN
            State::Degraded => p.degraded,
            // unusable: last, but still ordered (fail open)
            State::Down | State::Linkdown | State::Noroute | State::Disabled => p.down,
        };
        let _ = out.push(b.saturating_add(penalty)); // same length as `wans` (≤ MAX_WANS)
    }
    make_unique(&mut out, &base);
    out
}

/// Rank per WAN before penalties: priority, or position in the runtime order.
fn base_ranks(wans: &[Input], order: Option<&[WanId]>) -> Metrics {
    let mut base: Metrics = wans.iter().map(|w| w.priority.max(1)).collect();
    let Some(order) = order else { return base };
    let mut rank = 0u32;
    let mut named = [false; MAX_WANS];
    for &id in order {
        if let Some(b) = base
            .get_mut(usize::from(id))
            .filter(|_| !named[usize::from(id)])
        {
            rank += 1;
            *b = rank;
            named[usize::from(id)] = true;
        }
    }
    // unnamed WANs follow the named ones, keeping their priority order
    let mut rest: HVec<usize, MAX_WANS> = (0..base.len()).filter(|&i| !named[i]).collect();
    crate::sort::sort_by_key(&mut rest, |&i| wans[i].priority);
    for i in rest {
        rank += 1;
        base[i] = rank;
    }
    base
}

/// Move colliding metrics up to the next free one, lower-ranked WAN first to move.
fn make_unique(metrics: &mut Metrics, base: &Metrics) {
    let mut idx: HVec<usize, MAX_WANS> = (0..metrics.len()).collect();
    crate::sort::sort_by_key(&mut idx, |&i| (metrics[i], base[i], i));
    for k in 1..idx.len() {
        let (prev, cur) = (idx[k - 1], idx[k]);
        if metrics[cur] <= metrics[prev] {
            metrics[cur] = metrics[prev].saturating_add(1);
        }
    }
}

/// The active WAN: lowest desired metric among those not down that have a route to
/// carry traffic (`routed`: those managing the family ranked).
pub fn active(wans: &[Input], metrics: &[u32], routed: impl Fn(usize) -> bool) -> Option<WanId> {
    wans.iter()
        .zip(metrics)
        .enumerate()
        .filter(|(i, (w, _))| !w.state.is_down() && routed(*i))
        .min_by_key(|(_, (_, &m))| m)
        .and_then(|(i, _)| WanId::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;

    const P: Penalties = Penalties {
        degraded: 10_000,
        down: 20_000,
    };

    fn wans(states: &[(State, u32)]) -> Vec<Input> {
        states
            .iter()
            .map(|&(state, priority)| Input { state, priority })
            .collect()
    }

    fn m(states: &[(State, u32)], order: Option<&[WanId]>, prefer: Option<WanId>) -> Vec<u32> {
        metrics(&wans(states), order, prefer, P).to_vec()
    }

    #[test]
    fn states_to_metrics() {
        let table: &[(State, u32)] = &[
            (Up, 1),
            (Init, 1),
            (Degraded, 10_001),
            (Down, 20_001),
            (Linkdown, 20_001),
            (Noroute, 20_001),
            (Disabled, 20_001),
        ];
        for &(state, want) in table {
            assert_eq!(m(&[(state, 1)], None, None), [want], "{state}");
        }
    }

    #[test]
    fn all_down_keeps_priority_order_and_no_active() {
        let w = [(Down, 1), (Linkdown, 2), (Noroute, 3)];
        assert_eq!(m(&w, None, None), [20_001, 20_002, 20_003]);
        assert_eq!(active(&wans(&w), &m(&w, None, None), |_| true), None);
    }

    #[test]
    fn degraded_beats_down_and_loses_to_up() {
        let w = [(Degraded, 1), (Down, 2), (Up, 3)];
        let got = m(&w, None, None);
        assert_eq!(got, [10_001, 20_002, 3]);
        assert_eq!(active(&wans(&w), &got, |_| true), Some(2));
    }

    #[test]
    fn prefer_ranks_first_while_usable() {
        let w = [(Up, 1), (Up, 2), (Up, 3)];
        assert_eq!(m(&w, None, Some(2)), [2, 3, 1]);
        // degraded preferred is still first
        assert_eq!(m(&[(Up, 1), (Degraded, 2)], None, Some(1)), [2, 1]);
        // down preferred: ignored
        assert_eq!(m(&[(Up, 1), (Down, 2)], None, Some(1)), [1, 20_002]);
    }

    #[test]
    fn order_replaces_priorities_by_rank() {
        let w = [(Up, 10), (Up, 20), (Up, 30), (Up, 5)];
        // named: 2 then 0; unnamed follow by priority: 3 (5), 1 (20)
        assert_eq!(m(&w, Some(&[2, 0]), None), [2, 4, 1, 3]);
        // duplicates and unknown ids are ignored
        assert_eq!(m(&w, Some(&[2, 2, 9]), None), [3, 4, 1, 2]);
        assert_eq!(m(&w, Some(&[2, 0]), Some(1)), [3, 1, 2, 4]);
    }

    #[test]
    fn only_a_wan_with_routes_of_the_family_can_be_active() {
        let w = [(Up, 1), (Up, 2), (Down, 3)];
        let got = m(&w, None, None);
        assert_eq!(active(&wans(&w), &got, |i| i != 0), Some(1));
        assert_eq!(active(&wans(&w), &got, |i| i == 2), None, "down");
    }

    #[test]
    fn metrics_never_collide() {
        // a penalty equal to a priority gap would collide without the uniqueness pass
        let p = Penalties {
            degraded: 1,
            down: 2,
        };
        let got = metrics(
            &wans(&[(Degraded, 1), (Up, 2), (Down, 1), (Up, 3)]),
            None,
            None,
            p,
        );
        let mut sorted = got.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), got.len(), "{got:?}");
        assert!(got.iter().all(|&x| x >= 1));
    }
}

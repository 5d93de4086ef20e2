//! The `balance` feature's half of the routing decision: `[[policy]]` rules with their
//! kill switch, balance mode's weighted multipath default, and what `status` shows of
//! both. Without the feature the parent's stand-in decides none of it.

use std::net::IpAddr;

use heapless::Vec as HVec;

use super::{rule, Object, WanView, KILL_POLICY_PRIORITY, POLICY_PRIORITY};
use crate::config::{Mode, Sticky, MAX_WANS};
use crate::engine::report::{MultipathHop, PolicyStatus, RoutingStatus};
use crate::engine::wan::Link;
use crate::engine::{Engine, Family, WanId};

/// One next hop of the multipath default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    pub ifindex: u32,
    pub gateway: Option<IpAddr>,
    pub weight: u16,
}

impl Object {
    /// Replaced whole in one step (`NLM_F_REPLACE`), never deleted first.
    pub(crate) fn is_multipath(&self) -> bool {
        matches!(self, Object::Multipath { .. })
    }
}

impl Engine {
    /// Kill switches, policy rules and the multipath defaults the kernel should hold.
    pub(super) fn balance_objects(&self, views: &[[WanView; 2]], out: &mut Vec<Object>) {
        let r = &self.routing.config;
        for (i, wr) in r.wans.iter().enumerate() {
            for family in [Family::V4, Family::V6] {
                let kill = r.policies.iter().any(|p| {
                    p.wan_index == i && !p.fallback && p.family().map_or(true, |f| f == family)
                });
                if kill && self.entries.get(i).is_some_and(|e| e.manages(family)) {
                    out.push(Object::Unreachable {
                        family,
                        table: wr.table,
                    });
                }
            }
        }
        self.policy_rules(views, out);
        for family in [Family::V4, Family::V6] {
            if let Some(hops) = self.multipath(views, family) {
                if self.multipath_slot_free(family) {
                    out.push(Object::Multipath { family, hops });
                }
            }
        }
    }

    /// Whether the multipath route of `family` can go in: it is there already, or no
    /// default route a WAN's reconciler sees sits at its metric. At start a DHCP client's
    /// metric-0 default holds the slot until the reconciler has moved it; adding before
    /// that only earns `EEXIST` and the retry's wait.
    fn multipath_slot_free(&self, family: Family) -> bool {
        let metric = super::MULTIPATH_METRIC[family.index()];
        let had = self
            .routing
            .have
            .iter()
            .any(|h| matches!(h, Object::Multipath { family: f, .. } if *f == family));
        had || !self
            .reconcilers()
            .filter(|s| s.family == family)
            .any(|s| s.held_metrics().any(|m| m == metric))
    }

    fn policy_rules(&self, views: &[[WanView; 2]], out: &mut Vec<Object>) {
        let r = &self.routing.config;
        for (k, p) in r.policies.iter().enumerate() {
            let (Some(wr), Some(e)) = (r.wans.get(p.wan_index), self.entries.get(p.wan_index))
            else {
                continue;
            };
            for family in [Family::V4, Family::V6] {
                if !e.manages(family) || p.family().is_some_and(|f| f != family) {
                    continue;
                }
                let usable = views
                    .get(p.wan_index)
                    .is_some_and(|v| v[family.index()].usable);
                // fallback: the rule goes with the WAN; else it stays, over the kill switch
                if !usable && p.fallback {
                    continue;
                }
                let base = if p.fallback {
                    POLICY_PRIORITY
                } else {
                    KILL_POLICY_PRIORITY
                };
                let mut rule = rule(family, base + k as u32, wr.table);
                rule.src = p.source;
                rule.dst = p.destination;
                rule.ip_proto = p.protocol.map(|proto| proto.number(family));
                rule.sport = p.sport;
                rule.dport = p.dport;
                rule.fwmark = p.fwmark;
                rule.iif = p.iif.clone();
                out.push(Object::Rule(rule));
            }
        }
    }

    /// Balance mode's next hops of `family`: every usable WAN with its weight, when two or
    /// more are (with one, its failover route suffices).
    pub(super) fn multipath(&self, views: &[[WanView; 2]], family: Family) -> Option<Vec<Hop>> {
        let r = &self.routing.config;
        if r.mode != Mode::Balance || self.stopping {
            return None;
        }
        let hops: Vec<Hop> = views
            .iter()
            .zip(&r.wans)
            .filter_map(|(v, wr)| {
                let v = v[family.index()];
                let (ifindex, gateway) = v.basis.filter(|_| v.usable)?;
                Some(Hop {
                    ifindex,
                    gateway,
                    weight: wr.weight,
                })
            })
            .collect();
        (hops.len() >= 2).then_some(hops)
    }

    /// The policies among `moved` WANs' that still pin their flows (their rule is in
    /// force): a flush leaves those flows alone.
    pub(super) fn pinned(&self, views: &[[WanView; 2]], moved: &HVec<WanId, MAX_WANS>) -> Vec<u8> {
        (self.routing.config.policies.iter().enumerate())
            .filter(|(_, p)| moved.iter().any(|&w| usize::from(w) == p.wan_index))
            .filter(|(_, p)| {
                let v = views.get(p.wan_index);
                v.is_some_and(|v| v.iter().any(|f| f.usable)) || !p.fallback
            })
            .filter_map(|(k, _)| u8::try_from(k).ok())
            .collect()
    }

    /// `status`'s mode, sticky, multipath in force and policies.
    pub(super) fn balance_status(&self, views: &[[WanView; 2]], s: &mut RoutingStatus) {
        let r = &self.routing.config;
        let name = |i: usize| {
            self.entries
                .get(i)
                .map_or(String::new(), |e| e.name.clone())
        };
        let in_force = [Family::V4, Family::V6].into_iter().find_map(|f| {
            self.routing.have.iter().find_map(|h| match h {
                Object::Multipath { family, hops } if *family == f => Some(hops),
                _ => None,
            })
        });
        let wan_of = |ifindex: u32| {
            self.entries
                .iter()
                .position(|e| matches!(e.link(), Link::Present { ifindex: i, .. } if i == ifindex))
        };
        s.multipath = in_force.map_or_else(Vec::new, |hops| {
            hops.iter()
                .map(|h| MultipathHop {
                    wan: wan_of(h.ifindex).map_or_else(|| format!("#{}", h.ifindex), name),
                    weight: h.weight,
                })
                .collect()
        });
        s.policies = r
            .policies
            .iter()
            .map(|p| {
                let usable = views.get(p.wan_index).is_some_and(|v| {
                    [Family::V4, Family::V6]
                        .into_iter()
                        .filter(|f| p.family().map_or(true, |pf| pf == *f))
                        .any(|f| v[f.index()].usable)
                });
                PolicyStatus {
                    name: p.name.clone(),
                    wan: p.wan.clone(),
                    uses: (usable || !p.fallback).then(|| p.wan.clone()),
                    blocked: !usable && !p.fallback,
                }
            })
            .collect();
        if r.mode == Mode::Balance {
            s.mode = "balance".into();
            s.sticky = Some(
                match r.sticky {
                    Sticky::Flow => "flow",
                    Sticky::Source => "source",
                }
                .into(),
            );
        }
    }
}

//! The `balance` feature's half of the routing part: the kill switch's `unreachable`
//! routes, the multipath default, the policies a flush leaves alone, and the multipath
//! hash sysctls. Without the feature the parent's stand-in keeps a previous run's sysctl
//! originals in the state file untouched and writes none of this.

use std::path::Path;

use super::super::state::SavedSysctl;
use crate::config::{Mode, Policy, Routing as Config};
use crate::engine::route::{RTPROT_WANFAILOVER, RT_TABLE_MAIN};
use crate::engine::routing::{Hop, Object, KILL_METRIC, MULTIPATH_METRIC};
use crate::engine::Family;
use crate::sys::netlink::conntrack::policy_covers;
use crate::sys::netlink::conntrack::Entry;
use crate::sys::netlink::message::{
    emit_multipath, emit_unreachable, MultipathOp, MultipathRoute, Nexthop, RouteMsg, RouteOp,
    UnreachableRoute,
};
use crate::sys::sysctl::{Key, Saved, Sysctls};

/// The kernel's multipath hash settings, set in balance mode and restored otherwise.
pub(super) struct HashSettings(Sysctls);

impl HashSettings {
    /// `saved`: the originals a previous run kept in the state file.
    pub(super) fn new(saved: &[SavedSysctl]) -> HashSettings {
        let entries = saved
            .iter()
            .filter_map(|s| {
                let key = Key::ALL.into_iter().find(|k| k.name() == s.name);
                if key.is_none() {
                    log::warn!("state file: unknown setting {} ignored", s.name);
                }
                Some((key?, s.value))
            })
            .collect();
        HashSettings(Sysctls::at(
            Path::new("/proc/sys"),
            Saved::from_entries(entries),
        ))
    }

    /// Balance mode's hash settings, or the originals back in failover mode.
    pub(super) fn apply(&mut self, config: &Config) {
        let r = if config.mode == Mode::Balance {
            self.0.apply(config.sticky)
        } else {
            self.0.restore()
        };
        if let Err(e) = r {
            log::warn!("sysctl: {e}");
        }
    }

    /// The originals to keep in the state file.
    pub(super) fn saved(&self) -> Vec<SavedSysctl> {
        let entries = self.0.saved().entries().iter();
        entries
            .map(|&(key, value)| SavedSysctl {
                name: key.name(),
                value,
            })
            .collect()
    }

    /// On exit: the settings as they were before the first start.
    pub(super) fn restore(&mut self) {
        if let Err(e) = self.0.restore() {
            log::warn!("sysctl: {e}");
        }
    }
}

/// The policies a flush keeps the flows of (`keep`: their indexes in the config).
pub(super) fn pinned(config: &Config, keep: &[u8]) -> Vec<Policy> {
    keep.iter()
        .filter_map(|&k| config.policies.get(usize::from(k)).cloned())
        .collect()
}

/// `entry` is a flow one of `keep` pins to its WAN.
pub(super) fn pinned_flow(keep: &[Policy], entry: &Entry) -> bool {
    keep.iter().any(|p| policy_covers(p, &entry.orig))
}

/// The request for a kill switch or a multipath default; `add`: `None` deletes,
/// `Some(true)` replaces.
pub(super) fn emit(buf: &mut Vec<u8>, obj: &Object, add: Option<bool>, seq: u32) {
    match obj {
        Object::Unreachable { family, table } => {
            let op = add.map_or(RouteOp::Del, |_| RouteOp::Add);
            let route = UnreachableRoute {
                family: *family,
                table: *table,
                metric: KILL_METRIC,
                protocol: RTPROT_WANFAILOVER,
            };
            emit_unreachable(buf, op, &route, seq);
        }
        Object::Multipath { family, hops } => {
            let op = match add {
                None => MultipathOp::Del,
                Some(false) => MultipathOp::Add,
                Some(true) => MultipathOp::Replace,
            };
            let nexthops: Vec<Nexthop> = hops
                .iter()
                .map(|h| Nexthop {
                    ifindex: h.ifindex,
                    gateway: h.gateway,
                    weight: h.weight,
                })
                .collect();
            let route = MultipathRoute {
                family: *family,
                table: RT_TABLE_MAIN,
                metric: MULTIPATH_METRIC[family.index()],
                protocol: RTPROT_WANFAILOVER,
                nexthops: &nexthops,
            };
            emit_multipath(buf, op, &route, seq);
        }
        Object::Rule(_) | Object::Table(_) => {}
    }
}

/// A protocol-87 multipath default or kill switch of ours.
pub(super) fn from_route(r: &RouteMsg, family: Family) -> Option<Object> {
    if r.table == RT_TABLE_MAIN && r.multipath {
        let hops = r.nexthops.iter().map(|n| Hop {
            ifindex: n.ifindex,
            gateway: n.gateway,
            weight: n.weight,
        });
        return Some(Object::Multipath {
            family,
            hops: hops.collect(),
        });
    }
    (r.table != RT_TABLE_MAIN && r.kind == libc::RTN_UNREACHABLE && r.metric == KILL_METRIC)
        .then_some(Object::Unreachable {
            family,
            table: r.table,
        })
}

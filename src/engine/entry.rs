//! One managed WAN as the engine holds it: the state machine plus the reconcilers of
//! the families it manages.

use super::reconcile::{Reconciler, Want};
use super::wan::{Link, Wan};
use super::{Family, Instant};
use crate::config::{self, Gateway};

/// One managed WAN: its state machine and a reconciler per managed family (`[v4, v6]`).
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) wan: Wan,
    pub(super) reconcilers: [Option<Reconciler>; 2],
}

impl Entry {
    pub(super) fn new(cfg: &config::Wan, now: Instant) -> Entry {
        let mut entry = Entry {
            wan: Wan::new(cfg, now),
            reconcilers: [None, None],
        };
        entry.configure_reconcilers(cfg, &mut Vec::new());
        entry
    }

    /// Create, update or retire the reconcilers after (re)configuration.
    pub(super) fn configure_reconcilers(
        &mut self,
        cfg: &config::Wan,
        retiring: &mut Vec<Reconciler>,
    ) {
        for family in [Family::V4, Family::V6] {
            let managed = Family::managed_by(cfg.family).contains(&family);
            let gateway = match cfg.gateway {
                Gateway::Addr(a) if (a.is_ipv4()) == (family == Family::V4) => Some(a),
                _ => None,
            };
            let slot = &mut self.reconcilers[(family).index()];
            match (managed, slot.take()) {
                (true, Some(mut s)) => {
                    s.set_config_gateway(gateway);
                    *slot = Some(s);
                }
                (true, None) => *slot = Some(Reconciler::new(family, gateway)),
                (false, Some(mut s)) => {
                    s.begin_restore();
                    retiring.push(s);
                }
                (false, None) => {}
            }
        }
    }

    pub(super) fn want(&self, metric: u32) -> Want {
        let (ifindex, admin_up) = match self.wan.link() {
            Link::Unknown => (None, true),
            Link::Gone => (None, false),
            Link::Present {
                ifindex, admin_up, ..
            } => (Some(ifindex), admin_up),
        };
        Want {
            metric,
            ifindex,
            admin_up,
        }
    }
}

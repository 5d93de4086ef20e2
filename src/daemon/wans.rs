//! The WAN table of the shell: what each configured WAN is called, which interface it runs
//! on, and where that interface is in the kernel right now. The engine must not know
//! ifindexes of its own accord and the parts of the shell must agree on them, so they live
//! here, indexed like the engine's table (config order, [`WanId`]).
//!
//! The kernel part writes the facts ([`Wan::ifindex`], [`Wan::addresses_epoch`]); the probe
//! part follows them with its sockets.

use std::time::Duration;

use crate::config::{Config, FamilySet, Priority};
use crate::engine::WanId;

/// One configured WAN as the shell knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wan {
    pub name: String,
    pub interface: String,
    pub families: FamilySet,
    /// `priority = "auto"`: the engine needs the kind of device the interface is.
    pub auto_priority: bool,
    /// Probe timeout, for the prober's purge of stale entries.
    pub probe_timeout: Duration,
    /// The interface's ifindex while it exists.
    pub ifindex: Option<u32>,
    /// Counts changes of the interface's addresses: a probe socket keeps the source address
    /// it was opened with, so it is rebuilt when this moves.
    pub addresses_epoch: u32,
}

impl Wan {
    fn new(wan: &crate::config::Wan) -> Wan {
        Wan {
            name: wan.name.clone(),
            interface: wan.interface.clone(),
            families: wan.family,
            auto_priority: wan.priority == Priority::Auto,
            probe_timeout: wan.probe.timeout,
            ifindex: None,
            addresses_epoch: 0,
        }
    }

    /// Whether `other` is the same WAN on the same interface and families (a reload kept it).
    pub fn same_place(&self, other: &Wan) -> bool {
        self.name == other.name
            && self.interface == other.interface
            && self.families == other.families
    }
}

/// All WANs, indexed by [`WanId`].
#[derive(Debug, Default)]
pub struct Wans {
    list: Vec<Wan>,
    /// Bumped by every reload: ids may mean other WANs afterwards.
    generation: u32,
}

impl Wans {
    pub fn new(config: &Config) -> Wans {
        Wans {
            list: config.wans.iter().map(Wan::new).collect(),
            generation: 0,
        }
    }

    /// After a reload: the new config order, keeping what is known of the interfaces of
    /// WANs that stayed in place.
    pub fn reconfigure(&mut self, config: &Config) {
        let old = std::mem::take(&mut self.list);
        for wan in &config.wans {
            let mut new = Wan::new(wan);
            if let Some(kept) = old.iter().find(|o| o.same_place(&new)) {
                new.ifindex = kept.ifindex;
                new.addresses_epoch = kept.addresses_epoch;
            }
            self.list.push(new);
        }
        self.generation = self.generation.wrapping_add(1);
    }

    /// Changes whenever ids may have moved (see [`Wans::reconfigure`]).
    pub fn generation(&self) -> u32 {
        self.generation
    }

    pub fn get(&self, id: WanId) -> Option<&Wan> {
        self.list.get(usize::from(id))
    }

    pub fn get_mut(&mut self, id: WanId) -> Option<&mut Wan> {
        self.list.get_mut(usize::from(id))
    }

    /// Every WAN with its id, in config order.
    pub fn iter(&self) -> impl Iterator<Item = (WanId, &Wan)> {
        // Config validation caps WANs at MAX_WANS (32), far below u8::MAX.
        self.list.iter().enumerate().map(|(i, w)| (i as WanId, w))
    }

    /// The name of a WAN; empty for an unknown id.
    pub fn name(&self, id: WanId) -> &str {
        self.get(id).map_or("", |w| w.name.as_str())
    }

    /// The WANs on this interface name (normally one; config forbids duplicates).
    pub fn on_interface<'a>(&'a self, name: &'a str) -> impl Iterator<Item = WanId> + 'a {
        self.iter()
            .filter(move |(_, w)| w.interface == name)
            .map(|(id, _)| id)
    }

    /// The WANs currently bound to this ifindex.
    pub fn on_ifindex(&self, ifindex: u32) -> impl Iterator<Item = WanId> + '_ {
        self.iter()
            .filter(move |(_, w)| w.ifindex == Some(ifindex))
            .map(|(id, _)| id)
    }
}

//! What the shell knows about each WAN that the engine must not: the interface's current
//! ifindex and the probe sockets bound to it.

use crate::config::{Config, FamilySet};
use crate::engine::{Family, WanId};
use crate::sys::icmp::{self, Prober};

/// One configured WAN in the shell.
pub struct Binding {
    pub name: String,
    pub interface: String,
    pub families: FamilySet,
    /// The interface's ifindex while it exists.
    pub ifindex: Option<u32>,
    /// Probe sockets, `[IPv4, IPv6]`; `None` where the family is not managed, the interface
    /// is missing, or opening failed (then `open_error` says why).
    probers: [Option<Prober>; 2],
    open_error: [Option<String>; 2],
    /// Probe timeout, for the prober's purge of stale entries.
    pub timeout: std::time::Duration,
}

pub fn families(set: FamilySet) -> &'static [Family] {
    match set {
        FamilySet::Ipv4 => &[Family::V4],
        FamilySet::Ipv6 => &[Family::V6],
        FamilySet::Both => &[Family::V4, Family::V6],
    }
}

impl Binding {
    pub fn new(wan: &crate::config::Wan) -> Binding {
        Binding {
            name: wan.name.clone(),
            interface: wan.interface.clone(),
            families: wan.family,
            ifindex: None,
            probers: [None, None],
            open_error: [None, None],
            timeout: wan.probe.timeout,
        }
    }

    pub fn families(&self) -> &'static [Family] {
        families(self.families)
    }

    /// (Re)opens the probe sockets for every managed family. A socket bound to a vanished
    /// interface would report total loss forever, so this runs on every link re-creation
    /// and address change. Failures are remembered and logged once per cause.
    pub fn reopen_probers(&mut self) {
        for &family in families(self.families) {
            let i = family.index();
            if self.ifindex.is_none() {
                self.probers[i] = None;
                continue;
            }
            // An existing prober reopens in place and keeps its identifier and outstanding
            // probes, so replies already on their way still count. On failure it is dropped:
            // its socket may be bound to an interface that is gone.
            let result = match self.probers[i].take() {
                Some(mut p) => p.reopen().map(|()| p),
                None => Prober::open(&self.interface, family).map(|p| {
                    if p.kind() != icmp::SocketKind::Raw {
                        log::info!(
                            "{}: raw {family} socket refused, probing with a ping socket",
                            self.name
                        );
                    }
                    p
                }),
            };
            match result {
                Ok(p) => {
                    self.open_error[i] = None;
                    self.probers[i] = Some(p);
                }
                Err(e) => {
                    let msg = e.to_string();
                    if self.open_error[i].as_deref() != Some(msg.as_str()) {
                        log::warn!(
                            "{}: cannot open {family} probe socket on {}: {msg}",
                            self.name,
                            self.interface
                        );
                    }
                    self.open_error[i] = Some(msg);
                }
            }
        }
    }

    pub fn close_probers(&mut self) {
        self.probers = [None, None];
    }

    pub fn prober(&mut self, family: Family) -> Option<&mut Prober> {
        self.probers[family.index()].as_mut()
    }

    pub fn probers(&self) -> impl Iterator<Item = &Prober> {
        self.probers.iter().flatten()
    }

    pub fn probers_mut(&mut self) -> impl Iterator<Item = &mut Prober> {
        self.probers.iter_mut().flatten()
    }
}

/// All WANs, indexed like the engine's table (config order).
#[derive(Default)]
pub struct Bindings {
    pub wans: Vec<Binding>,
}

impl Bindings {
    pub fn new(config: &Config) -> Bindings {
        Bindings {
            wans: config.wans.iter().map(Binding::new).collect(),
        }
    }

    /// After a reload: bindings in the new config order, keeping the sockets of WANs that
    /// stayed on the same interface.
    pub fn rebind(&mut self, config: &Config) {
        let mut old: Vec<Binding> = std::mem::take(&mut self.wans);
        for wan in &config.wans {
            let kept = old
                .iter()
                .position(|b| {
                    b.name == wan.name && b.interface == wan.interface && b.families == wan.family
                })
                .map(|i| old.swap_remove(i));
            let mut b = kept.unwrap_or_else(|| Binding::new(wan));
            b.timeout = wan.probe.timeout;
            self.wans.push(b);
        }
    }

    pub fn get(&mut self, id: WanId) -> Option<&mut Binding> {
        self.wans.get_mut(usize::from(id))
    }

    pub fn name(&self, id: WanId) -> &str {
        self.wans
            .get(usize::from(id))
            .map_or("", |b| b.name.as_str())
    }

    /// The WANs on this interface name (normally one; config forbids duplicates).
    pub fn by_interface<'a>(&'a self, name: &'a str) -> impl Iterator<Item = WanId> + 'a {
        self.ids()
            .filter(move |&id| self.wans[usize::from(id)].interface == name)
    }

    /// The WANs currently bound to this ifindex.
    pub fn by_ifindex(&self, ifindex: u32) -> impl Iterator<Item = WanId> + '_ {
        self.ids()
            .filter(move |&id| self.wans[usize::from(id)].ifindex == Some(ifindex))
    }

    pub fn ids(&self) -> impl Iterator<Item = WanId> {
        // Config validation caps WANs at MAX_WANS (32), far below u8::MAX.
        (0..self.wans.len()).map(|i| i as WanId)
    }
}

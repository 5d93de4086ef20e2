//! The probe part: one echo socket per WAN and managed family, following the WAN table
//! (a socket bound to a vanished interface would report total loss forever, and one opened
//! before an address change keeps the old source address), sending what the engine asks
//! and turning replies and ICMP errors into engine inputs.

use std::net::IpAddr;

use crate::engine::{Family, Input, Instant, ProbeError, WanId};
use crate::sys::icmp::{self, Prober};

use super::part::{Ctx, Interests, Part, Readiness};
use super::wans::{Wan, Wans};

/// The sockets of one WAN.
struct WanSockets {
    /// The WAN as the sockets were opened for it (interface, families, ifindex, epoch).
    opened_for: Wan,
    /// `[IPv4, IPv6]`; `None` where the family is not managed, the interface is missing,
    /// or opening failed (then `open_error` says why).
    probers: [Option<Prober>; 2],
    open_error: [Option<String>; 2],
}

/// Every WAN's probe sockets, indexed like the WAN table.
#[derive(Default)]
pub struct Probes {
    wans: Vec<WanSockets>,
    /// The WAN table generation the list follows.
    generation: Option<u32>,
}

impl Probes {
    /// Sends one echo request; a failure is returned as the engine's input for it.
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    pub fn send(
        &mut self,
        now: Instant,
        wan: WanId,
        target: u8,
        addr: IpAddr,
        seq: u16,
    ) -> Option<Input> {
        let prober = self
            .wans
            .get_mut(usize::from(wan))
            .and_then(|w| w.probers[Family::of(addr).index()].as_mut());
        let error = match prober {
            Some(p) => p.send(now, target, addr, seq).err()?.probe_error(),
            None => ProbeError::NoSocket,
        };
        Some(Input::ProbeFailed {
            wan,
            target,
            seq,
            error,
        })
    }

    /// Brings the sockets in line with the WAN table: after a reload the list follows the
    /// new order (keeping the sockets of WANs that stayed in place); a WAN whose interface
    /// came, went, was re-created or changed addresses gets its sockets (re)opened.
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    fn follow(&mut self, wans: &Wans) {
        let (list, seen) = (&mut self.wans, &mut self.generation);
        wans.remap(list, seen, |s| &s.opened_for, WanSockets::closed);
        for (sockets, (_, wan)) in self.wans.iter_mut().zip(wans.iter()) {
            sockets.follow(wan);
        }
    }

    /// Reads every ready socket of one WAN (a bounded batch each).
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    fn receive(&mut self, now: Instant, id: WanId, family: Family, ctx: &mut Ctx<'_>) {
        let Some(w) = self.wans.get_mut(usize::from(id)) else {
            return;
        };
        let timeout = w.opened_for.probe_timeout;
        let Some(p) = w.probers[family.index()].as_mut() else {
            return;
        };
        let engine = &mut *ctx.engine;
        let r = p.recv_events(now, timeout, &mut |ev| {
            let input = match ev {
                icmp::Event::Reply(r) => Input::Reply {
                    wan: id,
                    target: r.target_idx,
                    seq: r.seq,
                    received_at: r.received_at,
                },
                icmp::Event::Failed {
                    target_idx, seq, ..
                } => Input::ProbeFailed {
                    wan: id,
                    target: target_idx,
                    seq,
                    error: ProbeError::IcmpError,
                },
            };
            engine.handle(now, input);
        });
        if let Err(e) = r {
            log::warn!("{}: probe socket: {e}; reopening", p.ifname());
            if let Err(e) = p.reopen() {
                log::warn!("{}: {e}", p.ifname());
            }
        }
    }

    /// The open sockets with their WAN, in a fixed order (registration and readiness
    /// are matched by it).
    fn sockets(&self) -> impl Iterator<Item = (WanId, &Prober)> {
        self.wans.iter().enumerate().flat_map(|(i, w)| {
            // Config validation caps WANs at MAX_WANS (32), far below u8::MAX.
            let id = i as WanId;
            w.probers.iter().flatten().map(move |p| (id, p))
        })
    }
}

impl Part for Probes {
    fn prepare(&mut self, _now: Instant, ctx: &mut Ctx<'_>) {
        self.follow(ctx.wans);
    }

    fn register(&mut self, interests: &mut Interests<'_>) {
        for (_, p) in self.sockets() {
            interests.add(p.fd(), false);
        }
    }

    fn on_ready(&mut self, now: Instant, ready: &Readiness<'_>, ctx: &mut Ctx<'_>) {
        // Which sockets are ready, collected first: reading needs them mutably. Bounded by
        // the number of sockets (two per WAN).
        let mut due = heapless::Vec::<(WanId, Family), { 2 * crate::config::MAX_WANS }>::new();
        for ((id, p), (_, r)) in self.sockets().zip(ready.all()) {
            if r.any() {
                let _ = due.push((id, p.family()));
            }
        }
        for (id, family) in due {
            self.receive(now, id, family, ctx);
        }
    }
}

impl WanSockets {
    fn closed(wan: &Wan) -> WanSockets {
        WanSockets {
            opened_for: Wan {
                ifindex: None,
                ..wan.clone()
            },
            probers: [None, None],
            open_error: [None, None],
        }
    }

    /// Reopens or closes the sockets when the WAN's interface or addresses changed.
    fn follow(&mut self, wan: &Wan) {
        let same = self.opened_for.ifindex == wan.ifindex
            && self.opened_for.addresses_epoch == wan.addresses_epoch;
        self.opened_for.probe_timeout = wan.probe_timeout;
        if same {
            return;
        }
        self.opened_for.ifindex = wan.ifindex;
        self.opened_for.addresses_epoch = wan.addresses_epoch;
        if wan.ifindex.is_none() {
            self.probers = [None, None];
        } else {
            self.reopen();
        }
    }

    /// (Re)opens the socket of every managed family. Failures are remembered and logged
    /// once per cause.
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    fn reopen(&mut self) {
        let wan = &self.opened_for;
        for &family in Family::managed_by(wan.families) {
            let i = family.index();
            // An existing prober reopens in place and keeps its identifier and outstanding
            // probes, so replies already on their way still count. On failure it is dropped:
            // its socket may be bound to an interface that is gone.
            let result = match self.probers[i].take() {
                Some(mut p) => p.reopen().map(|()| p),
                None => Prober::open(&wan.interface, family).map(|p| {
                    if p.kind() != icmp::SocketKind::Raw {
                        log::info!(
                            "{}: raw {family} socket refused, probing with a ping socket",
                            wan.name
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
                            wan.name,
                            wan.interface
                        );
                    }
                    self.open_error[i] = Some(msg);
                }
            }
        }
    }
}

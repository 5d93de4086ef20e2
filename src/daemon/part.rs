//! What every part of the shell that owns descriptors looks like to the loop.
//!
//! A part keeps its sockets and their state private. Each turn the loop asks it to catch up
//! ([`Part::prepare`]: its own timers, the WAN table), to name its descriptors
//! ([`Part::register`]) and when it needs the loop ([`Part::poll_at`]); after `poll(2)` it
//! hands the part the readiness of exactly those descriptors ([`Part::on_ready`]), and the
//! part turns what it reads into engine inputs. What only the daemon as a whole can do
//! (stop, reload, reap hooks) a part asks for through [`Asks`].
//!
//! A new kind of socket (an HTTP check, a ctnetlink socket, a metrics listener) is one more
//! part and one more line in `Parts::each`.

use std::os::fd::RawFd;
use std::path::Path;

use crate::config::Settings;
use crate::control::protocol::Counters;
use crate::engine::{Engine, Instant};
use crate::sys::poll::{Poller, Ready};

use super::wans::Wans;

/// What a part may touch besides itself.
pub struct Ctx<'a> {
    pub engine: &'a mut Engine,
    pub wans: &'a mut Wans,
    pub asks: &'a mut Asks,
    /// The daemon's counters when readiness is handed out, but the per-WAN ones (zero in
    /// `prepare`); [`Ctx::full_counters`] adds those.
    pub counters: Counters,
    /// The configuration file, for a reload.
    pub config_path: &'a Path,
    /// A stop is under way: no new work (link counters).
    pub stopping: bool,
}

impl Ctx<'_> {
    /// The `Counters` answer: the daemon's counters with each WAN's.
    pub fn full_counters(&self) -> Counters {
        Counters {
            wans: self.engine.wan_counters(),
            ..self.counters.clone()
        }
    }
}

/// What parts ask of the daemon, carried out after they ran.
#[derive(Debug, Default)]
pub struct Asks {
    /// Give the routes back and exit (SIGTERM, SIGINT, `stop`).
    pub stop: bool,
    /// A new, valid configuration to apply (SIGHUP, `reload`).
    pub reload: Option<Settings>,
    /// A hook process may have exited (SIGCHLD).
    pub reap_hooks: bool,
    /// Route facts went to the engine: the foreign routes it remembers may have changed.
    pub save_routes: bool,
}

/// The descriptors one part registers for a turn.
pub struct Interests<'a> {
    poller: &'a mut Poller,
    owner: u8,
}

impl<'a> Interests<'a> {
    pub fn new(poller: &'a mut Poller, owner: u8) -> Interests<'a> {
        Interests { poller, owner }
    }

    /// Poll `fd` for reading, and for writing too when `write`.
    pub fn add(&mut self, fd: RawFd, write: bool) {
        self.poller.add_for(self.owner, fd, write);
    }

    /// Like [`Interests::add`], but reading only when `read`.
    pub fn add_rw(&mut self, fd: RawFd, read: bool, write: bool) {
        self.poller.add_events(self.owner, fd, read, write);
    }
}

/// The readiness of one part's descriptors, in the order it registered them.
pub struct Readiness<'a> {
    poller: &'a Poller,
    owner: u8,
}

impl<'a> Readiness<'a> {
    pub fn new(poller: &'a Poller, owner: u8) -> Readiness<'a> {
        Readiness { poller, owner }
    }

    /// Every registered descriptor, ready or not, in registration order.
    pub fn all(&self) -> impl Iterator<Item = (RawFd, Ready)> + 'a {
        self.poller.of_owner(self.owner)
    }

    /// Whether any of them is ready.
    pub fn any(&self) -> bool {
        self.all().any(|(_, r)| r.any())
    }
}

/// A part of the shell that owns descriptors.
pub trait Part {
    /// Catches up before the turn's decision pass: timers of its own, the WAN table.
    fn prepare(&mut self, _now: Instant, _ctx: &mut Ctx<'_>) {}

    /// Names the descriptors to poll this turn.
    fn register(&mut self, interests: &mut Interests<'_>);

    /// When the part needs the loop even if none of its descriptors is ready.
    fn poll_at(&self) -> Option<Instant> {
        None
    }

    /// Reads what is ready (a bounded batch) and records it for the engine.
    fn on_ready(&mut self, now: Instant, ready: &Readiness<'_>, ctx: &mut Ctx<'_>);
}

//! The pure decision core.
//!
//! No sockets, no clock, no files, no processes: time and kernel/network facts come in
//! through [`Engine::handle`], decisions come out of [`Engine::poll_action`], and
//! [`Engine::poll_at`] says when the engine must next be polled even if nothing happens.
//!
//! The shell's loop is:
//!
//! ```text
//! loop {
//!     now = clock();
//!     for each ready fd: engine.handle(now, input);
//!     while let Some(action) = engine.poll_action(now) { carry it out }
//!     poll(fds, timeout = engine.poll_at() - now);
//! }
//! ```

pub mod history;
pub mod policy;
pub mod reconcile;
pub mod report;
pub mod route;
pub mod stats;
pub mod time;
pub mod wan;

use std::net::IpAddr;
use std::time::Duration;

use crate::config::Config;

pub use report::{HistoryEntry, WanStatus};
pub use route::{Family, Route};
pub use time::Instant;

/// Index of a WAN in the engine's table (config order). Stable until the next reload;
/// the shell must re-learn ids after `Input::Reload` (see [`Engine::wan_id`]).
pub type WanId = u8;

/// Identifies a route operation so its kernel ACK can be matched.
pub type OpId = u32;

/// Why a route operation failed, as far as the engine cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// `EEXIST`: another route already holds that exact key.
    Exists,
    /// `ESRCH`/`ENOENT` on delete: already gone (treated as done).
    NotFound,
    /// `ENETUNREACH`/`ENODEV`: the gateway or device is not usable right now.
    Unreachable,
    /// Any other errno.
    Other(i32),
}

/// Why a probe failed before a reply could arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeError {
    /// The send failed (errno).
    Send(i32),
    /// No usable probe socket for the WAN (neither raw nor ping sockets could be opened).
    NoSocket,
    /// An ICMP error (unreachable, time exceeded) came back for this probe.
    IcmpError,
}

/// Manual steering from the control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Rank this WAN first while it is not `down`/`linkdown`.
    Prefer(String),
    /// Back to automatic ranking.
    Auto,
    /// New priority order at runtime (names; WANs not named keep their relative order after
    /// the named ones). Not persisted.
    Order(Vec<String>),
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    UnknownWan(String),
    DuplicateWan(String),
}

/// Everything the outside world tells the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The WAN's interface exists with this ifindex and state (dump or RTM_NEWLINK).
    /// A different ifindex than before means the interface was re-created (USB modem replug).
    Link {
        wan: WanId,
        ifindex: u32,
        admin_up: bool,
        carrier: bool,
    },
    /// The WAN's interface does not exist (dump found none, or RTM_DELLINK).
    LinkGone { wan: WanId },
    /// Whether the WAN's interface has a usable address of this family (probes need one).
    Addresses {
        wan: WanId,
        family: Family,
        present: bool,
    },
    /// The complete set of default routes the kernel has in the main table on this WAN's
    /// interface for this family, after a dump or a route event.
    Routes {
        wan: WanId,
        family: Family,
        routes: Vec<Route>,
    },
    /// The kernel answered a route operation.
    RouteDone {
        op: OpId,
        result: Result<(), RouteError>,
    },
    /// A verified echo reply (source, identifier, cookie already checked by the shell).
    Reply {
        wan: WanId,
        target: u8,
        seq: u16,
        received_at: Instant,
    },
    /// A probe failed without a reply.
    ProbeFailed {
        wan: WanId,
        target: u8,
        seq: u16,
        error: ProbeError,
    },
    /// Kernel link counters (IFLA_STATS64) for throughput.
    Counters {
        wan: WanId,
        rx_bytes: u64,
        tx_bytes: u64,
    },
    /// Steering from the control socket.
    Command(Command),
    /// A new, already validated configuration.
    Reload(Config),
    /// Stop: give back foreign routes, remove ours. Afterwards `poll_action` drains the
    /// restore operations and [`Engine::is_stopped`] turns true.
    Shutdown,
}

/// What the kind of a hook event is (`WAN_EVENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    /// The WAN's state changed.
    Transition,
    /// The active WAN (lowest metric) changed.
    Switch,
}

/// Everything the engine asks the shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send one echo request through the WAN to `addr`. Report the reply or failure with
    /// the same `wan`, `target` and `seq`.
    SendProbe {
        wan: WanId,
        target: u8,
        addr: IpAddr,
        seq: u16,
    },
    /// Add this route (`NLM_F_CREATE | NLM_F_EXCL`), answer with `Input::RouteDone`.
    AddRoute { op: OpId, route: Route },
    /// Delete exactly this route, answer with `Input::RouteDone`.
    DelRoute { op: OpId, route: Route },
    /// Run the hooks for this event.
    Hook {
        wan: WanId,
        kind: HookKind,
        state: wan::State,
        previous: wan::State,
        /// The active WAN after the event, if any.
        active: Option<WanId>,
    },
}

/// The engine: all WANs, the policy and the reconciler.
#[derive(Debug)]
pub struct Engine {
    _private: (),
}

impl Engine {
    pub fn new(_config: &Config, _now: Instant) -> Engine {
        Engine { _private: () }
    }

    /// Feed one input.
    pub fn handle(&mut self, _now: Instant, _input: Input) {}

    /// Apply a steering command at once; refused commands change nothing.
    pub fn command(&mut self, _now: Instant, _command: Command) -> Result<(), CommandError> {
        Ok(())
    }

    /// The next thing to do, or `None` until [`Engine::poll_at`] or the next input.
    pub fn poll_action(&mut self, _now: Instant) -> Option<Action> {
        None
    }

    /// When the engine must be polled next even without input.
    pub fn poll_at(&self) -> Option<Instant> {
        None
    }

    /// The id of the WAN with this config name.
    pub fn wan_id(&self, _name: &str) -> Option<WanId> {
        None
    }

    /// One row per WAN, in config order.
    pub fn status(&self, _now: Instant) -> Vec<WanStatus> {
        Vec::new()
    }

    /// Recent transitions and switches, oldest first.
    pub fn history(&self) -> Vec<HistoryEntry> {
        Vec::new()
    }

    /// After `Input::Shutdown`: true once every restore operation has been answered.
    pub fn is_stopped(&self) -> bool {
        true
    }
}

/// Clamp helper shared by the submodules: a `Duration` in whole microseconds.
pub(crate) fn as_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

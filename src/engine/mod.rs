//! The pure decision core.
//!
//! No sockets, no clock, no files, no processes: time and kernel/network facts come in
//! through [`Engine::handle`], decisions come out of [`Engine::poll_action`], and
//! [`Engine::poll_at`] says when the engine must next be polled even if nothing happens.
//!
//! `handle` only records: it applies the fact to the WAN state machines and reconcilers
//! (a probe reply to the statistics, a route dump to the kernel view) and decides nothing.
//! The decision pass (timers, ranking, route reconciliation, hooks) runs once, in
//! `poll_action`, when inputs were recorded since the last pass or a timer is due, however
//! many inputs came in between. That is str0m's and quinn's "record in handle, decide in
//! poll": a burst of kernel facts costs one decision, and the order in which the shell
//! feeds the facts of one turn cannot change what is decided.
//!
//! The shell's loop is:
//!
//! ```text
//! loop {
//!     now = clock();
//!     while let Some(action) = engine.poll_action(now) { carry it out }   // one pass
//!     poll(fds, timeout = engine.poll_at() - now);
//!     for each ready fd: engine.handle(now, input);                      // record
//! }
//! ```

mod decide;
pub mod device;
mod entry;
pub mod health;
pub mod history;
mod input;
pub mod policy;
pub mod reconcile;
pub mod report;
mod round;
pub mod route;
#[cfg(feature = "routing")]
pub mod routing;
pub mod stats;
mod status;
pub mod time;
pub mod wan;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;

use crate::config::{Config, MAX_WANS};
use entry::Entry;
use history::History;
use policy::{Metrics, Penalties};
use reconcile::{Reconciler, Taken};

pub use health::Failure;
pub use report::{
    FamilyStatus, HistoryEntry, MultipathHop, PolicyStatus, RoutingStatus, TargetHealth,
    WanCounters, WanHealth, WanStatus,
};
pub use route::{Family, Route};
pub use time::Instant;

/// Index of a WAN in the engine's table (config order). Stable until the next reload;
/// the shell must re-learn ids after `Input::Reload` (see [`Engine::wan_id`]).
pub type WanId = u8;

/// Identifies a route operation so its kernel ACK can be matched: the shell sends the
/// operation with this number as its netlink sequence number, so the kernel's answer names
/// it. Never 0 (what notifications carry) and always below [`OP_ID_LIMIT`]: the numbers
/// above are the shell's, for its own requests (dumps, link counters).
pub type OpId = u32;

/// Operation ids stay below this (2^31).
pub const OP_ID_LIMIT: OpId = 1 << 31;

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
    /// No answer came within [`reconcile::OP_TIMEOUT`]: the ACK may have been lost (the
    /// request socket overflowed), or the kernel is stuck. Retried like an error.
    Timeout,
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
    /// Rank this WAN first while it is not `down`/`linkdown` (in each family on its own:
    /// a dual-stack WAN whose IPv6 is down is preferred for IPv4 only).
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
    /// The kind of device the WAN's interface is (read when its link appears or is
    /// re-created), for a WAN with `priority = "auto"`.
    Device { wan: WanId, kind: device::Kind },
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
    /// A check the shell ran for [`Action::StartCheck`] finished `at`: passed with the
    /// round trip it measured (the TCP handshake, the DNS answer), or failed with its cause.
    /// Like an echo reply, a pass after its round's deadline counts in the statistics only.
    #[cfg(feature = "checks")]
    CheckDone {
        wan: WanId,
        target: u8,
        seq: u16,
        at: Instant,
        result: Result<Duration, crate::check::Failed>,
    },
    /// Kernel link counters (IFLA_STATS64) for throughput.
    Counters {
        wan: WanId,
        rx_bytes: u64,
        tx_bytes: u64,
    },
    /// Steering from the control socket, already checked with [`Engine::check_command`]
    /// (a command that is no longer valid when it is recorded is logged and dropped).
    Command(Command),
    /// A foreign route a previous run replaced and never gave back (it was killed), read
    /// back from the shell's state file: it goes back on exit. Ignored when a foreign route
    /// is already known for that WAN and family, or the family is not managed.
    ForeignRoute { wan: WanId, route: Route },
    /// A new, already validated configuration.
    Reload(Config),
    /// The routing half of the configuration (DESIGN.md §10), at start and after every
    /// `Reload`; `routing.wans[i]` belongs to WAN `i`. Until it comes nothing is routed
    /// beyond the main table's defaults.
    #[cfg(feature = "routing")]
    Routing(crate::config::Routing),
    /// Every usable address of this family on the WAN's interface (reply rules, the
    /// conntrack flush), after a dump or an address event.
    #[cfg(feature = "routing")]
    WanAddresses {
        wan: WanId,
        family: Family,
        addrs: Vec<IpAddr>,
    },
    /// The rules and routes of protocol 87 the kernel holds at start-up (a run killed
    /// before it cleaned up left them): kept if wanted, else deleted.
    #[cfg(feature = "routing")]
    RoutingState(Vec<routing::Object>),
    /// A rule or route of protocol 87 the kernel deleted (`RTM_DELRULE`,
    /// `RTM_DELROUTE`): one of ours someone else deleted is added again; the echo of the
    /// daemon's own delete changes nothing.
    #[cfg(feature = "routing")]
    RoutingGone(routing::Object),
    /// The kernel answered an [`Action::Routing`].
    #[cfg(feature = "routing")]
    RoutingDone {
        op: OpId,
        result: Result<(), RouteError>,
    },
    /// The shell finished an [`Action::FlushConntrack`]: entries deleted, already gone,
    /// refused.
    #[cfg(feature = "routing")]
    FlushDone {
        deleted: u64,
        gone: u64,
        failed: u64,
    },
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
    /// Every WAN became unusable (the hook's `active` is none: `WAN_CONNECTIVITY=none`), or
    /// one is usable again after that (`full`); balenaOS's system-wide event. Never for the
    /// state found at start-up.
    Connectivity,
}

impl HookKind {
    /// The `EVENT` word hooks get: `transition`, `switch` or `connectivity`.
    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::Transition => "transition",
            HookKind::Switch => "switch",
            HookKind::Connectivity => "connectivity",
        }
    }
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
    /// Run the check of target `target` (an http, dns or tcp target of the WAN's config)
    /// through the WAN, to finish by `deadline`. Report with `Input::CheckDone` and the same
    /// `wan`, `target` and `seq`.
    #[cfg(feature = "checks")]
    StartCheck {
        wan: WanId,
        target: u8,
        seq: u16,
        deadline: Instant,
    },
    /// The WAN's rounds of `family` were cleared (link lost, interface replaced, no route or
    /// address of that family, targets changed by a reload): stop its running checks of
    /// that family, whose results would count for nothing, and forget the host names it
    /// resolved. A dual-stack WAN's other family keeps its checks.
    #[cfg(feature = "checks")]
    CancelChecks { wan: WanId, family: Family },
    /// Add this route, answer with `Input::RouteDone`. Ours go in with
    /// `NLM_F_CREATE | NLM_F_EXCL` (`append: false`): `EEXIST` tells that another route holds
    /// the metric. A foreign route given back goes in with `NLM_F_CREATE | NLM_F_APPEND`
    /// (`append: true`): it may share its key with other routes, as it did when it was found
    /// (two DHCP clients' metric-0 defaults on different devices).
    AddRoute {
        op: OpId,
        route: Route,
        append: bool,
    },
    /// Delete exactly this route, answer with `Input::RouteDone`.
    DelRoute { op: OpId, route: Route },
    /// Change a rule or a route of the routing half; answer with `Input::RoutingDone`.
    #[cfg(feature = "routing")]
    Routing { op: OpId, change: routing::Change },
    /// Delete the conntrack entries of flows source-NATed to `moved` (addresses of WANs
    /// that no longer carry them), except those policy `keep[i]` still pins to its WAN;
    /// answer with `Input::FlushDone`. Spread over turns by the shell.
    #[cfg(feature = "routing")]
    FlushConntrack { moved: Vec<IpAddr>, keep: Vec<u8> },
    /// Run the hooks for this event.
    Hook {
        wan: WanId,
        kind: HookKind,
        /// The family the event is about, for one family of a dual-stack WAN that changed
        /// alone (`state` and `previous` are then that family's), or one family's active
        /// WAN that changed while the other family's did not; `None` for the WAN as a whole.
        family: Option<Family>,
        state: wan::State,
        previous: wan::State,
        /// The active WAN after the event, if any: of `family`, else of the first family
        /// any WAN manages (IPv4, unless only IPv6 is managed).
        active: Option<WanId>,
    },
}

/// The engine: all WANs, the policy and the reconciler.
#[derive(Debug)]
pub struct Engine {
    entries: Vec<Entry>,
    /// Slots of WANs (or families) removed by a reload, giving their routes back.
    retiring: Vec<Reconciler>,
    penalties: Penalties,
    prefer: Option<String>,
    order: Option<Vec<String>>,
    /// Desired metric per WAN, per family (`[v4, v6]`).
    metrics: [Metrics; 2],
    /// The active WAN per family: the lowest metric among those managing it, not down.
    active: [Option<WanId>; 2],
    switch_cause: SwitchCause,
    actions: VecDeque<Action>,
    history: History,
    next_op: OpId,
    stopping: bool,
    taken: Taken,
    /// Decision passes run so far (see [`Engine::decision_passes`]).
    passes: u64,
    /// Changes of the active WAN after the first choice (see [`Engine::switches`]).
    switches: u64,
    /// Whether a WAN was active after the last decision pass (`None` before the first):
    /// the `connectivity` hook fires on its edges.
    connected: Option<bool>,
    /// Inputs were recorded since the last decision pass.
    recorded: bool,
    #[cfg(feature = "routing")]
    routing: routing::State,
}

impl Engine {
    pub fn new(config: &Config, now: Instant) -> Engine {
        if config.wans.len() > MAX_WANS {
            log::error!(
                "{} WANs configured; only the first {MAX_WANS} are managed",
                config.wans.len()
            );
        }
        Engine {
            entries: config
                .wans
                .iter()
                .take(MAX_WANS)
                .map(|w| Entry::new(w, now))
                .collect(),
            retiring: Vec::new(),
            penalties: penalties(config),
            prefer: None,
            order: None,
            metrics: [Metrics::new(), Metrics::new()],
            active: [None, None],
            switch_cause: SwitchCause::StateChange,
            actions: VecDeque::with_capacity(64),
            history: History::default(),
            next_op: 1,
            stopping: false,
            taken: Taken::default(),
            passes: 0,
            switches: 0,
            connected: None,
            recorded: false,
            #[cfg(feature = "routing")]
            routing: routing::State::default(),
        }
    }

    /// Records one input; the decision it calls for comes from the next
    /// [`Engine::poll_action`]. Unknown WAN ids are logged and ignored.
    pub fn handle(&mut self, now: Instant, input: Input) {
        if self.stopping && !input.while_stopping() {
            // no `{input:?}`: its Debug (and the whole `Config`'s) would be linked for this
            // one debug line
            log::debug!("stopping: input ignored");
            return;
        }
        self.dispatch(now, input);
        self.recorded = true;
    }

    /// Whether a steering command can be applied: every name known, none twice. Pure, so
    /// the control socket can answer at once; the command itself then goes in as
    /// [`Input::Command`].
    pub fn check_command(&self, command: &Command) -> Result<(), CommandError> {
        let names: &[String] = match command {
            Command::Prefer(name) => core::slice::from_ref(name),
            Command::Auto => &[],
            Command::Order(names) => names,
        };
        for (i, n) in names.iter().enumerate() {
            if self.wan_id(n).is_none() {
                return Err(CommandError::UnknownWan(n.clone()));
            }
            if names[..i].contains(n) {
                return Err(CommandError::DuplicateWan(n.clone()));
            }
        }
        Ok(())
    }

    /// Checks a steering command and records it ([`Engine::check_command`], then
    /// [`Input::Command`]); refused commands change nothing.
    pub fn command(&mut self, now: Instant, command: Command) -> Result<(), CommandError> {
        self.check_command(&command)?;
        self.handle(now, Input::Command(command));
        Ok(())
    }

    /// The next thing to do, or `None` until [`Engine::poll_at`] or the next input. Runs
    /// the decision pass first when inputs were recorded or a timer is due, at most once a
    /// call.
    pub fn poll_action(&mut self, now: Instant) -> Option<Action> {
        if self.actions.is_empty() && (self.recorded || self.timer_at().is_some_and(|t| t <= now)) {
            self.update(now);
        }
        self.actions.pop_front()
    }

    /// When the engine must be polled next even without input: [`Instant::ZERO`] (at once)
    /// while recorded inputs wait for their decision.
    pub fn poll_at(&self) -> Option<Instant> {
        if self.recorded {
            return Some(Instant::ZERO);
        }
        self.timer_at()
    }

    /// The earliest timer of any WAN or reconciler.
    fn timer_at(&self) -> Option<Instant> {
        let mut at = None;
        if !self.stopping {
            for e in &self.entries {
                at = time::sooner(at, e.poll_at());
            }
        }
        for s in self.reconcilers() {
            at = time::sooner(at, s.poll_at());
        }
        #[cfg(feature = "routing")]
        let at = time::sooner(at, self.routing.poll_at());
        at
    }

    /// The id of the WAN with this config name. Ids are config positions: after
    /// `Input::Reload` the shell must look every id up again.
    pub fn wan_id(&self, name: &str) -> Option<WanId> {
        let i = self.entries.iter().position(|e| e.name == name)?;
        WanId::try_from(i).ok()
    }

    /// Target `target` of WAN `wan`, as the engine's config has it (what an
    /// `Action::StartCheck` names).
    pub fn target(&self, wan: WanId, target: u8) -> Option<&crate::config::Target> {
        let e = self.entries.get(usize::from(wan))?;
        let (w, local) = e.target(target)?;
        w.probe_targets().get(usize::from(local))
    }

    /// The family target `target` of WAN `wan` goes by: its address's, or the WAN's for an
    /// http target that names a host.
    pub fn target_family(&self, wan: WanId, target: u8) -> Option<Family> {
        self.entries.get(usize::from(wan))?.target_family(target)
    }

    /// The foreign routes the engine will give back on exit, per WAN (what the shell
    /// persists so that a restart after a crash still gives them back).
    pub fn foreign_routes(&self) -> Vec<(WanId, Route)> {
        let mut out = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            let Ok(id) = WanId::try_from(i) else { break };
            out.extend(
                e.reconcilers
                    .iter()
                    .flatten()
                    .filter_map(Reconciler::foreign)
                    .map(|r| (id, r)),
            );
        }
        out
    }

    /// Whether a route operation is waiting for the kernel's answer.
    pub fn ops_in_flight(&self) -> bool {
        #[cfg(feature = "routing")]
        if self.routing.in_flight() {
            return true;
        }
        self.reconcilers().any(Reconciler::in_flight)
    }

    /// How many decision passes (timers, ranking, reconciliation, hooks) ran so far: the
    /// benchmark's measure of how much deciding one kernel fact costs.
    pub fn decision_passes(&self) -> u64 {
        self.passes
    }

    /// How often the active WAN changed, not counting the first choice after start-up
    /// (none to the first active WAN): a restart is not a switch.
    pub fn switches(&self) -> u64 {
        self.switches
    }

    /// After `Input::Shutdown`: true once every restore operation has been answered.
    pub fn is_stopped(&self) -> bool {
        #[cfg(feature = "routing")]
        if !self.routing.is_clean() {
            return false;
        }
        self.stopping && self.reconcilers().all(Reconciler::is_done)
    }

    /// Every reconciler: each WAN's per family, then the retiring ones.
    fn reconcilers(&self) -> Reconcilers<'_> {
        Reconcilers {
            entries: &self.entries,
            slot: 0,
            retiring: self.retiring.iter(),
        }
    }
}

/// The iterator of [`Engine::reconcilers`]: one plain `next` shared by all its users,
/// where a flattening chain would put its front and back state in each of them.
struct Reconcilers<'a> {
    entries: &'a [Entry],
    /// The next slot to look at: WAN `slot / 2`, family index `slot % 2`.
    slot: usize,
    retiring: core::slice::Iter<'a, Reconciler>,
}

impl<'a> Iterator for Reconcilers<'a> {
    type Item = &'a Reconciler;

    fn next(&mut self) -> Option<&'a Reconciler> {
        while let Some(e) = self.entries.get(self.slot / 2) {
            let slot = e.reconcilers[self.slot % 2].as_ref();
            self.slot += 1;
            if slot.is_some() {
                return slot;
            }
        }
        self.retiring.next()
    }
}

impl Input {
    /// Kernel answers still count once a stop began: they finish the clean-up.
    fn while_stopping(&self) -> bool {
        #[cfg(feature = "routing")]
        if matches!(self, Input::RoutingDone { .. } | Input::FlushDone { .. }) {
            return true;
        }
        matches!(self, Input::Routes { .. } | Input::RouteDone { .. })
    }
}

impl core::fmt::Display for CommandError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CommandError::UnknownWan(n) => write!(f, "unknown WAN {n:?}"),
            CommandError::DuplicateWan(n) => write!(f, "WAN {n:?} named twice"),
        }
    }
}

impl std::error::Error for CommandError {}

/// Why the active WAN changed, as the history and the log say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchCause {
    StateChange,
    Prefer,
    Auto,
    Order,
    Reload,
}

impl SwitchCause {
    pub fn as_str(self) -> &'static str {
        match self {
            SwitchCause::StateChange => "state change",
            SwitchCause::Prefer => "prefer",
            SwitchCause::Auto => "auto",
            SwitchCause::Order => "order",
            SwitchCause::Reload => "reload",
        }
    }
}

fn penalties(config: &Config) -> Penalties {
    Penalties {
        degraded: config.degraded_penalty,
        down: config.down_penalty,
    }
}

fn wan_id(i: usize) -> WanId {
    // entries never exceed MAX_WANS (32), so the index fits
    WanId::try_from(i).unwrap_or(WanId::MAX)
}

/// Clamp helper shared by the submodules: a `Duration` in whole microseconds.
pub(crate) fn as_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;

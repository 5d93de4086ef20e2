//! The daemon: one thread, one `poll(2)`.
//!
//! The shell is made of parts that own descriptors and keep their state to themselves
//! (`part::Part`): the signals, the kernel (rtnetlink sockets and the kernel view), the
//! control socket, the probe sockets, the metrics listener and (feature `checks`) the
//! HTTP, DNS and TCP checks. Every turn of the loop
//!
//! 1. reads the clock and lets each part catch up (its timers, the WAN table);
//! 2. runs one decision pass of the engine for everything recorded since the last turn,
//!    and carries out its actions: probes to the probe part, checks to the checks part,
//!    route operations to the kernel part, hooks to the hook runner;
//! 3. waits on every part's descriptors until the earliest deadline anyone has;
//! 4. hands each part the readiness of its descriptors; the part reads a bounded batch
//!    and records what it learned as engine inputs (nothing is decided yet);
//! 5. does what the parts asked of the daemon as a whole: stop, reload, reap hooks,
//!    write the foreign routes to the state file.
//!
//! Sockets are non-blocking and drained in bounded batches, so no peer (the kernel, a probe
//! target or a control client) can hold the loop.
//!
//! # Code size
//!
//! The big steps that run once or seldom (`start`, `run_loop`, `reload`, `finish`,
//! `decide`, opening the kernel part and the routing sockets, the probe part's readers,
//! the state file, starting a check, the hook spawner) are `#[inline(never)]`. Inlined,
//! LLVM merges them into one function of some 28 KB (`run`) and one of 11 KB
//! (`Hooks::advance`) that come out bigger than the pieces kept apart: measured on the
//! aarch64-musl release binary, about -3 KB failover only, -3.7 KB everything on. This is the
//! compiler's inlining and outlining at work, not the code's, so the choice was measured
//! function by function (marking more, such as the kernel part's readers, costs bytes
//! again) and is worth measuring again with a new Rust.

mod actions;
#[cfg(feature = "checks")]
mod checks;
mod control;
mod kernel;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(not(feature = "metrics"))]
#[path = "metrics_off.rs"]
mod metrics;
pub mod notify;
mod part;
mod persist;
mod probes;
#[cfg(feature = "routing")]
mod routing;
pub mod signals;
pub mod state;
mod wans;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{self, Config};
use crate::control::protocol::Counters;
use crate::control::server;
use crate::engine::{Engine, Input, Instant};
use crate::hooks::Hooks;
use crate::sys::netlink;
use crate::sys::poll::{monotonic_now, Poller};

#[cfg(feature = "checks")]
use self::checks::Checks;
use self::control::Control;
use self::kernel::Kernel;
use self::metrics::Metrics;
use self::notify::Notifier;
use self::part::{Asks, Ctx, Interests, Part, Readiness};
use self::persist::SavedRoutes;
use self::probes::Probes;
use self::signals::Signals;
use self::wans::Wans;

/// How long the start-up dump of links, addresses and routes may take.
const SYNC_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a stop may take to give routes back before the daemon exits anyway.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// `wanfailover daemon` options.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    /// Overrides the config's `socket`.
    pub socket: Option<PathBuf>,
}

/// Why the daemon could not start or had to stop. Each is one line for the user.
#[derive(Debug)]
pub enum Error {
    Config(config::Errors),
    Privileges(String),
    Signals(io::Error),
    Control(server::Error),
    #[cfg(feature = "metrics")]
    Metrics(crate::metrics::server::Error),
    Netlink(netlink::Error),
    #[cfg(feature = "routing")]
    Routing(io::Error),
    Poll(io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Config(e) => write!(f, "{e}"),
            Error::Privileges(e) => write!(f, "{e}"),
            Error::Signals(e) => write!(f, "cannot set up signal handling: {e}"),
            Error::Control(e) => write!(f, "control socket: {e}"),
            #[cfg(feature = "metrics")]
            Error::Metrics(e) => write!(f, "{e}"),
            Error::Netlink(e) => write!(f, "rtnetlink: {e}"),
            #[cfg(feature = "routing")]
            Error::Routing(e) => write!(f, "routing: rules and tables: {e}"),
            Error::Poll(e) => write!(f, "poll: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// The parts that own descriptors, in the order they are polled.
struct Parts {
    signals: Signals,
    kernel: Kernel,
    control: Control,
    probes: Probes,
    metrics: Metrics,
    #[cfg(feature = "checks")]
    checks: Checks,
    #[cfg(feature = "routing")]
    routing: routing::Routing,
}

/// How many parts there are.
const PARTS: usize = 5 + cfg!(feature = "checks") as usize + cfg!(feature = "routing") as usize;

impl Parts {
    /// Every part. A new kind of socket is one more field and one more entry here.
    fn each(&mut self) -> [&mut dyn Part; PARTS] {
        [
            &mut self.signals,
            &mut self.kernel,
            &mut self.control,
            &mut self.probes,
            &mut self.metrics,
            #[cfg(feature = "checks")]
            &mut self.checks,
            #[cfg(feature = "routing")]
            &mut self.routing,
        ]
    }
}

/// A part's number in [`Parts::each`]: the owner tag of its descriptors.
fn owner(i: usize) -> u8 {
    // a handful of parts
    u8::try_from(i).unwrap_or(u8::MAX)
}

struct Daemon {
    config_path: PathBuf,
    /// What a reload cannot change before the next start: the socket in use, and the
    /// socket group and metrics listener the last configuration asked for.
    start_only: StartOnly,
    engine: Engine,
    wans: Wans,
    parts: Parts,
    hooks: Hooks,
    notifier: Notifier,
    saved: SavedRoutes,
    asks: Asks,
    /// Inputs that carrying out actions produced (a failed send), recorded after the
    /// actions are drained so that one turn of the loop runs one decision pass.
    feedback: Vec<Input>,
    /// Set once a stop was asked for: the time by which the daemon exits regardless.
    stop_by: Option<Instant>,
    ready_sent: bool,
    poller: Poller,
    started_at: Instant,
}

/// Runs the daemon until SIGTERM/SIGINT or `wanfailover stop`, then gives every route back.
#[inline(never)] // code size: see "Code size" in the daemon module doc
pub fn run(options: Options) -> Result<(), Error> {
    let settings = config::load_settings(&options.config).map_err(Error::Config)?;
    let mut config = settings.config;
    if let Some(socket) = &options.socket {
        config.socket = socket.clone();
    }
    check_privileges()?;
    // Block the signals before anything else, so none can arrive unhandled.
    let signals = Signals::open().map_err(Error::Signals)?;
    let control =
        Control::bind(&config.socket, config.socket_group.as_deref()).map_err(Error::Control)?;
    let metrics = Metrics::bind(config.metrics_listen)?;
    let now = monotonic_now();
    let kernel = Kernel::open(SYNC_TIMEOUT, now).map_err(Error::Netlink)?;
    let saved = SavedRoutes::beside(&config.socket);
    #[cfg(feature = "routing")]
    let (routing, leftovers) =
        routing::Routing::open(settings.routing.clone(), &saved.sysctls(), SYNC_TIMEOUT)
            .map_err(Error::Routing)?;
    warn_about_sysctls(&config);
    log::info!(
        "wanfailover {} managing {} WAN(s); control socket {}",
        env!("CARGO_PKG_VERSION"),
        config.wans.len(),
        control.path().display()
    );
    let now = monotonic_now();
    let mut daemon = Daemon {
        engine: Engine::new(&config, now),
        wans: Wans::new(&config),
        parts: Parts {
            signals,
            kernel,
            control,
            probes: Probes::default(),
            metrics,
            #[cfg(feature = "checks")]
            checks: Checks::default(),
            #[cfg(feature = "routing")]
            routing,
        },
        hooks: Hooks::new(config.hooks_dir.clone(), config.hook_timeout),
        notifier: Notifier::from_env(now),
        saved,
        asks: Asks::default(),
        feedback: Vec::new(),
        stop_by: None,
        ready_sent: false,
        poller: Poller::default(),
        started_at: now,
        config_path: options.config,
        start_only: StartOnly::of(config),
    };
    #[cfg(feature = "routing")]
    {
        daemon.engine.handle(now, Input::Routing(settings.routing));
        daemon.engine.handle(now, Input::RoutingState(leftovers));
    }
    daemon.start(now);
    daemon.run_loop()?;
    daemon.finish();
    log::info!("stopped");
    Ok(())
}

/// The context the parts get: everything but the parts themselves and the poll set.
macro_rules! ctx {
    ($d:expr) => {
        Ctx {
            engine: &mut $d.engine,
            wans: &mut $d.wans,
            asks: &mut $d.asks,
            counters: Counters::default(),
            config_path: &$d.config_path,
            stopping: $d.stop_by.is_some(),
        }
    };
}

impl Daemon {
    /// The foreign routes a killed run left, then everything the kernel view knows.
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    fn start(&mut self, now: Instant) {
        let kernel = &self.parts.kernel;
        self.saved
            .restore(now, &mut self.engine, |name| kernel.ifindex_of(name));
        self.parts.kernel.feed_all(now, &mut ctx!(self));
        self.save_state();
    }

    /// The state file: foreign routes, and the sysctl originals of balance mode.
    fn save_state(&mut self) {
        #[cfg(feature = "routing")]
        self.saved.set_sysctls(self.parts.routing.saved_sysctls());
        self.saved.save(&self.engine, &self.wans);
    }

    #[inline(never)] // code size: see "Code size" in the daemon module doc
    fn run_loop(&mut self) -> Result<(), Error> {
        loop {
            let now = monotonic_now();
            for part in self.parts.each() {
                part.prepare(now, &mut ctx!(self));
            }
            self.decide(now);
            self.housekeeping(now);
            if self.stopped(now) {
                return Ok(());
            }
            self.poller.clear();
            for (i, part) in self.parts.each().into_iter().enumerate() {
                part.register(&mut Interests::new(&mut self.poller, owner(i)));
            }
            let timeout = self.wake_at().map(|at| at.saturating_since(now));
            self.poller.wait(timeout).map_err(Error::Poll)?;
            let now = monotonic_now();
            let counters = self.counters(now);
            let mut ctx = ctx!(self);
            ctx.counters = counters;
            for (i, part) in self.parts.each().into_iter().enumerate() {
                let ready = Readiness::new(&self.poller, owner(i));
                if ready.any() {
                    part.on_ready(now, &ready, &mut ctx);
                }
            }
            self.carry_out_asks(now);
        }
    }

    /// The earliest time anyone needs the loop, besides descriptors.
    fn wake_at(&mut self) -> Option<Instant> {
        let parts = self.parts.each().into_iter().filter_map(|p| p.poll_at());
        let own = [
            self.engine.poll_at(),
            self.hooks.poll_at(),
            self.notifier.poll_at(),
            self.stop_by,
        ];
        parts.chain(own.into_iter().flatten()).min()
    }

    /// What the daemon counts, for `status --json` (the per-WAN counters are the engine's,
    /// added by whoever answers: see `Ctx::full_counters`).
    fn counters(&self, now: Instant) -> Counters {
        let uptime = now.saturating_since(self.started_at).as_millis();
        let mut c = Counters {
            decision_passes: self.engine.decision_passes(),
            switches: self.engine.switches(),
            uptime_ms: u64::try_from(uptime).unwrap_or(u64::MAX),
            ..Counters::default()
        };
        self.parts.kernel.count_into(&mut c);
        c
    }

    /// What the parts asked for in this turn.
    fn carry_out_asks(&mut self, now: Instant) {
        if std::mem::take(&mut self.asks.save_routes) {
            self.save_state();
        }
        if let Some(settings) = self.asks.reload.take() {
            self.reload(now, settings);
        }
        if std::mem::take(&mut self.asks.stop) {
            self.begin_stop(now);
        }
        if std::mem::take(&mut self.asks.reap_hooks) {
            self.hooks.reap(now);
        }
    }

    /// Timers of the daemon's own: hooks, the watchdog and systemd readiness.
    fn housekeeping(&mut self, now: Instant) {
        self.hooks.reap(now);
        self.notifier.tick(now);
        let settled = !self.engine.ops_in_flight() && !self.parts.kernel.dump_pending();
        if !self.ready_sent && settled {
            self.ready_sent = true;
            self.notifier.send("READY=1");
        }
    }

    /// Applies a new, valid configuration.
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    fn reload(&mut self, now: Instant, settings: config::Settings) {
        let new = settings.config;
        let start_only = &mut self.start_only;
        if new.socket != start_only.socket || new.socket_group != start_only.socket_group {
            log::warn!("reload: socket and socket_group changes take effect at the next start");
        }
        if new.metrics_listen != start_only.metrics_listen {
            log::warn!("reload: a metrics_listen change takes effect at the next start");
        }
        start_only.socket_group.clone_from(&new.socket_group);
        start_only.metrics_listen = new.metrics_listen;
        self.notifier.send("RELOADING=1");
        self.wans.reconfigure(&new);
        self.hooks
            .reconfigure(new.hooks_dir.clone(), new.hook_timeout);
        // the engine takes the configuration itself: no copy of it stays here
        self.engine.handle(now, Input::Reload(new));
        #[cfg(feature = "routing")]
        {
            self.parts.routing.reconfigure(settings.routing.clone());
            self.engine.handle(now, Input::Routing(settings.routing));
        }
        self.parts.kernel.feed_all(now, &mut ctx!(self));
        self.save_state();
        self.notifier.send("READY=1");
        log::info!("configuration reloaded from {}", self.config_path.display());
    }

    fn begin_stop(&mut self, now: Instant) {
        if self.stop_by.is_none() {
            log::info!("stopping: giving routes back");
            self.notifier.send("STOPPING=1");
            self.stop_by = Some(now + STOP_GRACE);
            self.engine.handle(now, Input::Shutdown);
        }
    }

    /// True once a stop has finished giving routes back (or ran out of time).
    fn stopped(&self, now: Instant) -> bool {
        match self.stop_by {
            None => false,
            Some(by) if now >= by => {
                log::warn!("stop: routes not all given back within {STOP_GRACE:?}");
                true
            }
            Some(_) => self.engine.is_stopped(),
        }
    }

    /// After the loop: hooks are killed, and the state file goes once every foreign route
    /// is back.
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    fn finish(&mut self) {
        self.hooks.kill_all();
        #[cfg(feature = "routing")]
        {
            self.parts.routing.restore_sysctls();
            self.saved.set_sysctls(self.parts.routing.saved_sysctls());
        }
        self.saved.finish(&self.engine, &self.wans);
    }
}

/// What of the configuration a reload cannot change (see [`Daemon::reload`]).
struct StartOnly {
    socket: PathBuf,
    socket_group: Option<String>,
    metrics_listen: Option<std::net::SocketAddr>,
}

impl StartOnly {
    fn of(config: Config) -> StartOnly {
        StartOnly {
            socket: config.socket,
            socket_group: config.socket_group,
            metrics_listen: config.metrics_listen,
        }
    }
}

/// Route changes need CAP_NET_ADMIN; without it nothing here can work, so say so at once.
/// Raw probe sockets need CAP_NET_RAW; without it the probers fall back to ping sockets.
fn check_privileges() -> Result<(), Error> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let Some(caps) = effective_caps(&status) else {
        return Ok(());
    };
    const CAP_NET_ADMIN: u32 = 12;
    const CAP_NET_RAW: u32 = 13;
    if caps & (1 << CAP_NET_ADMIN) == 0 {
        return Err(Error::Privileges(
            "missing privileges: changing routes needs CAP_NET_ADMIN (run as root or grant it)"
                .into(),
        ));
    }
    if caps & (1 << CAP_NET_RAW) == 0 {
        log::warn!("no CAP_NET_RAW: probes use ping sockets (net.ipv4.ping_group_range must include our group)");
    }
    Ok(())
}

/// `CapEff` from `/proc/self/status`.
fn effective_caps(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

/// Start-up warnings for settings that silently defeat failover.
fn warn_about_sysctls(config: &Config) {
    for wan in &config.wans {
        if wan.family != config::FamilySet::Ipv6 {
            if let Some(w) = crate::sys::icmp::rp_filter_warning(&wan.interface) {
                log::warn!("{}: {w}", wan.name);
            }
        }
    }
    let linkdown =
        std::fs::read_to_string("/proc/sys/net/ipv4/conf/all/ignore_routes_with_linkdown");
    if linkdown.map(|s| s.trim() == "0").unwrap_or(false) {
        log::info!(
            "net.ipv4.conf.all.ignore_routes_with_linkdown=0: the kernel may still use a route on a \
             link without carrier until the daemon re-ranks it (milliseconds); set it to 1 to close that gap"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_caps_parsing() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        assert_eq!(effective_caps(status), Some(0x1ff_ffff_ffff));
        assert_eq!(effective_caps("CapEff:\tzz\n"), None);
        assert_eq!(effective_caps(""), None);
    }
}

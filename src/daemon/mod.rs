//! The daemon: one thread, one `poll(2)`.
//!
//! Every turn reads the clock, carries out what the engine wants done now, waits on every
//! descriptor (signalfd, the two netlink sockets, the control listener and its clients,
//! the probe sockets) until the earliest deadline anyone has, then feeds what arrived to
//! the engine. Sockets are non-blocking and drained in bounded batches, so no peer — the
//! kernel, a probe target or a control client — can hold the loop.

mod core;
mod kernel;
pub mod notify;
mod persist;
pub mod signals;
pub mod state;
mod wans;

use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{self, Config};
use crate::control::server::{self, Interest, Server};
use crate::engine::{Instant, WanId};
use crate::sys::netlink::{self, Netlink, View};
use crate::sys::poll::{monotonic_now, Poller};

use self::core::Core;
use self::signals::Signals;

/// How long the start-up dump of links, addresses and routes may take.
const SYNC_TIMEOUT: Duration = Duration::from_secs(5);

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
    Netlink(netlink::Error),
    Poll(io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Config(e) => write!(f, "{e}"),
            Error::Privileges(e) => write!(f, "{e}"),
            Error::Signals(e) => write!(f, "cannot set up signal handling: {e}"),
            Error::Control(e) => write!(f, "control socket: {e}"),
            Error::Netlink(e) => write!(f, "rtnetlink: {e}"),
            Error::Poll(e) => write!(f, "poll: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Who owns a slot of the poll set.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Signals,
    Netlink,
    Control,
    Probe(WanId),
}

struct Daemon {
    core: Core,
    server: Server,
    signals: Signals,
    poller: Poller,
    slots: Vec<Slot>,
    interests: Vec<Interest>,
}

/// Runs the daemon until SIGTERM/SIGINT or `wanfailover stop`, then gives every route back.
pub fn run(options: Options) -> Result<(), Error> {
    let mut config = config::load(&options.config).map_err(Error::Config)?;
    if let Some(socket) = &options.socket {
        config.socket = socket.clone();
    }
    check_privileges()?;
    // Block the signals before anything else, so none can arrive unhandled.
    let signals = Signals::open().map_err(Error::Signals)?;
    let server =
        Server::bind(&config.socket, config.socket_group.as_deref()).map_err(Error::Control)?;
    let mut nl = Netlink::open().map_err(Error::Netlink)?;
    let mut view = View::new();
    nl.sync(&mut view, SYNC_TIMEOUT).map_err(Error::Netlink)?;
    warn_about_sysctls(&config);
    let now = monotonic_now();
    let mut core = Core::new(options.config, config, nl, view, now);
    core.restore_saved(now);
    core.feed_all(now);
    log::info!(
        "wanfailover {} managing {} WAN(s); control socket {}",
        env!("CARGO_PKG_VERSION"),
        core.config.wans.len(),
        server.path().display()
    );
    let mut daemon = Daemon {
        core,
        server,
        signals,
        poller: Poller::default(),
        slots: Vec::new(),
        interests: Vec::new(),
    };
    daemon.run_loop()?;
    daemon.core.finish();
    log::info!("stopped");
    Ok(())
}

impl Daemon {
    fn run_loop(&mut self) -> Result<(), Error> {
        loop {
            let now = monotonic_now();
            // One decision pass for everything the last turn recorded, then the shell's
            // own timers (which record nothing for the engine).
            self.core.drain_engine(now);
            self.core.timers(now);
            self.server.expire(now);
            if self.core.stopped(now) {
                return Ok(());
            }
            self.fill_poller();
            let wake_at = [self.core.poll_at(), self.server.poll_at()]
                .into_iter()
                .flatten()
                .min();
            let timeout = wake_at.map(|at| at.saturating_since(now));
            self.poller.wait(timeout).map_err(Error::Poll)?;
            self.dispatch(monotonic_now());
        }
    }

    fn fill_poller(&mut self) {
        self.poller.clear();
        self.slots.clear();
        self.poller.add(self.signals.as_raw_fd(), false);
        self.slots.push(Slot::Signals);
        for fd in [self.core.nl.event_fd(), self.core.nl.request_fd()] {
            self.poller.add(fd, false);
            self.slots.push(Slot::Netlink);
        }
        self.interests.clear();
        self.server.poll_fds(&mut self.interests);
        for i in &self.interests {
            self.poller.add(i.fd, i.write);
            self.slots.push(Slot::Control);
        }
        // No allocation here: this runs on every turn of the loop.
        for (i, b) in self.core.wans.wans.iter().enumerate() {
            // Config validation caps WANs at MAX_WANS (32), far below u8::MAX.
            let id = i as WanId;
            for p in b.probers() {
                self.poller.add(p.fd(), false);
                self.slots.push(Slot::Probe(id));
            }
        }
    }

    fn dispatch(&mut self, now: Instant) {
        let mut netlink_ready = false;
        for slot in 0..self.poller.len() {
            let ready = self.poller.ready(slot);
            if !ready.any() {
                continue;
            }
            match self.slots[slot] {
                Slot::Signals => self.on_signals(now),
                Slot::Netlink => netlink_ready = true,
                Slot::Control => {
                    let core = &mut self.core;
                    let mut handler = |req, peer: &_| core.on_request(now, req, peer);
                    let readable = ready.readable || ready.error;
                    let writable = ready.writable || ready.error;
                    self.server.handle_ready(
                        self.poller.fd(slot),
                        readable,
                        writable,
                        now,
                        &mut handler,
                    );
                }
                Slot::Probe(id) => self.core.on_probe(now, id),
            }
        }
        if netlink_ready {
            self.core.on_netlink(now);
        }
    }

    fn on_signals(&mut self, now: Instant) {
        let mut events = heapless::Vec::<signals::Event, 8>::new();
        let r = self.signals.drain(&mut |e| {
            if !events.contains(&e) {
                let _ = events.push(e);
            }
        });
        if let Err(e) = r {
            log::warn!("signalfd: {e}");
        }
        for e in events {
            match e {
                signals::Event::Stop => self.core.begin_stop(now),
                signals::Event::Reload => {
                    if let Err(e) = self.core.reload(now) {
                        log::error!("{e}");
                    }
                }
                signals::Event::ChildExited => self.core.hooks.reap(now),
            }
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
        if wan.family != crate::config::FamilySet::Ipv6 {
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

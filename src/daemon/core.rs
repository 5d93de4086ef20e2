//! The daemon's state apart from the descriptors it polls: the engine and everything that
//! translates between it and the kernel, the probe sockets, the hooks and systemd.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{self, Config};
use crate::control::protocol::{Counters, Request, Response};
use crate::control::Peer;
use crate::engine::{
    wan, Action, Command, Engine, Family, HookKind, Input, Instant, ProbeError, RouteError, WanId,
};
use crate::hooks::{event_name, HookEvent, Hooks};
use crate::sys::icmp;
use crate::sys::netlink::{Change, Netlink, Seq, View};

use super::notify::Notifier;
use super::state;
use super::wans::Bindings;

/// How often link counters are read for the throughput figures.
const COUNTERS_EVERY: Duration = Duration::from_secs(1);
/// How long a stop may take to give routes back before the daemon exits anyway.
const STOP_GRACE: Duration = Duration::from_secs(5);

pub struct Core {
    pub config_path: PathBuf,
    pub config: Config,
    pub engine: Engine,
    pub nl: Netlink,
    pub view: View,
    pub wans: Bindings,
    pub hooks: Hooks,
    pub notifier: Notifier,
    pub state_path: PathBuf,
    pub(super) changes: Vec<Change>,
    /// Inputs that carrying out actions produced (a failed send), recorded after the
    /// actions are drained so that one turn of the loop runs one decision pass.
    feedback: Vec<Input>,
    /// Set once a stop was asked for: the time by which the daemon exits regardless.
    pub stop_by: Option<Instant>,
    ready_sent: bool,
    next_counters_at: Instant,
    pub(super) saved: Vec<state::Saved>,
}

impl Core {
    pub fn new(
        config_path: PathBuf,
        config: Config,
        nl: Netlink,
        view: View,
        now: Instant,
    ) -> Core {
        let state_path = config.socket.with_extension("routes");
        let hooks = Hooks::new(config.hooks_dir.clone(), config.hook_timeout);
        Core {
            config_path,
            engine: Engine::new(&config, now),
            wans: Bindings::new(&config),
            config,
            nl,
            view,
            hooks,
            notifier: Notifier::from_env(now),
            state_path,
            changes: Vec::new(),
            feedback: Vec::new(),
            stop_by: None,
            ready_sent: false,
            next_counters_at: now,
            saved: Vec::new(),
        }
    }

    /// The kernel's answer to a route request: its sequence number is the operation id.
    pub(super) fn on_ack(&mut self, now: Instant, seq: Seq, result: Result<(), RouteError>) {
        self.engine
            .handle(now, Input::RouteDone { op: seq, result });
    }

    /// Reads every ready probe socket of one WAN.
    pub fn on_probe(&mut self, now: Instant, id: WanId) {
        let Some(b) = self.wans.get(id) else { return };
        let timeout = b.timeout;
        // Collected first (the probers borrow the binding); bounded by the probers' own
        // batch size, so nothing is dropped here.
        let mut inputs = heapless::Vec::<Input, { 2 * icmp::RECV_BATCH }>::new();
        for p in b.probers_mut() {
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
                let _ = inputs.push(input);
            });
            if let Err(e) = r {
                log::warn!("{}: probe socket: {e}; reopening", p.ifname());
                if let Err(e) = p.reopen() {
                    log::warn!("{}: {e}", p.ifname());
                }
            }
        }
        for input in inputs {
            self.engine.handle(now, input);
        }
    }

    /// Carries out everything the engine wants done now (one decision pass), then records
    /// what went wrong doing it for the next pass.
    pub fn drain_engine(&mut self, now: Instant) {
        while let Some(action) = self.engine.poll_action(now) {
            match action {
                Action::SendProbe {
                    wan,
                    target,
                    addr,
                    seq,
                } => self.send_probe(now, wan, target, addr, seq),
                Action::AddRoute { op, route, append } => {
                    let sent = if append {
                        self.nl.append_route(&route, op)
                    } else {
                        self.nl.add_route(&route, op)
                    };
                    self.track_op(op, sent);
                }
                Action::DelRoute { op, route } => {
                    let sent = self.nl.del_route(&route, op);
                    self.track_op(op, sent);
                }
                Action::Hook {
                    wan,
                    kind,
                    state,
                    previous,
                    active,
                } => self.hook(now, wan, kind, state, previous, active),
            }
        }
        for input in self.feedback.drain(..) {
            self.engine.handle(now, input);
        }
    }

    /// Queues the hooks for an event; a switch also updates the systemd status line.
    fn hook(
        &mut self,
        now: Instant,
        wan: WanId,
        kind: HookKind,
        state: wan::State,
        previous: wan::State,
        active: Option<WanId>,
    ) {
        let b = self.wans.wans.get(usize::from(wan));
        let active_name = active
            .map(|a| self.wans.name(a).to_string())
            .unwrap_or_default();
        if kind == HookKind::Switch && self.notifier.enabled() {
            let shown = if active.is_some() {
                active_name.as_str()
            } else {
                "none"
            };
            self.notifier.send(&format!("STATUS=active WAN: {shown}"));
        }
        let ev = HookEvent {
            wan: b.map(|b| b.name.clone()).unwrap_or_default(),
            interface: b.map(|b| b.interface.clone()).unwrap_or_default(),
            event: event_name(kind).to_string(),
            state: state.as_str().to_string(),
            previous: previous.as_str().to_string(),
            active: active_name,
        };
        self.hooks.queue(now, ev);
    }

    fn send_probe(
        &mut self,
        now: Instant,
        wan: WanId,
        target: u8,
        addr: std::net::IpAddr,
        seq: u16,
    ) {
        let error = match self.wans.get(wan).and_then(|b| b.prober(Family::of(addr))) {
            Some(p) => match p.send(now, target, addr, seq) {
                Ok(()) => return,
                Err(e) => e.probe_error(),
            },
            None => ProbeError::NoSocket,
        };
        self.feedback.push(Input::ProbeFailed {
            wan,
            target,
            seq,
            error,
        });
    }

    /// A route request that could not even be sent failed with the send's errno.
    fn track_op(&mut self, op: crate::engine::OpId, sent: Result<(), crate::sys::netlink::Error>) {
        if let Err(e) = sent {
            log::warn!("netlink: {e}");
            let errno = e.source.raw_os_error().unwrap_or(libc::EIO);
            let result = Err(RouteError::Other(errno));
            self.feedback.push(Input::RouteDone { op, result });
        }
    }

    /// Timers that are not the engine's: link counters, hooks, the watchdog and systemd
    /// readiness.
    pub fn timers(&mut self, now: Instant) {
        if now >= self.next_counters_at && self.stop_by.is_none() {
            self.next_counters_at = now + COUNTERS_EVERY;
            for ifindex in self
                .wans
                .wans
                .iter()
                .filter_map(|b| b.ifindex)
                .collect::<Vec<_>>()
            {
                if let Err(e) = self.nl.get_link(ifindex) {
                    log::debug!("netlink: {e}");
                }
            }
        }
        self.hooks.reap(now);
        self.notifier.tick(now);
        if !self.ready_sent && !self.engine.ops_in_flight() && !self.nl.dump_pending() {
            self.ready_sent = true;
            self.notifier.send("READY=1");
        }
    }

    /// The earliest time something here needs the loop, besides file descriptors.
    pub fn poll_at(&self) -> Option<Instant> {
        [
            self.engine.poll_at(),
            Some(self.next_counters_at),
            self.hooks.poll_at(),
            self.notifier.poll_at(),
            self.stop_by,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// A request from the control socket (authorization already checked by the server).
    pub fn on_request(&mut self, now: Instant, request: Request, _peer: &Peer) -> Response {
        match request {
            Request::Status => Response::Status(self.engine.status(now)),
            Request::History => Response::History {
                now_us: now.micros,
                entries: self.engine.history(),
            },
            Request::Prefer(name) => self.steer(now, Command::Prefer(name)),
            Request::Auto => self.steer(now, Command::Auto),
            Request::Order(names) => self.steer(now, Command::Order(names)),
            Request::Reload => match self.reload(now) {
                Ok(()) => Response::Ok,
                Err(e) => Response::Error(e),
            },
            Request::Stop => {
                self.begin_stop(now);
                Response::Ok
            }
            Request::Version => Response::Version(env!("CARGO_PKG_VERSION").to_string()),
            Request::Counters => Response::Counters(self.counters()),
        }
    }

    fn counters(&self) -> Counters {
        let nl = self.nl.stats();
        Counters {
            decision_passes: self.engine.decision_passes(),
            route_dumps: nl.route_dumps,
            netlink_overruns: nl.overruns,
            netlink_parse_errors: nl.parse_errors,
            multipath_skipped: self.view.stats().multipath_skipped,
        }
    }

    /// `prefer`/`auto`/`order`: checked and answered at once; the engine decides on it,
    /// and the routes follow, at the top of the next turn, before the loop waits again.
    fn steer(&mut self, now: Instant, command: Command) -> Response {
        let what = format!("{command:?}");
        match self.engine.command(now, command) {
            Ok(()) => {
                log::info!("control: {what}");
                Response::Ok
            }
            Err(e) => Response::Error(e.to_string()),
        }
    }

    /// Re-reads the config. A bad file changes nothing and the reason is returned.
    pub fn reload(&mut self, now: Instant) -> Result<(), String> {
        let new = config::load(&self.config_path)
            .map_err(|e| format!("reload refused, old config stays in force:\n{e}"))?;
        if new.socket != self.config.socket || new.socket_group != self.config.socket_group {
            log::warn!("reload: socket and socket_group changes take effect at the next start");
        }
        self.notifier.send("RELOADING=1");
        self.engine.handle(now, Input::Reload(new.clone()));
        self.wans.rebind(&new);
        self.hooks
            .reconfigure(new.hooks_dir.clone(), new.hook_timeout);
        let socket = std::mem::replace(&mut self.config, new).socket;
        self.config.socket = socket;
        self.feed_all(now);
        self.notifier.send("READY=1");
        log::info!("configuration reloaded from {}", self.config_path.display());
        Ok(())
    }

    pub fn begin_stop(&mut self, now: Instant) {
        if self.stop_by.is_none() {
            log::info!("stopping: giving routes back");
            self.notifier.send("STOPPING=1");
            self.stop_by = Some(now + STOP_GRACE);
            self.engine.handle(now, Input::Shutdown);
        }
    }

    /// True once a stop has finished giving routes back (or ran out of time).
    pub fn stopped(&self, now: Instant) -> bool {
        match self.stop_by {
            None => false,
            Some(by) if now >= by => {
                log::warn!("stop: routes not all given back within {STOP_GRACE:?}");
                true
            }
            Some(_) => self.engine.is_stopped(),
        }
    }
}

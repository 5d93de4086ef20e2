//! The control part: the control socket's listener and clients, and the answers to their
//! requests. Queries are answered from the engine; steering is checked at once (the client
//! hears ok or why not) and recorded as an engine input; reload and stop are asked of the
//! daemon.

use std::path::Path;

use crate::config;
use crate::control::protocol::{Request, Response};
use crate::control::server::{self, Interest, Server};
use crate::engine::{Command, Input, Instant};

use super::part::{Ctx, Interests, Part, Readiness};

pub struct Control {
    server: Server,
    /// The server's descriptors of this turn (kept to reuse the allocation).
    interests: Vec<Interest>,
}

impl Control {
    /// Binds the socket (refusing to replace another daemon's).
    #[inline(never)] // code size: see "Code size" in the daemon module doc
    pub fn bind(path: &Path, group: Option<&str>) -> Result<Control, server::Error> {
        Ok(Control {
            server: Server::bind(path, group)?,
            interests: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        self.server.path()
    }
}

impl Part for Control {
    fn prepare(&mut self, now: Instant, _ctx: &mut Ctx<'_>) {
        self.server.expire(now);
    }

    fn register(&mut self, interests: &mut Interests<'_>) {
        // the list lives in `self`: no allocation per turn
        self.interests.clear();
        self.server.poll_fds(&mut self.interests);
        for i in &self.interests {
            interests.add_rw(i.fd, i.read, i.write);
        }
    }

    fn poll_at(&self) -> Option<Instant> {
        self.server.poll_at()
    }

    fn on_ready(&mut self, now: Instant, ready: &Readiness<'_>, ctx: &mut Ctx<'_>) {
        let mut answer = |request, _peer: &_| answer(now, request, ctx);
        for (fd, r) in ready.all().filter(|(_, r)| r.any()) {
            let readable = r.readable || r.error;
            let writable = r.writable || r.error;
            self.server
                .handle_ready(fd, readable, writable, now, &mut answer);
        }
    }
}

/// A request from the control socket (authorization already checked by the server).
#[inline(never)] // code size: see "Code size" in the daemon module doc
fn answer(now: Instant, request: Request, ctx: &mut Ctx<'_>) -> Response {
    match request {
        Request::Status => Response::Status(ctx.engine.status(now)),
        Request::History => Response::History {
            now_us: now.micros,
            entries: ctx.engine.history(),
        },
        Request::Counters => Response::Counters(ctx.full_counters()),
        Request::Health => Response::Health(ctx.engine.health(now)),
        #[cfg(feature = "routing")]
        Request::Routing => Response::Routing(ctx.engine.routing_status()),
        #[cfg(not(feature = "routing"))]
        Request::Routing => Response::Error("this build has no routing feature".into()),
        Request::Prefer(name) => steer(now, Command::Prefer(name), ctx),
        Request::Auto => steer(now, Command::Auto, ctx),
        Request::Order(names) => steer(now, Command::Order(names), ctx),
        Request::Reload => match load(ctx.config_path) {
            Ok(config) => {
                ctx.asks.reload = Some(config);
                Response::Ok
            }
            Err(e) => Response::Error(e),
        },
        Request::Stop => {
            ctx.asks.stop = true;
            Response::Ok
        }
        Request::Version => Response::Version(env!("CARGO_PKG_VERSION").to_string()),
    }
}

/// `prefer`/`auto`/`order`: checked and answered at once; the engine decides on it, and
/// the routes follow, at the top of the next turn, before the loop waits again.
fn steer(now: Instant, command: Command, ctx: &mut Ctx<'_>) -> Response {
    match ctx.engine.check_command(&command) {
        Ok(()) => {
            log::info!("control: {command:?}");
            ctx.engine.handle(now, Input::Command(command));
            Response::Ok
        }
        Err(e) => Response::Error(e.to_string()),
    }
}

/// Reads the configuration for a reload. A bad file changes nothing; the reason is
/// returned for the user.
pub fn load(path: &Path) -> Result<config::Settings, String> {
    config::load_settings(path)
        .map_err(|e| format!("reload refused, old config stays in force:\n{e}"))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::fd::RawFd;
    use std::os::unix::net::UnixStream;

    use super::*;
    use crate::control::protocol;
    use crate::sys::poll::Poller;

    /// A client that sends requests and never reads the answers ends with an answer pending
    /// and more requests queued: its socket is readable but not writable. The loop must
    /// not wake for it (asking poll for POLLIN did, turn after turn: 100 % CPU until the
    /// write timeout).
    #[test]
    fn a_client_with_an_answer_pending_does_not_wake_the_loop() {
        let dir = std::env::temp_dir().join(format!("wf-ctl-part-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut part = Control::bind(&dir.join("s.sock"), None).expect("bind");
        let mut client = UnixStream::connect(part.path()).unwrap();
        let mut bytes = Vec::new();
        for _ in 0..64 {
            protocol::encode_request(&Request::Status, &mut bytes).unwrap();
        }
        client.write_all(&bytes).unwrap();
        let now = Instant::from_millis(0);
        // answers far larger than the socket buffer, as a big status table would be
        let mut big = |_: Request, _: &_| Response::Error("x".repeat(60_000));
        // turns of the loop, as if every descriptor were ready for what it asked
        for _ in 0..100 {
            let mut interests = Vec::new();
            part.server.poll_fds(&mut interests);
            for i in interests {
                part.server
                    .handle_ready(i.fd, i.read, i.write, now, &mut big);
            }
        }
        let mut poller = Poller::default();
        part.register(&mut Interests::new(&mut poller, 0));
        poller.wait(Some(std::time::Duration::ZERO)).unwrap();
        let woken: Vec<RawFd> = (0..poller.len())
            .filter(|&s| poller.ready(s).any())
            .map(|s| poller.fd(s))
            .collect();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            woken.is_empty(),
            "poll reports descriptors {woken:?} ready though none can make progress"
        );
        drop(client);
    }
}

//! The metrics part: the metrics listener's sockets (`metrics_listen`), answered from the
//! engine, and the hour of history its page draws, sampled from the engine's status rows.
//! Without `metrics_listen` it owns nothing and never wakes the loop.

use std::net::SocketAddr;

use crate::control::server::Interest;
use crate::engine::Instant;
use crate::metrics::server::Server;
use crate::metrics::trend::Trend;

use super::part::{Ctx, Interests, Part, Readiness};

pub struct Metrics {
    server: Option<Server>,
    trend: Trend,
    /// The server's descriptors of this turn (kept to reuse the allocation).
    interests: Vec<Interest>,
}

impl Metrics {
    /// Listens on `addr`, if one is configured.
    pub fn bind(addr: Option<SocketAddr>) -> Result<Metrics, super::Error> {
        let server = addr.map(Server::bind).transpose();
        let server = server.map_err(super::Error::Metrics)?;
        if let Some(s) = &server {
            log::info!("metrics listener on http://{}/", s.local_addr());
        }
        Ok(Metrics {
            server,
            trend: Trend::default(),
            interests: Vec::new(),
        })
    }
}

impl Part for Metrics {
    fn prepare(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        let Some(server) = &mut self.server else {
            return;
        };
        server.expire(now);
        if now >= self.trend.due_at() {
            self.trend.sample(now, &ctx.engine.status(now));
        }
    }

    fn register(&mut self, interests: &mut Interests<'_>) {
        self.interests.clear();
        if let Some(server) = &self.server {
            server.poll_fds(&mut self.interests);
        }
        for i in &self.interests {
            interests.add_rw(i.fd, i.read, i.write);
        }
    }

    fn poll_at(&self) -> Option<Instant> {
        let server = self.server.as_ref()?;
        let sample_at = self.trend.due_at();
        Some(server.poll_at().map_or(sample_at, |at| at.min(sample_at)))
    }

    fn on_ready(&mut self, now: Instant, ready: &Readiness<'_>, ctx: &mut Ctx<'_>) {
        let Some(server) = &mut self.server else {
            return;
        };
        let trend = &self.trend;
        let mut answer = |request, out: &mut Vec<u8>| {
            let status = || {
                let routing = routing_of(ctx.engine);
                (ctx.engine.status(now), ctx.full_counters(), routing)
            };
            crate::metrics::answer(request, now, trend, status, out);
        };
        for (fd, r) in ready.all().filter(|(_, r)| r.any()) {
            let readable = r.readable || r.error;
            let writable = r.writable || r.error;
            server.handle_ready(fd, readable, writable, now, &mut answer);
        }
    }
}

/// The routing half for `/status`, as `status --json` has it; none without the feature.
fn routing_of(engine: &crate::engine::Engine) -> Option<crate::engine::RoutingStatus> {
    #[cfg(feature = "routing")]
    return Some(engine.routing_status());
    #[cfg(not(feature = "routing"))]
    {
        let _ = engine;
        None
    }
}

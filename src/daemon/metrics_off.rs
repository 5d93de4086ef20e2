//! A build without the `metrics` feature: the metrics part owns nothing, and a configured
//! `metrics_listen` is said to have no effect.

use std::net::SocketAddr;

use super::part::{Ctx, Interests, Part, Readiness};
use crate::engine::Instant;

pub struct Metrics;

impl Metrics {
    pub fn bind(addr: Option<SocketAddr>) -> Result<Metrics, super::Error> {
        if let Some(addr) = addr {
            log::warn!(
                "metrics_listen = \"{addr}\" ignored: this build has no metrics listener \
                 (Cargo feature `metrics`)"
            );
        }
        Ok(Metrics)
    }
}

impl Part for Metrics {
    fn register(&mut self, _interests: &mut Interests<'_>) {}

    fn on_ready(&mut self, _now: Instant, _ready: &Readiness<'_>, _ctx: &mut Ctx<'_>) {}
}

//! The one status row fixture, shared by the library's unit tests (`engine::report` includes
//! this file under `cfg(test)`) and the integration tests (`support::status_row`). The
//! parent module brings `WanStatus` and `FamilyStatus` into scope. A new field of the row
//! gets its test default here, and only here.

use super::{FamilyStatus, WanStatus};

/// A WAN that is up and active on `eth0`, with measurements, a receive rate and no
/// families; tests change what they need with struct update syntax
/// (`WanStatus { state: "down".into(), ..status_row("lte") }`).
pub fn status_row(name: &str) -> WanStatus {
    WanStatus {
        name: name.into(),
        interface: "eth0".into(),
        state: "up".into(),
        priority: 1,
        metric: 1,
        active: true,
        preferred: false,
        latency_us: Some(12_345),
        jitter_us: Some(400),
        loss_centi_pct: Some(0),
        rx_bps: Some(1_234_567),
        tx_bps: None,
        since_ms: 192_000,
        late_rounds: 0,
        families: Vec::new(),
        priority_auto: false,
        device: String::new(),
    }
}

/// Setters for what struct update syntax cannot say.
pub trait StatusRowExt {
    /// The row of a single-family WAN: its one family is the WAN.
    fn with_one_family(self, family: &str) -> Self;
}

impl StatusRowExt for WanStatus {
    fn with_one_family(mut self, family: &str) -> WanStatus {
        self.families = vec![FamilyStatus {
            family: family.into(),
            state: self.state.clone(),
            metric: self.metric,
            active: self.active,
            latency_us: self.latency_us,
            jitter_us: self.jitter_us,
            loss_centi_pct: self.loss_centi_pct,
            since_ms: self.since_ms,
        }];
        self
    }
}

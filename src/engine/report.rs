//! What the engine reports to the outside: status rows and history entries. Serializable,
//! because the control protocol carries them as they are.

use serde::{Deserialize, Serialize};

/// One row of `wanfailover status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WanStatus {
    pub name: String,
    pub interface: String,
    /// One of `init up degraded down linkdown noroute disabled`.
    pub state: String,
    pub priority: u32,
    /// The IPv4 (else IPv6) metric the daemon wants for this WAN now.
    pub metric: u32,
    /// Holds the lowest metric: the kernel sends traffic through it.
    pub active: bool,
    /// Preferred by `prefer NAME`.
    pub preferred: bool,
    pub latency_us: Option<u64>,
    pub jitter_us: Option<u64>,
    /// Loss in hundredths of a percent over the statistics window.
    pub loss_centi_pct: Option<u16>,
    pub rx_bps: Option<u64>,
    pub tx_bps: Option<u64>,
    /// Time in the current state.
    pub since_ms: u64,
    /// Probe rounds that started more than a tenth of their interval after they were due
    /// (the loop was busy): the scale benchmark's "no late rounds".
    pub late_rounds: u64,
}

/// A WAN name as people read it: `none` for the empty name (no WAN).
pub fn or_none(name: &str) -> &str {
    if name.is_empty() {
        "none"
    } else {
        name
    }
}

/// One line of `wanfailover history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Engine time of the event (µs since the daemon's clock epoch).
    pub at_us: u64,
    /// `transition` or `switch`.
    pub kind: String,
    pub wan: String,
    /// For a transition: previous state; for a switch: previously active WAN ("" if none).
    pub from: String,
    /// For a transition: new state; for a switch: newly active WAN ("" if none).
    pub to: String,
    pub cause: String,
}

//! What the engine reports to the control socket: a status row per WAN and the history.

use super::entry::Entry;
use super::wan::Wan;
use super::{wan_id, Engine, HistoryEntry, Instant, WanCounters, WanStatus};

impl Engine {
    /// One row per WAN, in config order.
    pub fn status(&self, now: Instant) -> Vec<WanStatus> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| self.row(now, i, &e.wan))
            .collect()
    }

    /// What each WAN counted, in config order.
    pub fn wan_counters(&self) -> Vec<WanCounters> {
        let row = |e: &Entry| {
            let bytes = e.wan.throughput.bytes();
            let tally = e.wan.stats.tally();
            WanCounters {
                name: e.wan.name.clone(),
                rx_bytes: bytes.map(|b| b.0),
                tx_bytes: bytes.map(|b| b.1),
                probes_sent: tally.sent,
                probes_lost: tally.lost,
            }
        };
        self.entries.iter().map(row).collect()
    }

    /// Recent transitions, switches and connectivity changes, oldest first.
    pub fn history(&self) -> Vec<HistoryEntry> {
        self.history.entries()
    }

    fn row(&self, now: Instant, i: usize, wan: &Wan) -> WanStatus {
        let s = wan.summary(now);
        WanStatus {
            name: wan.name.clone(),
            interface: wan.interface.clone(),
            state: wan.state().as_str().into(),
            priority: wan.priority,
            metric: self.metrics.get(i).copied().unwrap_or(0),
            active: self.active == Some(wan_id(i)),
            preferred: self.prefer.as_deref() == Some(wan.name.as_str()),
            latency_us: s.latency_us,
            jitter_us: s.jitter_us,
            loss_centi_pct: s.loss_centi_pct,
            rx_bps: wan.throughput.rx_bps,
            tx_bps: wan.throughput.tx_bps,
            since_ms: u64::try_from(now.saturating_since(wan.since()).as_millis())
                .unwrap_or(u64::MAX),
            late_rounds: wan.late_rounds,
        }
    }
}

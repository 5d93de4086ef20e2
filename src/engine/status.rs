//! What the engine reports to the control socket: a status row per WAN and the history.

use super::device::Kind;
use super::entry::Entry;
use super::report::FamilyStatus;
use super::{wan_id, Engine, Family, HistoryEntry, Instant, WanCounters, WanStatus};
use crate::config::Priority;

impl Engine {
    /// One row per WAN, in config order.
    pub fn status(&self, now: Instant) -> Vec<WanStatus> {
        let priorities = self.priorities();
        let mut rows = Vec::with_capacity(self.entries.len());
        for (i, (e, priority)) in self.entries.iter().zip(priorities).enumerate() {
            rows.push(self.row(now, i, e, priority));
        }
        rows
    }

    /// What each WAN counted, in config order.
    pub fn wan_counters(&self) -> Vec<WanCounters> {
        let mut rows = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            let bytes = e.throughput.bytes();
            // a dual-stack WAN probes through both families: its counts are the sum
            let (mut sent, mut lost) = (0, 0);
            for w in [Family::V4, Family::V6]
                .into_iter()
                .filter_map(|f| e.family(f))
            {
                let t = w.stats.tally();
                (sent, lost) = (sent + t.sent, lost + t.lost);
            }
            rows.push(WanCounters {
                name: e.name.clone(),
                rx_bytes: bytes.map(|b| b.0),
                tx_bytes: bytes.map(|b| b.1),
                probes_sent: sent,
                probes_lost: lost,
            });
        }
        rows
    }

    /// Recent transitions, switches and connectivity changes, oldest first.
    pub fn history(&self) -> Vec<HistoryEntry> {
        self.history.entries()
    }

    fn row(&self, now: Instant, i: usize, e: &Entry, priority: u32) -> WanStatus {
        let mut families = Vec::with_capacity(2);
        for f in [Family::V4, Family::V6] {
            families.extend(self.family_row(now, i, e, f));
        }
        let first = families.first();
        WanStatus {
            name: e.name.clone(),
            interface: e.interface.clone(),
            state: e.state().as_str().into(),
            priority,
            metric: first.map_or(0, |f| f.metric),
            active: self.active_of(None) == Some(wan_id(i)),
            preferred: self.prefer.as_deref() == Some(e.name.as_str()),
            latency_us: first.and_then(|f| f.latency_us),
            jitter_us: first.and_then(|f| f.jitter_us),
            loss_centi_pct: first.and_then(|f| f.loss_centi_pct),
            rx_bps: e.throughput.rx_bps,
            tx_bps: e.throughput.tx_bps,
            since_ms: millis_since(now, e.since()),
            late_rounds: e.late_rounds(),
            families,
            priority_auto: e.priority == Priority::Auto,
            device: match e.priority {
                Priority::Auto => e.device.unwrap_or(Kind::Unknown).as_str().into(),
                Priority::Fixed(_) => String::new(),
            },
        }
    }

    fn family_row(
        &self,
        now: Instant,
        i: usize,
        e: &Entry,
        family: Family,
    ) -> Option<FamilyStatus> {
        let w = e.family(family)?;
        let s = w.summary(now);
        Some(FamilyStatus {
            family: family.as_str().into(),
            state: w.state().as_str().into(),
            metric: self.metrics[family.index()].get(i).copied().unwrap_or(0),
            active: self.active[family.index()] == Some(wan_id(i)),
            latency_us: s.latency_us,
            jitter_us: s.jitter_us,
            loss_centi_pct: s.loss_centi_pct,
            since_ms: millis_since(now, w.since()),
        })
    }
}

fn millis_since(now: Instant, at: Instant) -> u64 {
    u64::try_from(now.saturating_since(at).as_millis()).unwrap_or(u64::MAX)
}

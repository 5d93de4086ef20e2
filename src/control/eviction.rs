//! Evictions from a full control-client table, summarized: a crowd costs one log line per
//! burst (and at most one per [`EVICTION_REPORT_INTERVAL`]), not one per client.

use super::server::{EVICTION_REPORT_DELAY, EVICTION_REPORT_INTERVAL, MAX_CLIENTS};
use crate::engine::Instant;

/// Evictions not yet logged, so that a crowd costs one log line, not one per client.
#[derive(Debug, Default)]
pub(super) struct EvictionLog {
    burst: Option<Burst>,
    /// No summary before this: one [`EVICTION_REPORT_INTERVAL`] after the previous one.
    next_line_at: Instant,
}

/// Evictions close together in time, summarized in one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Burst {
    first_at: Instant,
    last_at: Instant,
    idle: u32,
    mid_answer: u32,
}

impl EvictionLog {
    pub(super) fn record(&mut self, now: Instant, mid_answer: bool) {
        let burst = self.burst.get_or_insert(Burst {
            first_at: now,
            last_at: now,
            idle: 0,
            mid_answer: 0,
        });
        burst.last_at = now;
        let count = if mid_answer {
            &mut burst.mid_answer
        } else {
            &mut burst.idle
        };
        *count = count.saturating_add(1);
    }

    /// When the pending summary is due: [`EVICTION_REPORT_DELAY`] after the burst's last
    /// eviction, or [`EVICTION_REPORT_INTERVAL`] after its first if it never pauses; never
    /// within an interval of the previous line.
    pub(super) fn due_at(&self) -> Option<Instant> {
        let b = self.burst?;
        let settled_at =
            (b.last_at + EVICTION_REPORT_DELAY).min(b.first_at + EVICTION_REPORT_INTERVAL);
        Some(settled_at.max(self.next_line_at))
    }

    /// The burst to log now, if its summary is due.
    pub(super) fn take_due(&mut self, now: Instant) -> Option<Burst> {
        if self.due_at()? > now {
            return None;
        }
        self.next_line_at = now + EVICTION_REPORT_INTERVAL;
        self.burst.take()
    }
}

impl core::fmt::Display for Burst {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let clients = |n: u32| if n == 1 { "client" } else { "clients" };
        match (self.idle, self.mid_answer) {
            (n, 0) => write!(f, "{n} idle {} evicted", clients(n))?,
            (0, m) => write!(f, "{m} slow-reading {} evicted", clients(m))?,
            (n, m) => write!(f, "{n} idle and {m} slow-reading clients evicted")?,
        }
        write!(
            f,
            " to make room: all {MAX_CLIENTS} control connections were taken"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t_ms: u64) -> Instant {
        Instant::from_millis(t_ms)
    }

    /// Feeds evictions `(time ms, mid-answer)` to an [`EvictionLog`], waking like the loop
    /// does (at each eviction and when `poll_at` says), and returns every summary line
    /// written up to `until_ms` with its time.
    fn summaries(evictions: &[(u64, bool)], until_ms: u64) -> Vec<(u64, String)> {
        let mut log = EvictionLog::default();
        let mut pending = evictions.iter().peekable();
        let mut lines = Vec::new();
        loop {
            let next_eviction = pending.peek().map(|(t, _)| ms(*t));
            let wake_at = [next_eviction, log.due_at()].into_iter().flatten().min();
            let Some(now) = wake_at.filter(|t| *t <= ms(until_ms)) else {
                return lines;
            };
            while let Some((t, mid)) = pending.next_if(|(t, _)| ms(*t) <= now) {
                log.record(ms(*t), *mid);
            }
            if let Some(burst) = log.take_due(now) {
                lines.push((now.micros / 1000, burst.to_string()));
            }
        }
    }

    fn every(from_ms: u64, to_ms: u64, step_ms: u64, mid_answer: bool) -> Vec<(u64, bool)> {
        (from_ms..=to_ms)
            .step_by(step_ms as usize)
            .map(|t| (t, mid_answer))
            .collect()
    }

    #[test]
    fn a_burst_is_one_line_once_it_pauses() {
        // 35 silent clients pushed out by a crowd arriving within a third of a second.
        let lines = summaries(&every(0, 340, 10, false), 600_000);
        let text = "35 idle clients evicted to make room: all 16 control connections were taken";
        assert_eq!(lines, [(1_340, text.to_string())]);
    }

    #[test]
    fn a_crowd_that_never_pauses_is_summarized_once_per_interval() {
        let lines = summaries(&every(0, 150_000, 500, false), 600_000);
        let counts: Vec<(u64, &str)> = lines
            .iter()
            .map(|(t, l)| (*t, l.split(' ').next().unwrap()))
            .collect();
        // 301 evictions, none lost: 121 + 121 + 59.
        assert_eq!(counts, [(60_000, "121"), (120_500, "121"), (180_500, "59")]);
    }

    #[test]
    fn bursts_close_together_share_the_interval() {
        let mut evictions = every(0, 100, 10, false);
        evictions.extend([(5_000, true), (5_010, false), (200_000, true)]);
        let lines = summaries(&evictions, 600_000);
        let tail = " to make room: all 16 control connections were taken";
        let expected = [
            (1_100, format!("11 idle clients evicted{tail}")),
            // The second burst waits a full interval after the first line.
            (
                61_100,
                format!("1 idle and 1 slow-reading clients evicted{tail}"),
            ),
            (201_000, format!("1 slow-reading client evicted{tail}")),
        ];
        assert_eq!(lines, expected);
    }

    #[test]
    fn no_evictions_no_wake_up() {
        let mut log = EvictionLog::default();
        assert_eq!(log.due_at(), None);
        assert_eq!(log.take_due(ms(1_000_000)), None);
    }
}

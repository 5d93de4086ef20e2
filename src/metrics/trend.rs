//! The last hour of each WAN, for the status page: [`BUCKETS`] one-minute buckets of
//! latency, loss and state per WAN, filled from the engine's status rows every
//! [`SAMPLE_EVERY`]. Pure: the rows and the time come in. Fixed size: a WAN costs
//! `BUCKETS` small buckets, however long the daemon runs.
//!
//! A sample is what the engine's statistics window says at that moment (mean latency and
//! loss over the last 64 probes) and the WAN's state. A bucket keeps the mean and the
//! highest latency, the highest loss and the worst state of its samples: a minute with a
//! short outage shows the outage. Buckets are aligned to the daemon's monotonic clock (the
//! daemon has no wall clock), and a bucket left over from an hour ago counts as empty.

use std::time::Duration;

use crate::engine::{Instant, WanStatus};

/// Buckets per WAN: an hour.
pub const BUCKETS: usize = 60;
/// What one bucket covers.
pub const BUCKET_SPAN: Duration = Duration::from_secs(60);
/// How often the rows are sampled: 12 samples a minute, each a view over the last 64
/// probes, so no minute goes unseen.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// How well a WAN did, worst last: what a bucket's state strip shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Health {
    /// No sample in the bucket.
    #[default]
    Unknown,
    Up,
    /// `init`: not judged yet.
    Starting,
    /// `disabled` in the configuration.
    Disabled,
    Degraded,
    /// `down`, `linkdown` or `noroute`: not usable.
    Down,
}

impl Health {
    pub fn of(state: &str) -> Health {
        match state {
            "up" => Health::Up,
            "init" => Health::Starting,
            "disabled" => Health::Disabled,
            "degraded" => Health::Degraded,
            "down" | "linkdown" | "noroute" => Health::Down,
            _ => Health::Unknown,
        }
    }

    /// The CSS class and legend word.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Starting => "init",
            Health::Disabled => "disabled",
            Health::Degraded => "degraded",
            Health::Down => "down",
        }
    }
}

/// One minute of one WAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bucket {
    /// Which minute of the daemon's clock the bucket holds.
    minute: u32,
    samples: u8,
    latency_samples: u8,
    latency_sum_us: u32,
    latency_max_us: u32,
    /// Hundredths of a percent; `None` while no sample had a loss figure.
    loss_max_centi: Option<u16>,
    worst: Health,
}

impl Bucket {
    /// Mean latency of the samples that had one.
    pub fn latency_us(&self) -> Option<u32> {
        (self.latency_samples > 0).then(|| self.latency_sum_us / u32::from(self.latency_samples))
    }

    pub fn latency_max_us(&self) -> Option<u32> {
        (self.latency_samples > 0).then_some(self.latency_max_us)
    }

    pub fn loss_max_centi_pct(&self) -> Option<u16> {
        self.loss_max_centi
    }

    pub fn health(&self) -> Health {
        self.worst
    }

    fn add(&mut self, row: &WanStatus) {
        self.samples = self.samples.saturating_add(1);
        if let Some(us) = row.latency_us {
            let us = u32::try_from(us).unwrap_or(u32::MAX);
            self.latency_samples = self.latency_samples.saturating_add(1);
            self.latency_sum_us = self.latency_sum_us.saturating_add(us);
            self.latency_max_us = self.latency_max_us.max(us);
        }
        if let Some(loss) = row.loss_centi_pct {
            self.loss_max_centi = Some(self.loss_max_centi.map_or(loss, |l| l.max(loss)));
        }
        self.worst = self.worst.max(Health::of(&row.state));
    }
}

/// The hour of one WAN.
#[derive(Debug, Clone)]
pub struct Series {
    name: String,
    /// Indexed by minute modulo [`BUCKETS`].
    ring: [Bucket; BUCKETS],
}

impl Series {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The last hour up to the minute of `now`, oldest first, [`BUCKETS`] entries; `None`
    /// for a minute without a sample.
    pub fn minutes(&self, now: Instant) -> impl Iterator<Item = Option<Bucket>> + '_ {
        let current = minute(now);
        (0..BUCKETS as u32).rev().map(move |ago| {
            let m = current.checked_sub(ago)?;
            let b = self.ring[slot(m)];
            (b.minute == m && b.samples > 0).then_some(b)
        })
    }
}

/// Every WAN's hour.
#[derive(Debug, Clone, Default)]
pub struct Trend {
    series: Vec<Series>,
    next_sample_at: Instant,
}

impl Trend {
    /// When [`Trend::sample`] wants the rows next.
    pub fn due_at(&self) -> Instant {
        self.next_sample_at
    }

    /// Records one sample of every row. A WAN no longer in the rows (removed by a reload)
    /// is forgotten; a new one starts empty.
    pub fn sample(&mut self, now: Instant, rows: &[WanStatus]) {
        self.next_sample_at = now + SAMPLE_EVERY;
        self.series
            .retain(|s| rows.iter().any(|r| r.name == s.name));
        let m = minute(now);
        for row in rows {
            let i = match self.series.iter().position(|s| s.name == row.name) {
                Some(i) => i,
                None => {
                    self.series.push(Series {
                        name: row.name.clone(),
                        ring: [Bucket::default(); BUCKETS],
                    });
                    self.series.len() - 1
                }
            };
            let bucket = &mut self.series[i].ring[slot(m)];
            if bucket.minute != m || bucket.samples == 0 {
                *bucket = Bucket {
                    minute: m,
                    ..Bucket::default()
                };
            }
            bucket.add(row);
        }
    }

    /// The hour of the WAN called `name`.
    pub fn series(&self, name: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.name == name)
    }
}

fn minute(at: Instant) -> u32 {
    let span_us = BUCKET_SPAN.as_micros() as u64;
    u32::try_from(at.micros / span_us).unwrap_or(u32::MAX)
}

fn slot(minute: u32) -> usize {
    minute as usize % BUCKETS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, state: &str, latency_us: Option<u64>, loss: Option<u16>) -> WanStatus {
        WanStatus {
            latency_us,
            loss_centi_pct: loss,
            ..crate::engine::report::test_row(name, state, false)
        }
    }

    fn s(secs: u64) -> Instant {
        Instant::from_millis(secs * 1000)
    }

    /// The last `n` minutes of `name` as (mean latency, max latency, max loss, health).
    fn tail(t: &Trend, name: &str, now: Instant, n: usize) -> Vec<Option<(u32, u32, u16, Health)>> {
        let all: Vec<_> = t.series(name).unwrap().minutes(now).collect();
        assert_eq!(all.len(), BUCKETS);
        all[BUCKETS - n..]
            .iter()
            .map(|b| {
                b.map(|b| {
                    let lat = (b.latency_us().unwrap_or(0), b.latency_max_us().unwrap_or(0));
                    (
                        lat.0,
                        lat.1,
                        b.loss_max_centi_pct().unwrap_or(0),
                        b.health(),
                    )
                })
            })
            .collect()
    }

    #[test]
    fn a_minute_keeps_the_mean_the_worst_and_the_worst_state() {
        let mut t = Trend::default();
        assert_eq!(t.due_at(), Instant::ZERO);
        t.sample(s(60), &[row("fiber", "up", Some(10_000), Some(0))]);
        assert_eq!(t.due_at(), s(65));
        t.sample(s(65), &[row("fiber", "down", Some(30_000), Some(5_000))]);
        t.sample(s(70), &[row("fiber", "up", None, Some(100))]);
        // the next minute
        t.sample(s(120), &[row("fiber", "up", Some(1_000), Some(0))]);
        assert_eq!(
            tail(&t, "fiber", s(120), 3),
            [
                None,
                Some((20_000, 30_000, 5_000, Health::Down)),
                Some((1_000, 1_000, 0, Health::Up)),
            ]
        );
    }

    #[test]
    fn an_hour_later_a_slot_is_reused_and_old_minutes_are_empty() {
        let mut t = Trend::default();
        t.sample(s(0), &[row("lte", "degraded", Some(90_000), Some(2_000))]);
        assert_eq!(
            tail(&t, "lte", s(0), 1),
            [Some((90_000, 90_000, 2_000, Health::Degraded))]
        );
        // the same slot, one hour on: the old minute is not mixed in
        let hour = BUCKETS as u64 * 60;
        t.sample(s(hour), &[row("lte", "up", Some(10_000), None)]);
        assert_eq!(
            tail(&t, "lte", s(hour), 1),
            [Some((10_000, 10_000, 0, Health::Up))]
        );
        let minutes: Vec<_> = t.series("lte").unwrap().minutes(s(hour)).collect();
        assert_eq!(minutes.iter().filter(|m| m.is_some()).count(), 1);
        // nothing sampled for two hours: all empty
        let later = t.series("lte").unwrap().minutes(s(3 * hour));
        assert!(later.into_iter().all(|m| m.is_none()));
    }

    #[test]
    fn the_first_hour_after_start_has_no_minutes_before_zero() {
        let mut t = Trend::default();
        t.sample(s(30), &[row("a", "init", None, None)]);
        let minutes: Vec<_> = t.series("a").unwrap().minutes(s(30)).collect();
        assert_eq!(minutes.len(), BUCKETS);
        assert_eq!(
            minutes[BUCKETS - 1].map(|b| b.health()),
            Some(Health::Starting)
        );
        assert!(minutes[..BUCKETS - 1].iter().all(|m| m.is_none()));
    }

    #[test]
    fn wans_come_and_go_with_the_rows() {
        let mut t = Trend::default();
        t.sample(
            s(0),
            &[row("a", "up", None, None), row("b", "up", None, None)],
        );
        t.sample(
            s(5),
            &[row("b", "up", None, None), row("c", "down", None, None)],
        );
        assert!(t.series("a").is_none());
        assert!(t.series("b").is_some() && t.series("c").is_some());
        assert_eq!(t.series("c").unwrap().name(), "c");
    }

    #[test]
    fn huge_values_saturate() {
        let mut t = Trend::default();
        for i in 0..12 {
            t.sample(s(i * 5), &[row("x", "bogus", Some(u64::MAX), Some(10_000))]);
        }
        let b = t
            .series("x")
            .unwrap()
            .minutes(s(55))
            .last()
            .flatten()
            .unwrap();
        assert_eq!(b.latency_max_us(), Some(u32::MAX));
        assert!(b.latency_us().is_some());
        assert_eq!(b.health(), Health::Unknown);
    }
}

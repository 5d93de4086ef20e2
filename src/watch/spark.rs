//! Sparklines: a fixed ring of time buckets per WAN, filled from the status rows the watch
//! loop fetches, drawn as one character per bucket. Pure: time comes in as the span since
//! the watch started.
//!
//! Each bucket keeps the **worst** sample of its span (highest latency, highest loss): a
//! short spike is what a technician looks for, and a mean would hide it. A bucket without
//! any measured sample (no reply yet, link down) is drawn blank; a measured zero is the
//! lowest bar.

use std::time::Duration;

use heapless::Deque;

/// Buckets kept and drawn: one line of 48 characters.
pub const COLUMNS: usize = 48;
/// The shortest bucket span; with a 1 s refresh a line covers 48 × 5 s = 4 minutes.
pub const MIN_BUCKET: Duration = Duration::from_secs(5);

/// Bars from lowest to highest.
const BARS_UTF8: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const BARS_ASCII: [char; 8] = ['_', '.', '-', '~', '=', '+', '*', '#'];

/// The worst samples of one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bucket {
    pub latency_us: Option<u64>,
    pub loss_centi_pct: Option<u16>,
}

impl Bucket {
    fn fold(&mut self, latency_us: Option<u64>, loss_centi_pct: Option<u16>) {
        self.latency_us = max_opt(self.latency_us, latency_us);
        self.loss_centi_pct = max_opt(self.loss_centi_pct, loss_centi_pct);
    }
}

fn max_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// One WAN's recent history: the newest bucket at the back.
#[derive(Debug, Clone)]
pub struct Trend {
    bucket: Duration,
    /// The number of the newest bucket (`elapsed / bucket`), once there is one.
    newest: Option<u64>,
    ring: Deque<Bucket, COLUMNS>,
}

impl Trend {
    /// A trend whose buckets each span `bucket` (at least 1 ms).
    pub fn new(bucket: Duration) -> Trend {
        Trend {
            bucket: bucket.max(Duration::from_millis(1)),
            newest: None,
            ring: Deque::new(),
        }
    }

    /// The bucket span for a refresh interval: the interval, but at least [`MIN_BUCKET`].
    pub fn bucket_for(interval: Duration) -> Duration {
        interval.max(MIN_BUCKET)
    }

    /// How much time a full line covers.
    pub fn window(&self) -> Duration {
        self.bucket * COLUMNS as u32
    }

    /// Adds a sample taken `elapsed` after the watch started. Samples must not go back in
    /// time (one that does is folded into the newest bucket).
    pub fn record(&mut self, elapsed: Duration, latency_us: Option<u64>, loss: Option<u16>) {
        let n = u64::try_from(elapsed.as_millis() / self.bucket.as_millis()).unwrap_or(u64::MAX);
        let skipped = match self.newest {
            None => 1,
            Some(newest) if n > newest => (n - newest).min(COLUMNS as u64),
            Some(_) => 0,
        };
        for _ in 0..skipped {
            if self.ring.is_full() {
                self.ring.pop_front();
            }
            // Cannot fail: a slot was just freed if the ring was full.
            let _ = self.ring.push_back(Bucket::default());
        }
        self.newest = Some(self.newest.map_or(n, |old| old.max(n)));
        if let Some(b) = self.ring.back_mut() {
            b.fold(latency_us, loss);
        }
    }

    /// The buckets, oldest first (at most [`COLUMNS`]).
    pub fn buckets(&self) -> impl Iterator<Item = &Bucket> {
        self.ring.iter()
    }

    /// The highest latency in the window.
    pub fn max_latency_us(&self) -> Option<u64> {
        self.ring.iter().filter_map(|b| b.latency_us).max()
    }

    pub fn max_loss_centi_pct(&self) -> Option<u16> {
        self.ring.iter().filter_map(|b| b.loss_centi_pct).max()
    }
}

/// One line of exactly [`COLUMNS`] characters: blanks for the time before the first
/// bucket and for buckets without a value, otherwise a bar scaled so `top` (clamped to at
/// least 1) is the highest bar. Right-aligned: the newest bucket is the last character.
pub fn line(values: &[Option<u64>], top: u64, utf8: bool) -> String {
    let bars = if utf8 { &BARS_UTF8 } else { &BARS_ASCII };
    let top = top.max(1);
    let shown = &values[values.len().saturating_sub(COLUMNS)..];
    let mut out = String::with_capacity(COLUMNS * 3);
    out.extend(std::iter::repeat(' ').take(COLUMNS - shown.len()));
    for v in shown {
        out.push(match v {
            None => ' ',
            Some(v) => bars[level(*v, top)],
        });
    }
    out
}

/// 0 ..= 7: rounded to the nearest of eight steps between 0 and `top`.
fn level(v: u64, top: u64) -> usize {
    let v = u128::from(v.min(top));
    let top = u128::from(top);
    ((v * 7 + top / 2) / top) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn lat(t: &Trend) -> Vec<Option<u64>> {
        t.buckets().map(|b| b.latency_us).collect()
    }

    #[test]
    fn samples_fold_into_their_bucket_keeping_the_worst() {
        let mut t = Trend::new(5 * S);
        t.record(Duration::ZERO, Some(10), Some(0));
        t.record(4 * S, Some(30), None);
        t.record(4 * S + S / 2, Some(20), Some(100));
        t.record(5 * S, None, None);
        t.record(11 * S, Some(7), Some(0));
        assert_eq!(lat(&t), [Some(30), None, Some(7)]);
        let loss: Vec<Option<u16>> = t.buckets().map(|b| b.loss_centi_pct).collect();
        assert_eq!(loss, [Some(100), None, Some(0)]);
        assert_eq!(t.max_latency_us(), Some(30));
        assert_eq!(t.max_loss_centi_pct(), Some(100));
        assert_eq!(t.window(), 240 * S);
    }

    #[test]
    fn the_ring_keeps_the_last_columns() {
        let mut t = Trend::new(S);
        for i in 0..100u64 {
            t.record(Duration::from_secs(i), Some(i), None);
        }
        let l = lat(&t);
        assert_eq!(l.len(), COLUMNS);
        assert_eq!(l[0], Some(100 - COLUMNS as u64));
        assert_eq!(l[COLUMNS - 1], Some(99));
        // A long gap (the machine slept) empties the line instead of looping forever.
        t.record(Duration::from_secs(1_000_000_000), Some(1), None);
        let l = lat(&t);
        assert_eq!(l.iter().filter(|v| v.is_some()).count(), 1);
        // A sample from the past joins the newest bucket.
        t.record(Duration::ZERO, Some(5), None);
        assert_eq!(lat(&t)[COLUMNS - 1], Some(5));
    }

    #[test]
    fn bucket_span_follows_the_interval() {
        assert_eq!(Trend::bucket_for(S), MIN_BUCKET);
        assert_eq!(Trend::bucket_for(30 * S), 30 * S);
        assert_eq!(
            Trend::new(Duration::ZERO).window(),
            Duration::from_millis(48)
        );
    }

    #[test]
    fn lines_scale_to_the_top_and_align_right() {
        let values = [Some(0), Some(50), Some(100), None, Some(200), Some(25)];
        let pad = " ".repeat(COLUMNS - values.len());
        assert_eq!(line(&values, 100, true), format!("{pad}▁▅█ █▃"));
        assert_eq!(line(&values, 100, false), format!("{pad}_=# #-"));
        assert_eq!(line(&[], 0, true), " ".repeat(COLUMNS));
        let full = vec![Some(1); COLUMNS + 10];
        assert_eq!(line(&full, 1, false), "#".repeat(COLUMNS));
        assert_eq!(line(&[Some(u64::MAX)], u64::MAX, false).trim(), "#");
    }

    #[test]
    fn levels_round_to_the_nearest_step() {
        let got: Vec<usize> = [0, 7, 8, 71, 72, 1000]
            .iter()
            .map(|v| level(*v, 1000))
            .collect();
        assert_eq!(got, [0, 0, 0, 0, 1, 7]);
        assert_eq!(level(5, 1), 7);
    }
}

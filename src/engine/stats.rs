//! Probe statistics over a sliding window, after dpinger's model, and link throughput.
//!
//! The window is a fixed ring of [`WINDOW`] slots indexed by probe sequence number
//! (`seq % WINDOW`; a WAN's sequence numbers are consecutive, so this is send order). A slot
//! is `Empty`, `Sent` or `Received`. A `Sent` slot counts as lost only once it is older than
//! the timeout; a late reply that still finds its slot turns it into `Received`, which undoes
//! the loss in the statistics (the round verdict that already failed stays failed: rounds are
//! judged on time, statistics describe the path).
//!
//! Rounds may overlap (a `timeout` longer than the interval): the window does not know about
//! rounds, each probe is lost only `timeout` after its own send, and replies may arrive in any
//! order. It holds the probes of every outstanding round (at most `MAX_ROUNDS` ×
//! `MAX_TARGETS`, half the window) with room left for decided ones.
//!
//! Jitter is the mean absolute difference between consecutive received RTTs in send order
//! (the RFC 3550 idea without its 1/16 smoothing), which reacts to RTT variation rather than
//! to a constant offset.
//!
//! Besides the window, the counts since the WAN was configured ([`Tally`]): probes sent, and
//! probes lost, each counted once its timeout has passed without an answer
//! ([`Window::expire`]), or when its slot is reused or the window cleared while it still
//! waits. A late reply still counts in the window's statistics but does not take the loss
//! back, so the count only grows (what a Prometheus counter must do).

use std::time::Duration;

use super::as_micros;
use super::time::Instant;

/// Probe slots per WAN: 64 probes, about 21 rounds with 3 targets.
pub const WINDOW: usize = 64;

/// Decided samples (received or expired) a window needs before quality thresholds are judged:
/// three lost probes out of the first five must not mark a fresh link `degraded`.
pub const MIN_SAMPLES: usize = 8;

/// A probe's slot; `target` is the target's index in the WAN's list, for per-target
/// figures (`health`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Empty,
    /// Not answered (yet). `failed` once it cannot be: an ICMP error or a failed send came
    /// back for it, or the check failed. It counts as lost after the timeout either way.
    Sent {
        at: Instant,
        seq: u16,
        target: u8,
        failed: bool,
    },
    Received {
        seq: u16,
        target: u8,
        rtt_us: u64,
    },
}

/// Probes since the WAN was configured: monotonic counts for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub sent: u64,
    /// No answer within the timeout, or still none when its slot was reused or the window
    /// cleared.
    pub lost: u64,
}

/// What the window says about the path right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub latency_us: Option<u64>,
    pub jitter_us: Option<u64>,
    /// Hundredths of a percent over the decided samples.
    pub loss_centi_pct: Option<u16>,
    /// Decided samples: received plus expired.
    pub samples: usize,
}

/// The probe window of one WAN.
#[derive(Debug, Clone)]
pub struct Window {
    slots: [Slot; WINDOW],
    /// Per slot: its unanswered probe has been counted lost in the tally already.
    tallied: [bool; WINDOW],
    newest: Option<u16>,
    tally: Tally,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            slots: [Slot::Empty; WINDOW],
            tallied: [false; WINDOW],
            newest: None,
            tally: Tally::default(),
        }
    }
}

impl Window {
    /// A probe of `target` with this sequence number left now; it overwrites the oldest
    /// slot.
    pub fn sent(&mut self, at: Instant, seq: u16, target: u8) {
        let i = usize::from(seq) % WINDOW;
        // a probe still unanswered a whole window later is long past its timeout
        if matches!(self.slots[i], Slot::Sent { .. }) && !self.tallied[i] {
            self.tally.lost = self.tally.lost.saturating_add(1);
        }
        self.tallied[i] = false;
        self.tally.sent = self.tally.sent.saturating_add(1);
        self.slots[i] = Slot::Sent {
            at,
            seq,
            target,
            failed: false,
        };
        self.newest = Some(seq);
    }

    /// A reply arrived; returns false when its slot was already overwritten (or never
    /// existed), i.e. the reply is unknown to the window.
    pub fn received(&mut self, seq: u16, at: Instant) -> bool {
        self.answer(seq, |sent_at| at.saturating_since(sent_at))
    }

    /// A check passed, having measured its own round trip (a TCP handshake, a DNS answer:
    /// not the time the whole check took). False as for [`Window::received`].
    pub fn answered(&mut self, seq: u16, rtt: Duration) -> bool {
        self.answer(seq, |_| rtt)
    }

    fn answer(&mut self, seq: u16, rtt: impl FnOnce(Instant) -> Duration) -> bool {
        let slot = &mut self.slots[usize::from(seq) % WINDOW];
        match *slot {
            // an answer for the probe in this slot, on time or late: it was received
            Slot::Sent {
                at,
                seq: s,
                target,
                failed: false,
            } if s == seq => {
                let rtt_us = as_micros(rtt(at));
                *slot = Slot::Received {
                    seq,
                    target,
                    rtt_us,
                };
                true
            }
            // duplicate, or a slot reused by a newer probe
            _ => false,
        }
    }

    /// The target of the probe with this sequence number while it waits for its answer
    /// (sent, neither answered nor failed, slot not reused); lost or not, it may still be
    /// answered.
    pub fn pending(&self, seq: u16) -> Option<u8> {
        match self.slots[usize::from(seq) % WINDOW] {
            Slot::Sent {
                seq: s,
                target,
                failed: false,
                ..
            } if s == seq => Some(target),
            _ => None,
        }
    }

    /// The probe of `target` with this sequence number failed; false unless it was
    /// pending.
    pub fn failed(&mut self, seq: u16, target: u8) -> bool {
        let slot = &mut self.slots[usize::from(seq) % WINDOW];
        match slot {
            Slot::Sent {
                seq: s,
                target: t,
                failed,
                ..
            } if *s == seq && *t == target && !*failed => {
                *failed = true;
                true
            }
            _ => false,
        }
    }

    /// The targets of the pending probes whose timeout ran out after `after` and by
    /// `until`, with the time it did: each probe once, for scans that follow one another.
    pub fn expired(
        &self,
        after: Instant,
        until: Instant,
        timeout: Duration,
    ) -> impl Iterator<Item = (u8, Instant)> + '_ {
        self.in_send_order().filter_map(move |slot| match slot {
            Slot::Sent {
                at,
                target,
                failed: false,
                ..
            } if after < at + timeout && at + timeout <= until => Some((target, at + timeout)),
            _ => None,
        })
    }

    /// The round trip of the probe with this sequence number, if it was received and its
    /// slot is still there.
    pub fn rtt_us(&self, seq: u16) -> Option<u64> {
        match self.slots[usize::from(seq) % WINDOW] {
            Slot::Received { seq: s, rtt_us, .. } if s == seq => Some(rtt_us),
            _ => None,
        }
    }

    /// Counts the probes whose timeout has passed without an answer as lost in the tally
    /// (each once; the window's own statistics do this by themselves).
    pub fn expire(&mut self, now: Instant, timeout: Duration) {
        for (slot, tallied) in self.slots.iter().zip(self.tallied.iter_mut()) {
            if let Slot::Sent { at, .. } = *slot {
                if !*tallied && at + timeout <= now {
                    *tallied = true;
                    self.tally.lost = self.tally.lost.saturating_add(1);
                }
            }
        }
    }

    /// Probes sent and lost since the WAN was configured.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// Forget everything (a new link is a new path) but the tally; a probe still waiting
    /// for its answer will not get one counted, so it is lost.
    pub fn clear(&mut self) {
        let waiting = self
            .slots
            .iter()
            .zip(self.tallied.iter())
            .filter(|(s, t)| matches!(s, Slot::Sent { .. }) && !**t)
            .count();
        let mut tally = self.tally;
        tally.lost = tally.lost.saturating_add(waiting as u64);
        *self = Window {
            tally,
            ..Window::default()
        };
    }

    /// Latency, jitter and loss as of `now` for probes that time out after `timeout`.
    pub fn summary(&self, now: Instant, timeout: Duration) -> Summary {
        self.summary_of(now, timeout, |_| true)
    }

    /// The same for the probes of one target.
    pub fn target_summary(&self, now: Instant, timeout: Duration, target: u8) -> Summary {
        self.summary_of(now, timeout, |t| t == target)
    }

    fn summary_of(&self, now: Instant, timeout: Duration, of: impl Fn(u8) -> bool) -> Summary {
        let mut sum = Summary::default();
        let (mut received, mut lost, mut rtt_total) = (0u64, 0u64, 0u64);
        let (mut prev, mut diff_total, mut diffs) = (None::<u64>, 0u64, 0u64);
        let slots = self.in_send_order().filter(|s| match *s {
            Slot::Empty => false,
            Slot::Sent { target, .. } | Slot::Received { target, .. } => of(target),
        });
        for slot in slots {
            match slot {
                Slot::Received { rtt_us, .. } => {
                    received += 1;
                    rtt_total = rtt_total.saturating_add(rtt_us);
                    if let Some(p) = prev {
                        diff_total = diff_total.saturating_add(p.abs_diff(rtt_us));
                        diffs += 1;
                    }
                    prev = Some(rtt_us);
                }
                // loss counts only once the probe had its full timeout
                Slot::Sent { at, .. } if at + timeout <= now => lost += 1,
                _ => {}
            }
        }
        let decided = received + lost;
        sum.samples = usize::try_from(decided).unwrap_or(usize::MAX);
        sum.latency_us = rtt_total.checked_div(received);
        sum.jitter_us = diff_total.checked_div(diffs);
        sum.loss_centi_pct = (lost * 10_000)
            .checked_div(decided)
            .map(|l| u16::try_from(l).unwrap_or(10_000));
        sum
    }

    fn in_send_order(&self) -> impl Iterator<Item = Slot> + '_ {
        let start = self.newest.map_or(0, |n| usize::from(n) + 1);
        (0..WINDOW).map(move |i| self.slots[(start + i) % WINDOW])
    }
}

/// Receive/transmit rates from the kernel's cumulative link counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throughput {
    last: Option<(Instant, u64, u64)>,
    /// Bits per second received, over the last counter interval.
    pub rx_bps: Option<u64>,
    /// Bits per second sent, over the last counter interval.
    pub tx_bps: Option<u64>,
}

impl Throughput {
    /// The cumulative byte counters `(rx, tx)` as last reported.
    pub fn bytes(&self) -> Option<(u64, u64)> {
        self.last.map(|(_, rx, tx)| (rx, tx))
    }

    /// New cumulative counters. A decrease means the counters were reset (interface
    /// re-created, driver reload, 32-bit wrap): that sample only re-bases.
    pub fn update(&mut self, now: Instant, rx_bytes: u64, tx_bytes: u64) {
        if let Some((at, rx, tx)) = self.last {
            let dt_us = now.micros.saturating_sub(at.micros);
            if rx_bytes < rx || tx_bytes < tx {
                self.rx_bps = None;
                self.tx_bps = None;
            } else if dt_us > 0 {
                self.rx_bps = Some(rate(rx_bytes - rx, dt_us));
                self.tx_bps = Some(rate(tx_bytes - tx, dt_us));
            } else {
                return; // same instant: keep the older base for a meaningful interval
            }
        }
        self.last = Some((now, rx_bytes, tx_bytes));
    }
}

/// Bits per second from a byte count over `dt_us`.
fn rate(bytes: u64, dt_us: u64) -> u64 {
    let r = u128::from(bytes) * 8 * 1_000_000 / u128::from(dt_us);
    u64::try_from(r).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_millis(100);

    fn ms(t: u64) -> Instant {
        Instant::from_millis(t)
    }

    #[test]
    fn empty_window_has_no_numbers() {
        let w = Window::default();
        assert_eq!(w.summary(ms(1000), TIMEOUT), Summary::default());
    }

    #[test]
    fn loss_counts_only_after_timeout() {
        let mut w = Window::default();
        w.sent(ms(0), 0, 0);
        w.sent(ms(0), 1, 0);
        assert!(w.received(0, ms(10)));
        let s = w.summary(ms(50), TIMEOUT);
        assert_eq!((s.samples, s.loss_centi_pct), (1, Some(0)));
        let s = w.summary(ms(100), TIMEOUT);
        assert_eq!((s.samples, s.loss_centi_pct), (2, Some(5000)));
    }

    #[test]
    fn late_reply_undoes_loss() {
        let mut w = Window::default();
        w.sent(ms(0), 7, 0);
        assert_eq!(w.summary(ms(200), TIMEOUT).loss_centi_pct, Some(10_000));
        assert!(w.received(7, ms(250)));
        let s = w.summary(ms(300), TIMEOUT);
        assert_eq!((s.loss_centi_pct, s.latency_us), (Some(0), Some(250_000)));
        assert!(!w.received(7, ms(260)), "duplicate reply is unknown");
    }

    #[test]
    fn overlapping_probes_expire_on_their_own_send_time() {
        let timeout = Duration::from_millis(600);
        let mut w = Window::default();
        for (seq, at) in [(0u16, 0u64), (1, 200), (2, 400)] {
            w.sent(ms(at), seq, 0);
        }
        // replies out of order: the newest first
        assert!(w.received(2, ms(450)));
        assert!(w.received(0, ms(500)));
        let s = w.summary(ms(799), timeout);
        assert_eq!(
            (s.samples, s.loss_centi_pct),
            (2, Some(0)),
            "seq 1 still in time"
        );
        let s = w.summary(ms(800), timeout);
        assert_eq!((s.samples, s.loss_centi_pct), (3, Some(3333)));
        assert!(w.received(1, ms(850)), "late, but its slot is still there");
        let s = w.summary(ms(900), timeout);
        assert_eq!((s.samples, s.loss_centi_pct), (3, Some(0)));
        // send order, not arrival order: 500, 650, 50
        assert_eq!((s.latency_us, s.jitter_us), (Some(400_000), Some(375_000)));
    }

    #[test]
    fn per_target_figures_and_a_checks_own_round_trip() {
        let mut w = Window::default();
        for round in 0..4u16 {
            let at = u64::from(round) * 1000;
            w.sent(ms(at), 2 * round, 0); // an echo request, answered in 10 ms
            w.sent(ms(at), 2 * round + 1, 1); // a check, answered every other round
            assert!(w.received(2 * round, ms(at + 10)));
            if round % 2 == 0 {
                assert_eq!(w.pending(2 * round + 1), Some(1));
                assert!(w.answered(2 * round + 1, Duration::from_millis(4)));
                assert_eq!(w.pending(2 * round + 1), None);
            }
        }
        let now = ms(10_000);
        let echo = w.target_summary(now, TIMEOUT, 0);
        assert_eq!(
            (echo.latency_us, echo.loss_centi_pct),
            (Some(10_000), Some(0))
        );
        let check = w.target_summary(now, TIMEOUT, 1);
        assert_eq!(
            (check.latency_us, check.loss_centi_pct),
            (Some(4_000), Some(5_000))
        );
        let all = w.summary(now, TIMEOUT);
        assert_eq!((all.samples, all.loss_centi_pct), (8, Some(2_500)));
        assert_eq!(w.rtt_us(1), Some(4_000));
        assert!(!w.answered(1, Duration::from_millis(4)), "answered once");
    }

    #[test]
    fn each_pending_probe_expires_once_and_a_failed_one_never() {
        let mut w = Window::default();
        w.sent(ms(0), 0, 0);
        w.sent(ms(0), 1, 1);
        w.sent(ms(50), 2, 2);
        assert!(w.failed(1, 1), "a check failed early");
        assert!(!w.failed(1, 1), "once");
        assert!(!w.received(1, ms(60)), "a failed probe is not answered");
        let expired = |after, until| w.expired(ms(after), ms(until), TIMEOUT).collect::<Vec<_>>();
        assert_eq!(expired(0, 99), []);
        assert_eq!(expired(0, 120), [(0, ms(100))]);
        assert_eq!(expired(120, 200), [(2, ms(150))]);
        let s = w.summary(ms(200), TIMEOUT);
        assert_eq!((s.samples, s.loss_centi_pct), (3, Some(10_000)), "all lost");
    }

    #[test]
    fn latency_and_jitter_in_send_order() {
        let mut w = Window::default();
        for (seq, rtt) in [(0u16, 10u64), (1, 30), (2, 20)] {
            w.sent(ms(0), seq, 0);
            w.received(seq, ms(rtt));
        }
        let s = w.summary(ms(1000), TIMEOUT);
        assert_eq!(s.latency_us, Some(20_000));
        // |30-10| and |20-30|
        assert_eq!(s.jitter_us, Some(15_000));
    }

    #[test]
    fn ring_overwrites_oldest_and_wraps_seq() {
        let mut w = Window::default();
        for i in 0..200u32 {
            let seq = (65_500 + i) as u16; // wraps through 0
            w.sent(ms(u64::from(i)), seq, 0);
            w.received(seq, ms(u64::from(i) + 5));
        }
        let s = w.summary(ms(10_000), TIMEOUT);
        assert_eq!(
            (s.samples, s.latency_us, s.jitter_us),
            (WINDOW, Some(5000), Some(0))
        );
        let old = (65_500u32 + 10) as u16;
        assert!(!w.received(old, ms(300)), "overwritten slot");
    }

    #[test]
    fn throughput_rates_and_counter_reset() {
        let mut t = Throughput::default();
        t.update(ms(0), 1_000, 500);
        assert_eq!(t.rx_bps, None);
        t.update(ms(2000), 5_000, 2_500);
        // 4 000 and 2 000 bytes in 2 s
        assert_eq!((t.rx_bps, t.tx_bps), (Some(16_000), Some(8_000)));
        t.update(ms(3000), 100, 100); // reset: skip one sample
        assert_eq!((t.rx_bps, t.tx_bps), (None, None));
        t.update(ms(4000), 1_100, 600);
        assert_eq!((t.rx_bps, t.tx_bps), (Some(8_000), Some(4_000)));
    }

    #[test]
    fn tally_counts_each_probe_once_and_never_goes_back() {
        let mut w = Window::default();
        let tally = |w: &Window| (w.tally().sent, w.tally().lost);
        for seq in 0..3u16 {
            w.sent(ms(0), seq, 0);
        }
        w.received(0, ms(20));
        w.expire(ms(99), TIMEOUT);
        assert_eq!(tally(&w), (3, 0), "not lost before the timeout");
        w.expire(ms(100), TIMEOUT);
        w.expire(ms(200), TIMEOUT);
        assert_eq!(tally(&w), (3, 2), "each lost probe counted once");
        // a late reply undoes the loss in the statistics, not in the tally
        assert!(w.received(1, ms(250)));
        assert_eq!(w.summary(ms(300), TIMEOUT).loss_centi_pct, Some(3333));
        assert_eq!(tally(&w), (3, 2));
        // the window forgets; the tally stays, and a probe still waiting is lost
        w.sent(ms(300), 3, 0);
        w.clear();
        assert_eq!(tally(&w), (4, 3));
        assert_eq!(w.summary(ms(1000), TIMEOUT), Summary::default());
    }

    #[test]
    fn tally_counts_a_probe_overwritten_unanswered() {
        let mut w = Window::default();
        for seq in 0..(WINDOW as u16 + 1) {
            w.sent(ms(u64::from(seq)), seq, 0);
        }
        assert_eq!((w.tally().sent, w.tally().lost), (WINDOW as u64 + 1, 1));
    }
}

//! Which replies count: the table of outstanding probes of one prober and the checks a
//! reply must pass. Pure (time comes in as arguments), so every rule is unit-tested.
//!
//! A reply counts only if its identifier is the prober's, its payload is ours (this
//! process's cookie), its (target, sequence) is outstanding with the same send stamp, its
//! source is the address that probe went to, it is the first reply to that probe, and it
//! arrived before `sent_at + timeout`. A spoofed or stale reply must never keep a dead
//! link up.

use std::net::IpAddr;
use std::time::Duration;

use super::packet::{Cookie, EchoKind, EchoRepr, ProbePayload};
use super::quoted::ErrorRepr;
use crate::engine::Instant;

/// Outstanding probes one prober keeps. With 8 targets at 5 rounds/s and answered entries
/// kept for twice the timeout (1 s), 80 would be needed in the worst case; probes evicted
/// early are merely counted lost by the engine. When full, the oldest entry is evicted
/// (and counted in [`Stats::evicted`]): the newest probes matter most.
pub const CAPACITY: usize = 64;

/// Counters of one prober since it was created (they survive `reopen`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Echo requests handed to the kernel.
    pub sent: u64,
    /// Sends the kernel refused.
    pub send_errors: u64,
    /// Datagrams read from the socket.
    pub received: u64,
    /// Replies reported to the caller.
    pub accepted: u64,
    /// Our identifier but wrong cookie, stamp or source: someone imitates our probes.
    pub forged: u64,
    /// Ours, but after the timeout (or after its entry was dropped).
    pub stale: u64,
    /// A second reply to an already answered probe.
    pub duplicate: u64,
    /// Bytes that are not a well-formed echo reply.
    pub malformed: u64,
    /// Well-formed echo replies for someone else (another identifier: a raw socket sees
    /// every echo reply arriving on its interface).
    pub foreign: u64,
    /// Outstanding probes evicted because the table was full.
    pub evicted: u64,
    /// ICMP errors (unreachable, time exceeded) reported for an outstanding probe.
    pub icmp_errors: u64,
}

/// The outcome of checking one well-formed echo reply or ICMP error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A valid reply: report it. `sent_us` is the stamp recorded at send.
    Accepted {
        target_idx: u8,
        seq: u16,
        sent_us: u64,
    },
    /// An ICMP error for an outstanding probe: report it failed.
    Failed {
        target_idx: u8,
        seq: u16,
    },
    Foreign,
    Forged,
    Stale,
    Duplicate,
}

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    target_idx: u8,
    seq: u16,
    addr: IpAddr,
    /// When it was sent, on the caller's timeline (for expiry).
    sent_at: Instant,
    /// The stamp in the payload (µs of the prober's monotonic clock, for the RTT).
    sent_us: u64,
    answered: bool,
}

/// The outstanding probes and counters of one prober.
#[derive(Debug)]
pub struct Tracker {
    cookie: Cookie,
    ident: u16,
    table: heapless::Vec<Outstanding, CAPACITY>,
    stats: Stats,
}

impl Tracker {
    pub fn new(cookie: Cookie, ident: u16) -> Tracker {
        Tracker {
            cookie,
            ident,
            table: heapless::Vec::new(),
            stats: Stats::default(),
        }
    }

    pub fn ident(&self) -> u16 {
        self.ident
    }

    /// A new identifier (a ping socket's kernel-chosen one after reopening). Outstanding
    /// probes carry the old one and can no longer match: they are dropped.
    pub fn set_ident(&mut self, ident: u16) {
        if ident != self.ident {
            self.table.clear();
        }
        self.ident = ident;
    }

    pub fn cookie(&self) -> &Cookie {
        &self.cookie
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// Number of entries (outstanding or recently answered).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Records a probe that was just sent. Replaces an entry with the same (target, seq)
    /// (sequence wrap); evicts the oldest entry when the table is full.
    pub fn record(
        &mut self,
        sent_at: Instant,
        sent_us: u64,
        target_idx: u8,
        addr: IpAddr,
        seq: u16,
    ) {
        self.remove(target_idx, seq);
        if self.table.is_full() {
            self.evict_oldest();
        }
        let entry = Outstanding {
            target_idx,
            seq,
            addr,
            sent_at,
            sent_us,
            answered: false,
        };
        // Cannot fail: a slot was freed above.
        let _ = self.table.push(entry);
    }

    fn remove(&mut self, target_idx: u8, seq: u16) {
        if let Some(i) = self.position(target_idx, seq) {
            self.table.swap_remove(i);
        }
    }

    fn position(&self, target_idx: u8, seq: u16) -> Option<usize> {
        self.table
            .iter()
            .position(|e| e.target_idx == target_idx && e.seq == seq)
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .table
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| e.sent_at)
            .map(|(i, _)| i);
        if let Some(i) = oldest {
            let e = self.table.swap_remove(i);
            if !e.answered {
                self.stats.evicted += 1;
            }
        }
    }

    /// Checks one well-formed echo message from `src` received at `now`; updates the
    /// counters (not `received`/`malformed`, which the caller counts).
    pub fn check(
        &mut self,
        now: Instant,
        timeout: Duration,
        src: IpAddr,
        echo: &EchoRepr,
    ) -> Verdict {
        let verdict = self.judge(now, timeout, src, echo);
        self.count(verdict)
    }

    /// Checks an ICMP error quoting one of our requests. Its source is a router, so it is
    /// matched by identifier, sequence, quoted destination and as much of the quoted
    /// payload as there is. A probe it fails is consumed: a later reply is a duplicate.
    pub fn check_error(&mut self, now: Instant, timeout: Duration, err: &ErrorRepr) -> Verdict {
        let verdict = self.judge_error(now, timeout, err);
        self.count(verdict)
    }

    fn count(&mut self, verdict: Verdict) -> Verdict {
        let counter = match verdict {
            Verdict::Accepted { .. } => &mut self.stats.accepted,
            Verdict::Failed { .. } => &mut self.stats.icmp_errors,
            Verdict::Foreign => &mut self.stats.foreign,
            Verdict::Forged => &mut self.stats.forged,
            Verdict::Stale => &mut self.stats.stale,
            Verdict::Duplicate => &mut self.stats.duplicate,
        };
        *counter += 1;
        verdict
    }

    fn judge_error(&mut self, now: Instant, timeout: Duration, err: &ErrorRepr) -> Verdict {
        if err.ident != self.ident {
            return Verdict::Foreign;
        }
        let (found, stamp) = match self.find_quoted(err) {
            Ok(Some((i, stamp))) => (Some(i), stamp),
            Ok(None) => (None, None),
            Err(verdict) => return verdict,
        };
        match self.answer(now, timeout, found, err.dst, stamp) {
            Ok(e) => Verdict::Failed {
                target_idx: e.target_idx,
                seq: e.seq,
            },
            Err(verdict) => verdict,
        }
    }

    /// The entry an ICMP error quotes and the quoted send stamp, if the whole payload was
    /// quoted; `Err(Forged)` when what was quoted is not our payload.
    fn find_quoted(&self, err: &ErrorRepr) -> Result<Option<(usize, Option<u64>)>, Verdict> {
        match ProbePayload::parse(err.data) {
            Some(p) if p.cookie != self.cookie => Err(Verdict::Forged),
            Some(p) => Ok(self
                .position(p.target_idx, err.seq)
                .map(|i| (i, Some(p.sent_us)))),
            None if err.data.len() > ProbePayload::LEN => Err(Verdict::Forged),
            // A short quote: what there is of the cookie must match.
            None => {
                let n = err.data.len().min(self.cookie.len());
                if err.data[..n] != self.cookie[..n] {
                    return Err(Verdict::Forged);
                }
                let pos = self
                    .table
                    .iter()
                    .position(|e| e.seq == err.seq && e.addr == err.dst);
                Ok(pos.map(|i| (i, None)))
            }
        }
    }

    fn judge(&mut self, now: Instant, timeout: Duration, src: IpAddr, echo: &EchoRepr) -> Verdict {
        if echo.kind != EchoKind::Reply || echo.ident != self.ident {
            return Verdict::Foreign;
        }
        let payload = match ProbePayload::parse(echo.data) {
            Some(p) if p.cookie == self.cookie => p,
            // Our identifier without our cookie: an imitation (or an identifier clash).
            _ => return Verdict::Forged,
        };
        let found = self.position(payload.target_idx, echo.seq);
        match self.answer(now, timeout, found, src, Some(payload.sent_us)) {
            Ok(e) => Verdict::Accepted {
                target_idx: e.target_idx,
                seq: e.seq,
                sent_us: e.sent_us,
            },
            Err(verdict) => verdict,
        }
    }

    /// The checks every answer to a probe passes, a reply or an ICMP error quoting the
    /// request alike: the probe is outstanding (else the answer is stale: the entry expired
    /// out of the table, or never existed); the answer is about the address the probe went
    /// to and carries the send stamp recorded for it, when it carries one (else someone
    /// imitates our probes); it is the first (else a duplicate); it came before the timeout
    /// (else stale). An answer that passes consumes the probe.
    fn answer(
        &mut self,
        now: Instant,
        timeout: Duration,
        found: Option<usize>,
        addr: IpAddr,
        stamp: Option<u64>,
    ) -> Result<Outstanding, Verdict> {
        let entry = found
            .and_then(|i| self.table.get_mut(i))
            .ok_or(Verdict::Stale)?;
        if entry.addr != addr || stamp.is_some_and(|s| s != entry.sent_us) {
            return Err(Verdict::Forged);
        }
        if entry.answered {
            return Err(Verdict::Duplicate);
        }
        if now > entry.sent_at + timeout {
            return Err(Verdict::Stale);
        }
        entry.answered = true;
        Ok(*entry)
    }

    /// Drops entries older than `keep` (callers pass twice the timeout, so late replies and
    /// duplicates are still classified as such for a while).
    pub fn purge(&mut self, now: Instant, keep: Duration) {
        self.table.retain(|e| e.sent_at + keep >= now);
    }

    /// Forgets a probe whose send failed.
    pub fn forget(&mut self, target_idx: u8, seq: u16) {
        self.remove(target_idx, seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Family;
    use std::net::Ipv4Addr;

    const COOKIE: Cookie = *b"cookie!!";
    const ID: u16 = 0xbeef;
    const TIMEOUT: Duration = Duration::from_millis(1000);
    const T1: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 53));
    const T2: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 53));

    fn ms(t: u64) -> Instant {
        Instant::from_millis(t)
    }

    /// A tracker with probe (target 0, seq 7) to T1 sent at 0 ms with stamp 500.
    fn tracker_with_probe() -> Tracker {
        let mut t = Tracker::new(COOKIE, ID);
        t.record(ms(0), 500, 0, T1, 7);
        t
    }

    fn reply(
        t: &mut Tracker,
        at_ms: u64,
        src: IpAddr,
        ident: u16,
        seq: u16,
        p: ProbePayload,
    ) -> Verdict {
        let mut data = [0u8; ProbePayload::LEN];
        p.emit(&mut data);
        let echo = EchoRepr {
            family: Family::V4,
            kind: EchoKind::Reply,
            ident,
            seq,
            data: &data,
        };
        t.check(ms(at_ms), TIMEOUT, src, &echo)
    }

    fn ours(target_idx: u8) -> ProbePayload {
        ProbePayload {
            cookie: COOKIE,
            sent_us: 500,
            target_idx,
        }
    }

    #[test]
    fn valid_reply_accepted_once() {
        let mut t = tracker_with_probe();
        let ok = Verdict::Accepted {
            target_idx: 0,
            seq: 7,
            sent_us: 500,
        };
        assert_eq!(reply(&mut t, 40, T1, ID, 7, ours(0)), ok);
        assert_eq!(reply(&mut t, 41, T1, ID, 7, ours(0)), Verdict::Duplicate);
        let s = t.stats();
        assert_eq!((s.accepted, s.duplicate), (1, 1));
    }

    #[test]
    fn rejections() {
        let forged = ProbePayload {
            cookie: *b"notours!",
            ..ours(0)
        };
        let restamped = ProbePayload {
            sent_us: 499,
            ..ours(0)
        };
        let cases: [(&str, u64, IpAddr, u16, u16, ProbePayload, Verdict); 8] = [
            ("wrong source", 40, T2, ID, 7, ours(0), Verdict::Forged),
            ("wrong id", 40, T1, ID ^ 1, 7, ours(0), Verdict::Foreign),
            ("unknown seq", 40, T1, ID, 8, ours(0), Verdict::Stale),
            ("other target", 40, T1, ID, 7, ours(1), Verdict::Stale),
            ("wrong cookie", 40, T1, ID, 7, forged, Verdict::Forged),
            ("wrong stamp", 40, T1, ID, 7, restamped, Verdict::Forged),
            ("expired", 1001, T1, ID, 7, ours(0), Verdict::Stale),
            (
                "at the deadline",
                1000,
                T1,
                ID,
                7,
                ours(0),
                Verdict::Accepted {
                    target_idx: 0,
                    seq: 7,
                    sent_us: 500,
                },
            ),
        ];
        for (what, at, src, id, seq, p, want) in cases {
            let mut t = tracker_with_probe();
            assert_eq!(reply(&mut t, at, src, id, seq, p), want, "{what}");
        }
    }

    #[test]
    fn rejected_reply_does_not_consume_the_probe() {
        let mut t = tracker_with_probe();
        let forged = ProbePayload {
            cookie: *b"notours!",
            ..ours(0)
        };
        assert_eq!(reply(&mut t, 10, T1, ID, 7, forged), Verdict::Forged);
        assert_eq!(reply(&mut t, 11, T2, ID, 7, ours(0)), Verdict::Forged);
        assert!(matches!(
            reply(&mut t, 12, T1, ID, 7, ours(0)),
            Verdict::Accepted { .. }
        ));
    }

    #[test]
    fn echo_request_and_junk_payload() {
        let mut t = tracker_with_probe();
        let echo = EchoRepr {
            family: Family::V4,
            kind: EchoKind::Request,
            ident: ID,
            seq: 7,
            data: &[],
        };
        assert_eq!(t.check(ms(1), TIMEOUT, T1, &echo), Verdict::Foreign);
        let echo = EchoRepr {
            kind: EchoKind::Reply,
            data: &[0; 56],
            ..echo
        };
        assert_eq!(t.check(ms(1), TIMEOUT, T1, &echo), Verdict::Forged);
    }

    #[test]
    fn full_table_evicts_oldest() {
        let mut t = Tracker::new(COOKIE, ID);
        for seq in 0..CAPACITY as u16 + 1 {
            t.record(ms(u64::from(seq)), u64::from(seq), 0, T1, seq);
        }
        assert_eq!(t.len(), CAPACITY);
        assert_eq!(t.stats().evicted, 1);
        let p0 = ProbePayload {
            sent_us: 0,
            ..ours(0)
        };
        assert_eq!(
            reply(&mut t, 100, T1, ID, 0, p0),
            Verdict::Stale,
            "seq 0 was evicted"
        );
        let p1 = ProbePayload {
            sent_us: 1,
            ..ours(0)
        };
        assert!(matches!(
            reply(&mut t, 100, T1, ID, 1, p1),
            Verdict::Accepted { .. }
        ));
    }

    #[test]
    fn same_seq_replaces_and_purge_drops_old() {
        let mut t = tracker_with_probe();
        t.record(ms(100), 600, 0, T1, 7);
        assert_eq!(t.len(), 1);
        assert_eq!(
            reply(&mut t, 150, T1, ID, 7, ours(0)),
            Verdict::Forged,
            "old stamp"
        );
        t.purge(ms(2100), 2 * TIMEOUT);
        assert_eq!(t.len(), 1);
        t.purge(ms(2101), 2 * TIMEOUT);
        assert!(t.is_empty());
    }

    fn icmp_error<'a>(ident: u16, seq: u16, dst: IpAddr, data: &'a [u8]) -> ErrorRepr<'a> {
        ErrorRepr {
            family: Family::V4,
            msg_type: 3,
            code: 1,
            dst,
            ident,
            seq,
            data,
        }
    }

    #[test]
    fn icmp_errors_fail_the_probe_they_quote() {
        let mut full = [0u8; ProbePayload::LEN];
        ours(0).emit(&mut full);
        let failed = Verdict::Failed {
            target_idx: 0,
            seq: 7,
        };
        let other_cookie = ProbePayload {
            cookie: *b"notours!",
            ..ours(0)
        };
        let mut forged = [0u8; ProbePayload::LEN];
        other_cookie.emit(&mut forged);
        type Case<'a> = (&'a str, u16, u16, IpAddr, &'a [u8], u64, Verdict);
        let cases: [Case; 9] = [
            ("full quote", ID, 7, T1, &full, 10, failed),
            ("8-byte quote", ID, 7, T1, &[], 10, failed),
            ("cookie prefix", ID, 7, T1, &full[..4], 10, failed),
            (
                "wrong cookie prefix",
                ID,
                7,
                T1,
                &forged[..4],
                10,
                Verdict::Forged,
            ),
            ("wrong cookie", ID, 7, T1, &forged, 10, Verdict::Forged),
            ("other destination", ID, 7, T2, &full, 10, Verdict::Forged),
            ("other id", ID ^ 1, 7, T1, &full, 10, Verdict::Foreign),
            ("unknown seq", ID, 8, T1, &[], 10, Verdict::Stale),
            ("expired", ID, 7, T1, &full, 1001, Verdict::Stale),
        ];
        for (what, id, seq, dst, data, at, want) in cases {
            let mut t = tracker_with_probe();
            let got = t.check_error(ms(at), TIMEOUT, &icmp_error(id, seq, dst, data));
            assert_eq!(got, want, "{what}");
        }
        let mut t = tracker_with_probe();
        t.check_error(ms(10), TIMEOUT, &icmp_error(ID, 7, T1, &full));
        assert_eq!(reply(&mut t, 20, T1, ID, 7, ours(0)), Verdict::Duplicate);
        assert_eq!(t.stats().icmp_errors, 1);
    }

    #[test]
    fn new_ident_drops_outstanding() {
        let mut t = tracker_with_probe();
        t.set_ident(ID);
        assert_eq!(t.len(), 1);
        t.set_ident(1);
        assert!(t.is_empty());
    }
}

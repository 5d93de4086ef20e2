//! What each target of a WAN did last, for `wanfailover health`: the last result, the
//! round trip of the last pass and the cause of the last failure in words. The WAN's
//! state machine judges rounds; this only remembers, per target, what the rounds were made
//! of, so that a WAN that went down on its HTTP check says so ("HTTP 302 Found: captive
//! portal?") while its pings still pass.

use core::fmt;

use super::entry::Entry;
use super::report::{TargetHealth, WanHealth};
use super::{Engine, Instant, ProbeError};

/// Longest target text in a `health` row, in characters: a URL may be 512 bytes, and the
/// largest answer (32 WANs × 8 targets) must fit in one control frame (64 KiB).
pub const TARGET_TEXT_LEN: usize = 80;

/// Why a probe or check of one target failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer by the round's deadline.
    Timeout,
    /// The WAN has no usable address of the target's family: nothing was sent.
    NoAddress,
    /// An echo request could not be sent, or an ICMP error came back for it.
    Probe(ProbeError),
    /// A check failed, with the step and the cause the check reported.
    #[cfg(feature = "checks")]
    Check(crate::check::Failed),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout => f.write_str("timeout"),
            Failure::NoAddress => f.write_str("no address of the target's family"),
            Failure::Probe(ProbeError::NoSocket) => f.write_str("no probe socket"),
            Failure::Probe(ProbeError::IcmpError) => {
                f.write_str("ICMP error (unreachable or time exceeded)")
            }
            Failure::Probe(ProbeError::Send(errno)) => match *errno {
                libc::ENETUNREACH | libc::EHOSTUNREACH => f.write_str("no route"),
                e => write!(f, "send: {}", std::io::Error::from_raw_os_error(e)),
            },
            #[cfg(feature = "checks")]
            Failure::Check(failed) => write!(f, "{failed}"),
        }
    }
}

/// The last outcome of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    Passed { rtt_us: u64 },
    Failed,
}

/// What one target did last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Record {
    last: Option<Last>,
    /// The round trip of the last pass.
    rtt_us: Option<u64>,
    failure: Option<(Instant, Failure)>,
}

impl Record {
    pub(super) fn passed(&mut self, rtt_us: u64) {
        self.last = Some(Last::Passed { rtt_us });
        self.rtt_us = Some(rtt_us);
    }

    pub(super) fn failed(&mut self, now: Instant, failure: Failure) {
        self.last = Some(Last::Failed);
        self.failure = Some((now, failure));
    }

    /// The result word `health` shows: `pass`, `fail`, or `none` before the first outcome.
    fn result(&self) -> &'static str {
        match self.last {
            Some(Last::Passed { .. }) => "pass",
            Some(Last::Failed) => "fail",
            None => "none",
        }
    }
}

impl Engine {
    /// Per WAN, in config order, what each of its targets did last.
    pub fn health(&self, now: Instant) -> Vec<WanHealth> {
        self.entries.iter().map(|e| wan_health(now, e)).collect()
    }
}

/// The WAN's targets in config order, each from the machine of its family (which numbers
/// its own targets).
fn wan_health(now: Instant, e: &Entry) -> WanHealth {
    let mut targets = Vec::with_capacity(e.target_count());
    for i in 0..e.target_count() {
        let Some((wan, index)) = u8::try_from(i).ok().and_then(|i| e.target(i)) else {
            continue;
        };
        let Some(target) = wan.probe_targets().get(usize::from(index)) else {
            continue;
        };
        let record = wan.target_record(index);
        let failure = record.and_then(|r| r.failure.as_ref());
        targets.push(TargetHealth {
            kind: target.kind().to_string(),
            target: shorten(target.to_string(), TARGET_TEXT_LEN),
            result: record.map_or("none", Record::result).to_string(),
            rtt_us: record.and_then(|r| r.rtt_us),
            loss_centi_pct: wan.target_summary(now, index).loss_centi_pct,
            cause: failure.map(|(_, f)| f.to_string()),
            failed_ago_ms: failure.map(|(at, _)| {
                u64::try_from(now.saturating_since(*at).as_millis()).unwrap_or(u64::MAX)
            }),
        });
    }
    WanHealth {
        name: e.name.clone(),
        state: e.state().as_str().to_string(),
        targets,
    }
}

/// `text` cut to `most` characters, the last of them `…` when it was longer.
fn shorten(mut text: String, most: usize) -> String {
    if let Some((cut, _)) = text.char_indices().nth(most.saturating_sub(1)) {
        if text.chars().count() > most {
            text.truncate(cut);
            text.push('…');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_as_words() {
        let cases = [
            (Failure::Timeout, "timeout"),
            (Failure::NoAddress, "no address of the target's family"),
            (
                Failure::Probe(ProbeError::Send(libc::ENETUNREACH)),
                "no route",
            ),
            (
                Failure::Probe(ProbeError::IcmpError),
                "ICMP error (unreachable or time exceeded)",
            ),
        ];
        for (failure, words) in cases {
            assert_eq!(failure.to_string(), words);
        }
    }

    #[test]
    fn long_target_texts_are_cut() {
        assert_eq!(shorten("198.51.100.53".into(), 80), "198.51.100.53");
        assert_eq!(shorten("abcdef".into(), 6), "abcdef");
        assert_eq!(shorten("abcdefg".into(), 6), "abcde…");
        assert_eq!(shorten("ééééééé".into(), 3), "éé…");
    }

    #[test]
    fn a_record_keeps_the_last_pass_and_the_last_failure() {
        let mut r = Record::default();
        assert_eq!(r.result(), "none");
        r.passed(1_200);
        r.failed(Instant::from_millis(5), Failure::Timeout);
        assert_eq!((r.result(), r.rtt_us), ("fail", Some(1_200)));
        r.passed(900);
        assert_eq!((r.result(), r.rtt_us), ("pass", Some(900)));
        assert_eq!(r.failure, Some((Instant::from_millis(5), Failure::Timeout)));
    }
}

//! A WAN's targets one by one: the action each gets in a round (an echo request or a
//! check), what each did last (`health`), and the ends of checks.

use super::{Outcome, Wan};
use crate::config::{Probe, Target, MAX_TARGETS};
use crate::engine::health::{Failure, Record};
use crate::engine::stats::Summary;
use crate::engine::{Action, Instant, WanId};

impl Wan {
    /// The statistics of one target.
    pub fn target_summary(&self, now: Instant, target: u8) -> Summary {
        self.stats.target_summary(now, self.probe.timeout, target)
    }

    /// The targets, in config order (their index is the `target` of actions and inputs).
    pub fn probe_targets(&self) -> &[Target] {
        &self.probe.targets
    }

    pub(in crate::engine) fn target_record(&self, target: u8) -> Option<&Record> {
        self.records.get(usize::from(target))
    }

    /// `Input::CheckDone`: a pass is an answer with the round trip the check measured, a
    /// failure loses the probe now and keeps its cause.
    #[cfg(feature = "checks")]
    pub fn on_check_done(
        &mut self,
        now: Instant,
        target: u8,
        seq: u16,
        at: Instant,
        result: Result<std::time::Duration, crate::check::Failed>,
    ) {
        match result {
            Ok(rtt) => {
                let in_window = self.stats.answered(seq, rtt);
                self.on_answer(now, target, seq, at, in_window);
            }
            Err(failed) => self.on_failure(now, target, seq, Failure::Check(failed)),
        }
    }

    /// A probe or check failed before its deadline: lost now; the cause is kept while the
    /// statistics still wait for it.
    pub(super) fn on_failure(&mut self, now: Instant, target: u8, seq: u16, failure: Failure) {
        if self.stats.failed(seq, target) {
            if let Some(r) = self.records.get_mut(usize::from(target)) {
                r.failed(now, failure);
            }
        }
        if self.mark(now, target, seq, |_| true, Outcome::Lost) {
            self.settle(now);
        }
    }
}

/// One empty record per target.
pub(super) fn records(probe: &Probe) -> Vec<Record> {
    let n = probe.targets.len().min(MAX_TARGETS);
    vec![Record::default(); n]
}

/// What the engine asks the shell for one target of a round.
#[cfg_attr(not(feature = "checks"), allow(unused_variables))]
pub(super) fn probe_action(
    wan: WanId,
    target: u8,
    t: &Target,
    seq: u16,
    deadline: Instant,
) -> Action {
    match *t {
        Target::Icmp(addr) => Action::SendProbe {
            wan,
            target,
            addr,
            seq,
        },
        #[cfg(feature = "checks")]
        _ => Action::StartCheck {
            wan,
            target,
            seq,
            deadline,
        },
    }
}

impl Wan {
    /// Every probe whose timeout ran out since the last call, answered by its round's
    /// verdict or not, timed out: what its target did last (a round decided early by
    /// other targets has no deadline of its own to tell).
    pub(super) fn note_timeouts(&mut self, now: Instant) {
        let (after, timeout) = (self.timeouts_noted_until, self.probe.timeout);
        for (target, at) in self.stats.expired(after, now, timeout) {
            if let Some(r) = self.records.get_mut(usize::from(target)) {
                r.failed(at, Failure::Timeout);
            }
        }
        self.timeouts_noted_until = now;
    }
}

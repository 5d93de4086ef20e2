//! One probe round: every target of a WAN probed at once, decided as soon as its outcome is
//! certain and at its deadline at the latest (see [`super::wan`] for how rounds overlap).

use heapless::Vec as HVec;

use super::time::Instant;
use super::Family;
use crate::config::{FamilySet, Target, MAX_TARGETS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Pending,
    Answered,
    Lost,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Sent {
    pub(super) seq: u16,
    pub(super) outcome: Outcome,
}

/// The family a target of any kind is reached by, and judged with: its address's, or for
/// an http target that names a host, the WAN's (the config refuses host names on a `both`
/// WAN).
pub(super) fn family_of(target: &Target, wan: FamilySet) -> Family {
    match target.address() {
        Some(addr) => Family::of(addr),
        None => Family::managed_by(wan)
            .first()
            .copied()
            .unwrap_or(Family::V4),
    }
}

/// A round's outcome, once it is certain.
#[derive(Debug, Clone, Copy)]
pub(super) struct Verdict {
    pub(super) passed: bool,
    /// When it became certain: the reply or failure that decided it, or the deadline.
    pub(super) at: Instant,
}

/// One round: every target probed at once, judged by `deadline` at the latest.
#[derive(Debug, Clone)]
pub(super) struct Round {
    pub(super) deadline: Instant,
    pub(super) probes: HVec<Sent, MAX_TARGETS>,
    /// Set once certain; applied when every earlier round's verdict has been.
    pub(super) verdict: Option<Verdict>,
}

impl Round {
    /// The probe of `target` with this sequence number, if the round still waits for it.
    pub(super) fn pending(&mut self, target: u8, seq: u16) -> Option<&mut Sent> {
        if self.verdict.is_some() {
            return None; // judged already: one more answer changes nothing
        }
        let p = self.probes.get_mut(usize::from(target))?;
        (p.seq == seq && p.outcome == Outcome::Pending).then_some(p)
    }

    /// At the deadline every probe still pending is lost, which decides the round.
    pub(super) fn expire(&mut self, reliability: u8) {
        for p in self
            .probes
            .iter_mut()
            .filter(|p| p.outcome == Outcome::Pending)
        {
            p.outcome = Outcome::Lost;
        }
        self.decide(reliability, self.deadline);
    }

    /// Record the verdict as soon as the outcome is certain.
    pub(super) fn decide(&mut self, reliability: u8, at: Instant) {
        if self.verdict.is_some() {
            return;
        }
        let n = self.probes.len();
        let count = |o| self.probes.iter().filter(|p| p.outcome == o).count();
        let need = usize::from(reliability).clamp(1, n.max(1));
        let passed = if n == 0 || count(Outcome::Answered) >= need {
            true // enough answers (or no targets: link-only monitoring)
        } else if count(Outcome::Lost) > n - need {
            false // too few probes left that could still answer
        } else {
            return;
        };
        self.verdict = Some(Verdict { passed, at });
    }
}

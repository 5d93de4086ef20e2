//! A fixed ring of recent transitions, switches and connectivity changes: when full, the
//! oldest entry goes.

use heapless::{Deque, String as HString};

use super::report::HistoryEntry;
use super::route::Family;
use super::time::Instant;
use super::wan::State;
use crate::config::MAX_NAME_LEN;

/// Entries kept for `wanfailover history`.
pub const CAPACITY: usize = 64;

/// A WAN name without allocation (config names are at most [`MAX_NAME_LEN`] bytes; a longer
/// one is cut at a character boundary).
pub type Name = HString<MAX_NAME_LEN>;

pub fn name(s: &str) -> Name {
    let mut n = Name::new();
    for c in s.chars() {
        if n.push(c).is_err() {
            break;
        }
    }
    n
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The WAN's state changed.
    Transition { from: State, to: State },
    /// The active WAN changed (empty name: none).
    Switch { from: Name, to: Name },
    /// Whether any WAN is usable changed; `connected` is the new value.
    Connectivity { connected: bool },
    /// Conntrack entries of flows NATed to WANs that stopped carrying them were deleted
    /// (`from`: those WANs' names, comma-separated).
    Flush { from: Name, deleted: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub at: Instant,
    pub wan: Name,
    /// The family the event is about (see `Action::Hook`), `None` for the WAN as a whole.
    pub family: Option<Family>,
    pub event: Event,
    pub cause: &'static str,
}

#[derive(Debug, Default)]
pub struct History {
    ring: Deque<Record, CAPACITY>,
}

impl History {
    pub fn push(&mut self, record: Record) {
        if self.ring.is_full() {
            self.ring.pop_front();
        }
        // cannot fail: a slot was just freed
        let _ = self.ring.push_back(record);
    }

    pub fn len(&self) -> usize {
        self.ring.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Oldest first, in the report format.
    pub fn entries(&self) -> Vec<HistoryEntry> {
        self.ring.iter().map(to_entry).collect()
    }
}

fn to_entry(r: &Record) -> HistoryEntry {
    if let Event::Flush { from, deleted } = &r.event {
        return HistoryEntry {
            at_us: r.at.micros,
            kind: "flush".into(),
            wan: r.wan.as_str().into(),
            family: String::new(),
            from: from.as_str().into(),
            to: String::new(),
            cause: format!("{deleted} conntrack entries deleted"),
        };
    }
    let (kind, from, to) = match &r.event {
        Event::Transition { from, to } => ("transition", from.as_str(), to.as_str()),
        Event::Switch { from, to } => ("switch", from.as_str(), to.as_str()),
        Event::Flush { .. } => ("flush", "", ""), // above
        Event::Connectivity { connected } => (
            "connectivity",
            connectivity(!connected),
            connectivity(*connected),
        ),
    };
    HistoryEntry {
        at_us: r.at.micros,
        kind: kind.into(),
        wan: r.wan.as_str().into(),
        family: r.family.map_or("", Family::as_str).into(),
        from: from.into(),
        to: to.into(),
        cause: r.cause.into(),
    }
}

/// `WAN_CONNECTIVITY` and the history's words: `full` when a WAN is usable, else `none`.
pub fn connectivity(connected: bool) -> &'static str {
    if connected {
        "full"
    } else {
        "none"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(at: u64) -> Record {
        Record {
            at: Instant::from_micros(at),
            wan: name("fiber"),
            family: None,
            event: Event::Transition {
                from: State::Init,
                to: State::Up,
            },
            cause: "round passed",
        }
    }

    #[test]
    fn overflow_drops_oldest() {
        let mut h = History::default();
        for i in 0..(CAPACITY as u64 + 5) {
            h.push(rec(i));
        }
        let e = h.entries();
        assert_eq!(e.len(), CAPACITY);
        assert_eq!(e[0].at_us, 5);
        assert_eq!(e[CAPACITY - 1].at_us, CAPACITY as u64 + 4);
        assert_eq!(
            (e[0].kind.as_str(), e[0].from.as_str(), e[0].to.as_str()),
            ("transition", "init", "up")
        );
    }

    #[test]
    fn long_names_are_cut_not_refused() {
        let long = "x".repeat(MAX_NAME_LEN + 10);
        assert_eq!(name(&long).len(), MAX_NAME_LEN);
    }
}

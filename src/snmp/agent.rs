//! The agent's decisions: which answer a command gets, and when the daemon is asked again.
//! Pure: the clock and the daemon come in as arguments.
//!
//! # One status request per walk
//!
//! snmpd asks for one instance at a time, so a walk of a 4-WAN tree is about 60 `getnext`s.
//! Asking the daemon for each would cost 60 control connections, and the rows could change
//! half-way through a walk (a table whose state column disagrees with its active column).
//! So a status answer is kept for [`CACHE_TTL`] and every command in that time is answered
//! from the same tree: a walk is one request and one consistent snapshot, and a manager
//! polling every few seconds still sees fresh values. A failed request is kept just as
//! long, so a daemon that does not answer costs one timeout per second, not one per
//! instance.
//!
//! Each refresh opens a new connection rather than keeping one: the daemon closes a
//! connection idle for 2 s anyway (`docs/control-protocol.md`), and a new one per second
//! is nothing next to the daemon's probe traffic.

use std::time::{Duration, Instant};

use super::mib::{Snapshot, Tree};
use super::oid::Oid;
use super::pass_persist::{Answer, Command};

/// How long one status answer serves.
pub const CACHE_TTL: Duration = Duration::from_secs(1);

/// The last status answer (or failure) and when it came.
#[derive(Debug)]
pub struct Agent {
    base: Oid,
    ttl: Duration,
    cached: Option<(Instant, Option<Tree>)>,
}

impl Agent {
    pub fn new(base: Oid) -> Agent {
        Agent {
            base,
            ttl: CACHE_TTL,
            cached: None,
        }
    }

    pub fn base(&self) -> &Oid {
        &self.base
    }

    /// The answer to `command` at `now`. `fetch` asks the daemon (`None`: no answer) and
    /// is called only when a value is needed and the cached one is older than the TTL.
    /// `Quit` has no answer.
    pub fn answer(
        &mut self,
        now: Instant,
        command: &Command,
        fetch: impl FnOnce() -> Option<Snapshot>,
    ) -> Option<Answer> {
        let answer = match command {
            Command::Ping => Answer::Pong,
            Command::Set => Answer::NotWritable,
            Command::Quit => return None,
            Command::Get(None) | Command::GetNext(None) => Answer::None,
            Command::Get(Some(oid)) => match self.tree(now, fetch).and_then(|t| t.get(oid)) {
                Some(value) => Answer::Value(oid.clone(), value.clone()),
                None => Answer::None,
            },
            Command::GetNext(Some(oid)) => match self.tree(now, fetch).and_then(|t| t.next(oid)) {
                Some((next, value)) => Answer::Value(next.clone(), value.clone()),
                None => Answer::None,
            },
        };
        Some(answer)
    }

    fn tree(&mut self, now: Instant, fetch: impl FnOnce() -> Option<Snapshot>) -> Option<&Tree> {
        let fresh =
            matches!(&self.cached, Some((at, _)) if now.saturating_duration_since(*at) < self.ttl);
        if !fresh {
            let tree = fetch().map(|snap| Tree::build(&self.base, &snap));
            self.cached = Some((now, tree));
        }
        self.cached.as_ref().and_then(|(_, t)| t.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::mib::{test_row, DEFAULT_BASE};
    use crate::snmp::pass_persist::Value;

    fn oid(s: &str) -> Oid {
        Oid::parse(s).unwrap()
    }

    fn snap(name: &str) -> Snapshot {
        Snapshot {
            wans: vec![test_row(name, "up", true)],
            ..Snapshot::default()
        }
    }

    fn active_name() -> Command {
        Command::Get(Some(oid(&format!("{DEFAULT_BASE}.1.1.1.0"))))
    }

    fn name_of(answer: Option<Answer>) -> Option<String> {
        match answer? {
            Answer::Value(_, Value::String(s)) => Some(s),
            _ => None,
        }
    }

    #[test]
    fn commands_that_need_no_daemon() {
        let mut agent = Agent::new(oid(DEFAULT_BASE));
        let t0 = Instant::now();
        let never = || -> Option<Snapshot> { panic!("the daemon was asked") };
        assert_eq!(agent.answer(t0, &Command::Ping, never), Some(Answer::Pong));
        assert_eq!(
            agent.answer(t0, &Command::Set, never),
            Some(Answer::NotWritable)
        );
        assert_eq!(agent.answer(t0, &Command::Quit, never), None);
        assert_eq!(
            agent.answer(t0, &Command::GetNext(None), never),
            Some(Answer::None)
        );
    }

    #[test]
    fn one_daemon_request_per_ttl() {
        let mut agent = Agent::new(oid(DEFAULT_BASE));
        let t0 = Instant::now();
        let mut asked = 0;
        let mut ask = |at: Duration, name: &str| {
            let a = agent.answer(t0 + at, &active_name(), || {
                asked += 1;
                Some(snap(name))
            });
            name_of(a)
        };
        assert_eq!(ask(Duration::ZERO, "a").as_deref(), Some("a"));
        assert_eq!(ask(Duration::from_millis(999), "b").as_deref(), Some("a"));
        assert_eq!(ask(CACHE_TTL, "c").as_deref(), Some("c"));
        assert_eq!(asked, 2);
    }

    #[test]
    fn a_silent_daemon_is_none_and_asked_again_after_the_ttl() {
        let mut agent = Agent::new(oid(DEFAULT_BASE));
        let t0 = Instant::now();
        let walk_start = Command::GetNext(Some(oid(DEFAULT_BASE)));
        assert_eq!(agent.answer(t0, &walk_start, || None), Some(Answer::None));
        let cached = agent.answer(t0 + Duration::from_millis(500), &walk_start, || {
            panic!("a failure is cached too")
        });
        assert_eq!(cached, Some(Answer::None));
        let back = agent.answer(t0 + CACHE_TTL, &active_name(), || Some(snap("lte")));
        assert_eq!(name_of(back).as_deref(), Some("lte"));
    }

    #[test]
    fn getnext_past_the_end_is_none() {
        let mut agent = Agent::new(oid(DEFAULT_BASE));
        let t0 = Instant::now();
        let last = Command::GetNext(Some(oid(&format!("{DEFAULT_BASE}.9"))));
        assert_eq!(
            agent.answer(t0, &last, || Some(snap("x"))),
            Some(Answer::None)
        );
    }
}
